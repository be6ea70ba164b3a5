// The hub's whole configuration, read once from the environment at start-up.
import {
  podPolicyOf,
  readAccessProviderFile,
  type AccessProviderFile,
  type PodPolicy,
} from '@muster/k8s';

export interface HubConfig {
  /** gRPC listen address. Env MUSTER_GRPC_ADDR, default "127.0.0.1:50051". */
  grpcAddress: string;
  /** HTTP port for /healthz, /readyz and /metrics. Env MUSTER_HTTP_PORT, default 8080. */
  httpPort: number;
  /** HTTP listen host. Env MUSTER_HTTP_HOST, default "127.0.0.1". */
  httpHost: string;
  /** Postgres connection URL. Env MUSTER_DATABASE_URL, default "postgres://postgres@127.0.0.1:5432/muster". */
  databaseUrl: string;
  /** Apply pending migrations at start-up (under an advisory lock). Env MUSTER_MIGRATE, default true. */
  migrate: boolean;
  /** Redis URL for BullMQ and event notifications. Env MUSTER_REDIS_URL, default "redis://127.0.0.1:6379". */
  redisUrl: string;
  /** Prefix of every Redis key and channel, so several hubs can share one Redis. Env MUSTER_REDIS_PREFIX, default "muster". */
  redisPrefix: string;
  /** Largest member count of one gang (sum over pod sets). Env MUSTER_MAX_MEMBERS_PER_GANG, default 4096. */
  maxMembersPerGang: number;
  /** Most pod sets in one gang. Env MUSTER_MAX_POD_SETS, default 16. */
  maxPodSetsPerGang: number;
  /** Largest gRPC message the hub accepts, in bytes. Env MUSTER_MAX_REQUEST_BYTES, default 4 MiB. */
  maxRequestBytes: number;
  /** How long events of finished jobs are kept, in hours. Env MUSTER_EVENT_RETENTION_HOURS, default 168 (7 days). */
  eventRetentionHours: number;
  /** How often the event pruning job runs, in milliseconds. Env MUSTER_PRUNE_INTERVAL_MS, default 3600000 (1 h). */
  pruneIntervalMs: number;
  /** Live events held for one watch stream; a watcher that falls further behind is ended with RESOURCE_EXHAUSTED (it resumes with after_sequence). Env MUSTER_WATCH_BUFFER_EVENTS, default 10000. */
  watchBufferEvents: number;
  /** Fallback poll of the event table when no notification arrives, in ms. Env MUSTER_EVENT_POLL_MS, default 1000. */
  eventPollMs: number;
  /** A cluster whose agent is silent this long turns NotReady (Lost), in ms. Env MUSTER_WORKER_LOST_TIMEOUT_MS, default 60000. */
  workerLostTimeoutMs: number;
  /** Told to agents: delete `requeue` gangs after this long without any message from the hub, in ms; selfFence + fence delete grace + 2 heartbeat intervals must be below workerLostTimeoutMs. Env MUSTER_SELF_FENCE_TIMEOUT_MS, default 40000. */
  selfFenceTimeoutMs: number;
  /** Told to agents: the most grace a pod deleted for fencing gets (the smaller of this and its own terminationGracePeriodSeconds), in seconds. Env MUSTER_FENCE_DELETE_GRACE_S, default 10 (at least 1: 0 would be a force delete that leaves containers running unseen). */
  fenceDeleteGraceSeconds: number;
  /** Told to agents: heartbeat interval, in ms. Env MUSTER_HEARTBEAT_INTERVAL_MS, default 2000. */
  heartbeatIntervalMs: number;
  /** Most queued gangs one scheduling cycle considers. Env MUSTER_MAX_GANGS_PER_CYCLE, default 2000. */
  maxGangsPerCycle: number;
  /** A cycle runs at least this often on the leader, in ms. Env MUSTER_CYCLE_PERIOD_MS, default 2000. */
  cyclePeriodMs: number;
  /** Wake-ups within this window make one cycle, in ms. Env MUSTER_CYCLE_COALESCE_MS, default 20. */
  cycleCoalesceMs: number;
  /** "pack" (keep large domains whole) or "spread". Env MUSTER_PLACEMENT_POLICY, default "pack". */
  placementPolicy: 'pack' | 'spread';
  /** Longest requeue backoff after a rejected dispatch, in seconds. Env MUSTER_MAX_REQUEUE_BACKOFF_S, default 60. */
  maxRequeueBackoffSeconds: number;
  /** A gang rejected by its clusters this many times fails (reason TooManyAttempts) instead of looping; 0 means never. Env MUSTER_MAX_DISPATCH_ATTEMPTS, default 50. */
  maxDispatchAttempts: number;
  /** After a worker could not run a gang (e.g. its scheduler left members unbound), the gang avoids that cluster this long, in seconds. Env MUSTER_CLUSTER_EXCLUSION_S, default 900. */
  clusterExclusionSeconds: number;
  /** How often the reconciler rebuilds queue work from Postgres and resends gang lists, in ms. Env MUSTER_RECONCILE_INTERVAL_MS, default 10000. */
  reconcileIntervalMs: number;
  /** Access provider file (the Cluster Inventory API's provider file: exec credential plugins by provider name) through which the hub reaches worker API servers with each cluster's registered access providers, to confirm a lost cluster's gangs gone; unset means only agents and operators (muster clusters fence) can confirm. Env MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE, default unset. */
  clusterAccessProviders: AccessProviderFile | undefined;
  /** Kubeconfig file of the management cluster that holds the ClusterProfiles; unset disables ClusterProfile sync. Env MUSTER_INVENTORY_KUBECONFIG, default unset. */
  inventoryKubeconfig: string | undefined;
  /** Namespace Muster writes its ClusterProfiles to (created if missing). Env MUSTER_INVENTORY_NAMESPACE, default "muster-inventory". */
  inventoryNamespace: string;
  /** Namespaces whose ClusterProfiles of other cluster managers are imported as read-only clusters. Env MUSTER_INVENTORY_IMPORT_NAMESPACES (comma list), default none. */
  inventoryImportNamespaces: string[];
  /** How often Postgres is compared with the ClusterProfiles, in ms; bounds how late a status change shows. Env MUSTER_INVENTORY_POLL_MS, default 1000. */
  inventoryPollMs: number;
  /** Full forced resync of every ClusterProfile (once across replicas), in ms. Env MUSTER_INVENTORY_RESYNC_MS, default 60000. */
  inventoryResyncMs: number;
  /** A change of capacity properties alone is written at most this often per cluster, in ms (health, version and access go at once). Env MUSTER_INVENTORY_CAPACITY_INTERVAL_MS, default 10000. */
  inventoryCapacityIntervalMs: number;
  /** "debug", "info", "warn" or "error". Env MUSTER_LOG_LEVEL, default "info". */
  logLevel: LogLevel;

