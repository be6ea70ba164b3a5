// Which gangs must go: those the hub's authoritative list does not name (or names with another
// fencing token), and — once the agent's lease has run out — those whose job asked to be requeued
// rather than wait. Pure decisions, with the clock passed in; the agent performs the deletions.
//
// The lease: the agent may keep `requeue` gangs running, and may create or ungate pods at all,
// only while it has heard from the hub within the self-fence timeout. "Heard" means any message
// on the stream (the hub sends a HubHeartbeat every heartbeat interval), measured on the
// monotonic clock when it arrives. A stream that merely looks up proves nothing: a SIGSTOPped or
// blackholed hub keeps its socket open for as long as TCP keepalive allows.
import type { GangRef, HelloAck } from '@muster/api';

export interface HeldGang {
  gangId: string;
  token: number;
}

/** Held gangs as the wire's GangRefs. */
export function gangRefsOf(held: readonly HeldGang[]): GangRef[] {
  return held.map((g) => ({ gangId: g.gangId, fencingToken: g.token }));
}

/** Held gangs (gang, token) that an authoritative list removes. */
export function fencedByList(held: readonly HeldGang[], list: readonly GangRef[]): HeldGang[] {
  const listed = new Map<string, number>();
  for (const g of list) listed.set(g.gangId, g.fencingToken);
  return held.filter((g) => listed.get(g.gangId) !== g.token);
}

/** Applies lists in generation order: a list older than the last applied one is ignored. */
export class GenerationGate {
  private last = -1;

  /** True when the list of this generation must be applied (equal generations re-apply). */
  accept(generation: number): boolean {
    if (generation < this.last) return false;
    this.last = generation;
    return true;
  }

  get lastApplied(): number {
    return this.last;
  }
}

/** What the hub said about fencing (its HelloAck), or what a gang's pods recorded of it. */
export interface FenceTerms {
  /** Length of the lease, in ms: silence from the hub past this fences `requeue` gangs. */
  selfFenceTimeoutMs: number;
  /** Most grace, in seconds, a pod deleted for fencing gets; undefined: the pod's own. */
  deleteGraceSeconds?: number;
}

/** The terms a HelloAck states, or undefined when it states none (a timeout of 0). */
export function termsOfHelloAck(
  ack: Pick<HelloAck, 'selfFenceTimeoutMs' | 'fenceDeleteGraceSeconds'>,
): FenceTerms | undefined {
  if (!(ack.selfFenceTimeoutMs > 0)) return undefined;
  const terms: FenceTerms = { selfFenceTimeoutMs: ack.selfFenceTimeoutMs };
  if (ack.fenceDeleteGraceSeconds > 0) terms.deleteGraceSeconds = ack.fenceDeleteGraceSeconds;
  return terms;
}

/**
 * The terms that govern one gang. The hub's word in this process wins: the hub checked it against
 * its worker-lost timeout, and it may have changed since the pods were made. An agent that has not
 * heard a HelloAck since it started (restarted while the hub is unreachable) uses what the gang's
 * pods recorded when they were created; pods made by an older agent recorded nothing, and for
 * them only the agent's configured fallback is left. Undefined: the gang is never self-fenced.
 */
export function fenceTermsFor(
  told: FenceTerms | undefined,
  recorded: Partial<FenceTerms>,
  fallbackTimeoutMs: number | undefined,
): FenceTerms | undefined {
  if (told) return told;
  if (recorded.selfFenceTimeoutMs !== undefined && recorded.selfFenceTimeoutMs > 0) {
    const terms: FenceTerms = { selfFenceTimeoutMs: recorded.selfFenceTimeoutMs };
    if (recorded.deleteGraceSeconds !== undefined)
      terms.deleteGraceSeconds = recorded.deleteGraceSeconds;
    return terms;
  }
  return fallbackTimeoutMs !== undefined && fallbackTimeoutMs > 0
    ? { selfFenceTimeoutMs: fallbackTimeoutMs }
    : undefined;
}

/** When the hub was last heard from, on the monotonic clock (ms, e.g. performance.now()). */
export class HubLease {
  constructor(private heardAt: number) {}

  /** A message from the hub arrived at `now`; returns how long the hub had been silent. */
  heard(now: number): number {
    const silent = now - this.heardAt;
    this.heardAt = Math.max(this.heardAt, now);
    return silent;
  }

  get lastHeardAt(): number {
    return this.heardAt;
  }

  silentFor(now: number): number {
    return now - this.heardAt;
  }
}

/**
 * True once the hub has been silent for longer than the timeout, whether or not the stream looks
 * up. No timeout (the hub never said one and nothing recorded it): never.
 */
export function selfFenceDue(
  lastHeardAt: number,
  timeoutMs: number | undefined,
  now: number,
): boolean {
  return timeoutMs !== undefined && timeoutMs > 0 && now - lastHeardAt > timeoutMs;
}

/**
 * gracePeriodSeconds of a delete made for fencing: the smaller of the pod's own grace (undefined
 * when the pod was never seen) and the one the hub told; undefined leaves the pod's own.
 */
export function fenceDeleteGrace(
  podGraceSeconds: number | undefined,
  toldSeconds: number | undefined,
): number | undefined {
  if (toldSeconds === undefined) return undefined;
  return podGraceSeconds === undefined ? toldSeconds : Math.min(podGraceSeconds, toldSeconds);
}
