// People signed in with an OIDC provider: the ID/access token (a JWT) is verified against the
// issuer's keys, then its claims give the Muster role and queues:
//   1. a role claim (default "muster_role": admin | submitter | viewer) with a queues claim
//      (default "muster_queues": a list, or one string of names separated by spaces or commas);
//   2. otherwise the groups claim (default "groups") mapped by MUSTER_OIDC_GROUP_ROLES, a JSON
//      object such as {"ml-admins": "admin", "vision": {"role": "submitter", "queues": ["vision"]}}.
//      Several matching groups: the strongest role wins (admin, then submitter, then viewer) and
//      the queues of the matching groups of that role are joined.
import { dns1123LabelError } from '@muster/k8s';
import { ConfigError } from '../config/hub-config';
import { verifyJwt, type KeySource } from './jwt';
import { isRole, type Principal, type Role } from './principal';

export interface GroupRole {
  role: Role;
  /** null: every queue (admins; viewers without a list). */
  queues: string[] | null;
}

export interface OidcSettings {
  issuer: string;
  audience: string;
  roleClaim: string;
  queuesClaim: string;
  nameClaim: string;
  groupsClaim: string;
  groupRoles: Record<string, GroupRole>;
  clockSkewSeconds: number;
}

/** The token was fine but gives no Muster role. */
export class NoRoleError extends Error {}

const RANK: Record<Role, number> = { admin: 3, submitter: 2, viewer: 1 };

function queueList(value: unknown): string[] {
  const raw =
    typeof value === 'string'
      ? value.split(/[\s,]+/)
      : Array.isArray(value)
        ? value.filter((v): v is string => typeof v === 'string')
        : [];
  return raw.filter((q) => dns1123LabelError(q) === undefined);
}

/** Parses MUSTER_OIDC_GROUP_ROLES; throws ConfigError. */
export function parseGroupRoles(raw: string | undefined): Record<string, GroupRole> {
  if (raw === undefined || raw.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new ConfigError('MUSTER_OIDC_GROUP_ROLES: must be a JSON object of group → role');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new ConfigError('MUSTER_OIDC_GROUP_ROLES: must be a JSON object of group → role');
  const out: Record<string, GroupRole> = {};
  for (const [group, value] of Object.entries(doc as Record<string, unknown>)) {
    const at = `MUSTER_OIDC_GROUP_ROLES["${group}"]`;
    const role = typeof value === 'string' ? value : (value as { role?: unknown } | null)?.role;
    if (!isRole(role)) throw new ConfigError(`${at}: role must be admin, submitter or viewer`);
    const rawQueues =
      typeof value === 'object' ? (value as { queues?: unknown }).queues : undefined;
    if (rawQueues !== undefined && !Array.isArray(rawQueues))
      throw new ConfigError(`${at}: queues must be a list of queue names`);
    const queues = rawQueues === undefined ? null : queueList(rawQueues);
    if (role === 'submitter' && (queues === null || queues.length === 0))
      throw new ConfigError(`${at}: a submitter group needs queues`);
    out[group] = { role, queues: role === 'admin' ? null : queues };
  }
  return out;
}

/** Role and queues from verified claims; throws NoRoleError. */
export function principalFromClaims(
  claims: Record<string, unknown>,
  s: Pick<
    OidcSettings,
    'roleClaim' | 'queuesClaim' | 'nameClaim' | 'groupsClaim' | 'groupRoles' | 'issuer'
  >,
): Principal {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') throw new NoRoleError('the token has no subject');
  const nameValue = claims[s.nameClaim];
  const name = (typeof nameValue === 'string' && nameValue !== '' ? nameValue : sub).slice(0, 128);
  const id = `oidc:${s.issuer}#${sub}`;
  const roleValue = claims[s.roleClaim];
  if (roleValue !== undefined) {
    if (!isRole(roleValue)) throw new NoRoleError(`claim "${s.roleClaim}" is not a Muster role`);
    const listed = queueList(claims[s.queuesClaim]);
    if (roleValue === 'admin') return { id, name, role: 'admin', queues: null, via: 'oidc' };
    if (roleValue === 'submitter' && listed.length === 0)
      throw new NoRoleError(`a submitter needs queues in claim "${s.queuesClaim}"`);
    const queues =
      roleValue === 'viewer' && claims[s.queuesClaim] === undefined ? null : new Set(listed);
    return { id, name, role: roleValue, queues, via: 'oidc' };
  }
  const groups = claims[s.groupsClaim];
  const matched = (Array.isArray(groups) ? groups : [])
    .filter((g): g is string => typeof g === 'string')
    .map((g) => s.groupRoles[g])
    .filter((g): g is GroupRole => g !== undefined);
  if (matched.length === 0) throw new NoRoleError('the token gives no Muster role');
  const best = matched.reduce((a, b) => (RANK[b.role] > RANK[a.role] ? b : a)).role;
  const same = matched.filter((g) => g.role === best);
  const queues =
    best === 'admin' || same.some((g) => g.queues === null)
      ? null
      : new Set(same.flatMap((g) => g.queues ?? []));
  return { id, name, role: best, queues, via: 'oidc' };
}

export class OidcVerifier {
  constructor(
    private readonly settings: OidcSettings,
    private readonly keys: KeySource,
  ) {}

  /** Verifies the token and maps its claims; throws JwtError or NoRoleError. */
  async verify(token: string, nowSeconds?: number): Promise<Principal> {
    const claims = await verifyJwt(token, this.keys, {
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      clockSkewSeconds: this.settings.clockSkewSeconds,
      nowSeconds,
    });
    return principalFromClaims(claims, this.settings);
  }
}