  // --- Security (see apps/hub/README.md "Authentication and limits") ---
  /** Development mode: plain text and no authentication are allowed when not configured (a configured check is never weakened); logs a warning. Env MUSTER_DEV_INSECURE, default false. */
  devInsecure: boolean;
  /** PEM certificate (chain) the hub serves. Env MUSTER_TLS_CERT_FILE; required unless MUSTER_DEV_INSECURE. */
  tlsCertFile: string | undefined;
  /** PEM private key of that certificate. Env MUSTER_TLS_KEY_FILE. */
  tlsKeyFile: string | undefined;
  /** PEM CA(s) that sign agent client certificates. Env MUSTER_TLS_CLIENT_CA_FILE; required unless MUSTER_DEV_INSECURE. */
  tlsClientCaFile: string | undefined;
  /** YAML file of static bearer tokens. Env MUSTER_AUTH_TOKENS_FILE, default unset. */
  authTokensFile: string | undefined;
  /** OIDC bearer tokens (JWTs); unset when MUSTER_OIDC_ISSUER is unset. */
  oidc: OidcConfig | undefined;
  /** Open WatchJob/WatchJobs streams per caller. Env MUSTER_MAX_WATCHERS_PER_CALLER, default 16 (0: no limit). */
  maxWatchersPerCaller: number;
  /** Sustained SubmitJob calls per second per caller. Env MUSTER_SUBMITS_PER_SECOND, default 50 (0: no limit). */
  submitsPerSecond: number;
  /** SubmitJob calls a caller may make at once before the rate applies. Env MUSTER_SUBMIT_BURST, default 100. */
  submitBurst: number;
  /** Sustained messages per second on one agent stream. Env MUSTER_AGENT_MESSAGES_PER_SECOND, default 200 (0: no limit). */
  agentMessagesPerSecond: number;
  /** Messages an agent stream may send at once before the rate applies. Env MUSTER_AGENT_MESSAGE_BURST, default 2000. */
  agentMessageBurst: number;
  /** Pod template policy. Env MUSTER_POD_POLICY_DISABLE (comma list of rules to turn off, default none) and MUSTER_POD_POLICY_ALLOWED_CAPABILITIES (comma list, default the Pod Security "baseline" list). */
  podPolicy: PodPolicy;
  /** Labels plus annotations of one pod template, in bytes. Env MUSTER_MAX_TEMPLATE_METADATA_BYTES, default 65536. */
  maxTemplateMetadataBytes: number;
}

