// Who is calling and what they may do. Every people-facing RPC runs with a Principal; the rules
// of what each role may do live here so that the services ask one question per decision.

export const ROLES = ['admin', 'submitter', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** Stable key of the caller for limits, e.g. "token:alice" or "oidc:<issuer>#<sub>". */
  readonly id: string;
  /** Human name for logs (never a secret): the token's name or the OIDC name claim. */
  readonly name: string;
  readonly role: Role;
  /**
   * Queues the caller is bound to; null means every queue (admins, and viewers without a
   * queue list). A submitter always has a list.
   */
  readonly queues: ReadonlySet<string> | null;
  /** How the caller was authenticated. */
  readonly via: 'token' | 'oidc' | 'insecure';
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** May the caller see jobs (and the queue itself) of `queue`? */
export function canSeeQueue(p: Principal, queue: string): boolean {
  return p.queues === null || p.queues.has(queue);
}

/** May the caller submit to, or cancel jobs of, `queue`? Viewers never may. */
export function canWriteQueue(p: Principal, queue: string): boolean {
  if (p.role === 'admin') return true;
  return p.role === 'submitter' && canSeeQueue(p, queue);
}

/**
 * May the caller see fleet-wide figures, such as a cluster's utilisation? Only callers not bound
 * to queues: a cluster's figures include every queue's.
 */
export function canSeeFleet(p: Principal): boolean {
  return p.queues === null;
}

/** The caller's queues in a stable order, or null for every queue. */
export function queuesOf(p: Principal): string[] | null {
  return p.queues === null ? null : [...p.queues].sort();
}

/** The caller used when authentication is switched off (development mode only). */
export function insecureDevPrincipal(peer: string): Principal {
  return {
    id: `insecure:${peer}`,
    name: 'anonymous',
    role: 'admin',
    queues: null,
    via: 'insecure',
  };
}

/** A principal that may do anything; for the hub's own calls and for unit tests. */
export const SYSTEM_PRINCIPAL: Principal = {
  id: 'system',
  name: 'system',
  role: 'admin',
  queues: null,
  via: 'insecure',
};