export interface OidcConfig {
  /** Env MUSTER_OIDC_ISSUER: the exact "iss" of accepted tokens. */
  issuer: string;
  /** Env MUSTER_OIDC_AUDIENCE (required with an issuer): must be in "aud". */
  audience: string;
  /** Env MUSTER_OIDC_JWKS_FILE: the issuer's keys from a file. */
  jwksFile: string | undefined;
  /** Env MUSTER_OIDC_JWKS_URL: the issuer's keys from a URL; neither: issuer discovery. */
  jwksUrl: string | undefined;
  /** Env MUSTER_OIDC_ROLE_CLAIM, default "muster_role". */
  roleClaim: string;
  /** Env MUSTER_OIDC_QUEUES_CLAIM, default "muster_queues". */
  queuesClaim: string;
  /** Env MUSTER_OIDC_NAME_CLAIM (shown in logs), default "preferred_username" (else "sub"). */
  nameClaim: string;
  /** Env MUSTER_OIDC_GROUPS_CLAIM, default "groups". */
  groupsClaim: string;
  /** Env MUSTER_OIDC_GROUP_ROLES: JSON object group → role (or {role, queues}); default none. */
  groupRoles: string | undefined;
  /** Env MUSTER_OIDC_CLOCK_SKEW_S, default 60. */
  clockSkewSeconds: number;
  /** Env MUSTER_OIDC_JWKS_REFRESH_S: refetch of URL keys, default 300. */
  jwksRefreshSeconds: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const HUB_CONFIG = Symbol('HUB_CONFIG');

export class ConfigError extends Error {}

function intFrom(env: NodeJS.ProcessEnv, key: string, fallback: number, min = 0): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${key}: must be an integer of at least ${min} (got "${raw}")`);
  }
  return value;
}

function boolFrom(env: NodeJS.ProcessEnv, key: string, fallback: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${key}: must be true or false (got "${raw}")`);
}

function listFrom(env: NodeJS.ProcessEnv, key: string): string[] | undefined {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
}

function fileFrom(env: NodeJS.ProcessEnv, key: string): string | undefined {
  const raw = env[key];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function oidcFrom(env: NodeJS.ProcessEnv): OidcConfig | undefined {
  const issuer = env.MUSTER_OIDC_ISSUER?.trim();
  if (!issuer) {
    for (const key of ['MUSTER_OIDC_AUDIENCE', 'MUSTER_OIDC_JWKS_FILE', 'MUSTER_OIDC_JWKS_URL']) {
      if (env[key]) throw new ConfigError(`${key} is set but MUSTER_OIDC_ISSUER is not`);
    }
    return undefined;
  }
  const audience = env.MUSTER_OIDC_AUDIENCE?.trim();
  if (!audience) throw new ConfigError('MUSTER_OIDC_AUDIENCE: is required with MUSTER_OIDC_ISSUER');
  const jwksFile = fileFrom(env, 'MUSTER_OIDC_JWKS_FILE');
  const jwksUrl = fileFrom(env, 'MUSTER_OIDC_JWKS_URL');
  if (jwksFile && jwksUrl)
    throw new ConfigError('MUSTER_OIDC_JWKS_FILE and MUSTER_OIDC_JWKS_URL: set one, not both');
  // Only fetched URLs must be https (http only on loopback): the issuer itself when its
  // discovery document gives the keys, else the JWKS URL.
  const fetched: [string, string][] = jwksUrl
    ? [['MUSTER_OIDC_JWKS_URL', jwksUrl]]
    : jwksFile
      ? []
      : [['MUSTER_OIDC_ISSUER', issuer]];
  for (const [key, url] of fetched) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`${key}: must be a URL (got "${url.slice(0, 200)}")`);
    }
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && local))
      throw new ConfigError(`${key}: must be an https:// URL (http:// only on loopback)`);
  }
  return {
    issuer,
    audience,
    jwksFile,
    jwksUrl,
    roleClaim: env.MUSTER_OIDC_ROLE_CLAIM?.trim() || 'muster_role',
    queuesClaim: env.MUSTER_OIDC_QUEUES_CLAIM?.trim() || 'muster_queues',
    nameClaim: env.MUSTER_OIDC_NAME_CLAIM?.trim() || 'preferred_username',
    groupsClaim: env.MUSTER_OIDC_GROUPS_CLAIM?.trim() || 'groups',
    groupRoles: env.MUSTER_OIDC_GROUP_ROLES?.trim() || undefined,
    clockSkewSeconds: intFrom(env, 'MUSTER_OIDC_CLOCK_SKEW_S', 60, 0),
    jwksRefreshSeconds: intFrom(env, 'MUSTER_OIDC_JWKS_REFRESH_S', 300, 10),
  };
}

function podPolicyFrom(env: NodeJS.ProcessEnv): PodPolicy {
  try {
    return podPolicyOf(
      listFrom(env, 'MUSTER_POD_POLICY_DISABLE') ?? [],
      listFrom(env, 'MUSTER_POD_POLICY_ALLOWED_CAPABILITIES'),
    );
  } catch (err) {
    throw new ConfigError(`MUSTER_POD_POLICY_DISABLE: ${(err as Error).message}`);
  }
}

function namespacesFrom(env: NodeJS.ProcessEnv, key: string, fallback: string[]): string[] {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  const names = [
    ...new Set(
      raw
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    ),
  ];
  for (const n of names) {
    if (n.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n))
      throw new ConfigError(`${key}: "${n}" is not a namespace name (a DNS-1123 label)`);
  }
  return names;
}

function namespaceFrom(env: NodeJS.ProcessEnv, key: string, fallback: string): string {
  const names = namespacesFrom(env, key, [fallback]);
  if (names.length !== 1) throw new ConfigError(`${key}: must name one namespace`);
  return names[0] ?? fallback;
}

/** A provider file named by `name`, read and checked at start so a bad file stops the hub. */
function accessProvidersFrom(env: NodeJS.ProcessEnv, name: string): AccessProviderFile | undefined {
  const path = env[name];
  if (!path) return undefined;
  try {
    return readAccessProviderFile(path);
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`);
  }
}

export function loadHubConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const logLevel = (env.MUSTER_LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError(
      `MUSTER_LOG_LEVEL: must be debug, info, warn or error (got "${logLevel}")`,
    );
  }
  const workerLostTimeoutMs = intFrom(env, 'MUSTER_WORKER_LOST_TIMEOUT_MS', 60_000, 100);
  const selfFenceTimeoutMs = intFrom(env, 'MUSTER_SELF_FENCE_TIMEOUT_MS', 40_000, 50);
  const fenceDeleteGraceSeconds = intFrom(env, 'MUSTER_FENCE_DELETE_GRACE_S', 10, 1);
  const heartbeatIntervalMs = intFrom(env, 'MUSTER_HEARTBEAT_INTERVAL_MS', 2000, 100);
  // An agent cut off from the hub must have deleted its requeue gangs, grace included, before the
  // hub calls the cluster lost; the margin covers the up to one heartbeat by which the agent's
  // last word from the hub and the hub's last word from the agent differ, and then some.
  const fenced = selfFenceTimeoutMs + fenceDeleteGraceSeconds * 1000 + 2 * heartbeatIntervalMs;
  if (fenced >= workerLostTimeoutMs) {
    throw new ConfigError(
      `MUSTER_SELF_FENCE_TIMEOUT_MS (${selfFenceTimeoutMs}) + MUSTER_FENCE_DELETE_GRACE_S (${fenceDeleteGraceSeconds} s) + 2 × MUSTER_HEARTBEAT_INTERVAL_MS (${heartbeatIntervalMs}) = ${fenced} ms must be below MUSTER_WORKER_LOST_TIMEOUT_MS (${workerLostTimeoutMs}), or a lost cluster's gangs could still be running when the hub gives up on it`,
    );
  }
  const placementPolicy = (env.MUSTER_PLACEMENT_POLICY ?? 'pack') as 'pack' | 'spread';
  if (placementPolicy !== 'pack' && placementPolicy !== 'spread') {
    throw new ConfigError(
      `MUSTER_PLACEMENT_POLICY: must be pack or spread (got "${String(placementPolicy)}")`,
    );
  }
  return {
    grpcAddress: env.MUSTER_GRPC_ADDR ?? '127.0.0.1:50051',
    httpPort: intFrom(env, 'MUSTER_HTTP_PORT', 8080),
    httpHost: env.MUSTER_HTTP_HOST ?? '127.0.0.1',
    databaseUrl: env.MUSTER_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/muster',
    migrate: boolFrom(env, 'MUSTER_MIGRATE', true),
    redisUrl: env.MUSTER_REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisPrefix: env.MUSTER_REDIS_PREFIX ?? 'muster',
    maxMembersPerGang: intFrom(env, 'MUSTER_MAX_MEMBERS_PER_GANG', 4096, 1),
    watchBufferEvents: intFrom(env, 'MUSTER_WATCH_BUFFER_EVENTS', 10_000, 10),
    maxPodSetsPerGang: intFrom(env, 'MUSTER_MAX_POD_SETS', 16, 1),
    maxRequestBytes: intFrom(env, 'MUSTER_MAX_REQUEST_BYTES', 4 * 1024 * 1024, 1024),
    eventRetentionHours: intFrom(env, 'MUSTER_EVENT_RETENTION_HOURS', 168, 1),
    pruneIntervalMs: intFrom(env, 'MUSTER_PRUNE_INTERVAL_MS', 3_600_000, 1000),
    eventPollMs: intFrom(env, 'MUSTER_EVENT_POLL_MS', 1000, 50),
    workerLostTimeoutMs,
    selfFenceTimeoutMs,
    fenceDeleteGraceSeconds,
    heartbeatIntervalMs,
    maxGangsPerCycle: intFrom(env, 'MUSTER_MAX_GANGS_PER_CYCLE', 2000, 1),
    cyclePeriodMs: intFrom(env, 'MUSTER_CYCLE_PERIOD_MS', 2000, 50),
    cycleCoalesceMs: intFrom(env, 'MUSTER_CYCLE_COALESCE_MS', 20, 0),
    placementPolicy,
    maxRequeueBackoffSeconds: intFrom(env, 'MUSTER_MAX_REQUEUE_BACKOFF_S', 60, 0),
    clusterExclusionSeconds: intFrom(env, 'MUSTER_CLUSTER_EXCLUSION_S', 900, 0),
    maxDispatchAttempts: intFrom(env, 'MUSTER_MAX_DISPATCH_ATTEMPTS', 50, 0),
    reconcileIntervalMs: intFrom(env, 'MUSTER_RECONCILE_INTERVAL_MS', 10_000, 100),
    clusterAccessProviders: accessProvidersFrom(env, 'MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE'),
    inventoryKubeconfig: env.MUSTER_INVENTORY_KUBECONFIG || undefined,
    inventoryNamespace: namespaceFrom(env, 'MUSTER_INVENTORY_NAMESPACE', 'muster-inventory'),
    inventoryImportNamespaces: namespacesFrom(env, 'MUSTER_INVENTORY_IMPORT_NAMESPACES', []),
    inventoryPollMs: intFrom(env, 'MUSTER_INVENTORY_POLL_MS', 1000, 100),
    inventoryResyncMs: intFrom(env, 'MUSTER_INVENTORY_RESYNC_MS', 60_000, 1000),
    inventoryCapacityIntervalMs: intFrom(env, 'MUSTER_INVENTORY_CAPACITY_INTERVAL_MS', 10_000, 0),
    logLevel,
    devInsecure: boolFrom(env, 'MUSTER_DEV_INSECURE', false),
    tlsCertFile: fileFrom(env, 'MUSTER_TLS_CERT_FILE'),
    tlsKeyFile: fileFrom(env, 'MUSTER_TLS_KEY_FILE'),
    tlsClientCaFile: fileFrom(env, 'MUSTER_TLS_CLIENT_CA_FILE'),
    authTokensFile: fileFrom(env, 'MUSTER_AUTH_TOKENS_FILE'),
    oidc: oidcFrom(env),
    maxWatchersPerCaller: intFrom(env, 'MUSTER_MAX_WATCHERS_PER_CALLER', 16, 0),
    submitsPerSecond: intFrom(env, 'MUSTER_SUBMITS_PER_SECOND', 50, 0),
    submitBurst: intFrom(env, 'MUSTER_SUBMIT_BURST', 100, 1),
    agentMessagesPerSecond: intFrom(env, 'MUSTER_AGENT_MESSAGES_PER_SECOND', 200, 0),
    agentMessageBurst: intFrom(env, 'MUSTER_AGENT_MESSAGE_BURST', 2000, 1),
    podPolicy: podPolicyFrom(env),
    maxTemplateMetadataBytes: intFrom(env, 'MUSTER_MAX_TEMPLATE_METADATA_BYTES', 64 * 1024, 256),
  };
}
