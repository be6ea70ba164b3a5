// The hub's whole configuration, read once from the environment at start-up.

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
  /** Fallback poll of the event table when no notification arrives, in ms. Env MUSTER_EVENT_POLL_MS, default 1000. */
  eventPollMs: number;
  /** A cluster whose agent is silent this long turns NotReady (Lost), in ms. Env MUSTER_WORKER_LOST_TIMEOUT_MS, default 60000. */
  workerLostTimeoutMs: number;
  /** Told to agents: delete `requeue` gangs after this long without the hub, in ms; must be below workerLostTimeoutMs. Env MUSTER_SELF_FENCE_TIMEOUT_MS, default 40000. */
  selfFenceTimeoutMs: number;
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
  /** How often the reconciler rebuilds queue work from Postgres and resends gang lists, in ms. Env MUSTER_RECONCILE_INTERVAL_MS, default 10000. */
  reconcileIntervalMs: number;
  /** "debug", "info", "warn" or "error". Env MUSTER_LOG_LEVEL, default "info". */
  logLevel: LogLevel;
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

export function loadHubConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const logLevel = (env.MUSTER_LOG_LEVEL ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError(
      `MUSTER_LOG_LEVEL: must be debug, info, warn or error (got "${logLevel}")`,
    );
  }
  const workerLostTimeoutMs = intFrom(env, 'MUSTER_WORKER_LOST_TIMEOUT_MS', 60_000, 100);
  const selfFenceTimeoutMs = intFrom(env, 'MUSTER_SELF_FENCE_TIMEOUT_MS', 40_000, 50);
  if (selfFenceTimeoutMs >= workerLostTimeoutMs) {
    throw new ConfigError(
      `MUSTER_SELF_FENCE_TIMEOUT_MS (${selfFenceTimeoutMs}) must be below MUSTER_WORKER_LOST_TIMEOUT_MS (${workerLostTimeoutMs}), or a lost cluster's gangs could run twice`,
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
    maxPodSetsPerGang: intFrom(env, 'MUSTER_MAX_POD_SETS', 16, 1),
    maxRequestBytes: intFrom(env, 'MUSTER_MAX_REQUEST_BYTES', 4 * 1024 * 1024, 1024),
    eventRetentionHours: intFrom(env, 'MUSTER_EVENT_RETENTION_HOURS', 168, 1),
    pruneIntervalMs: intFrom(env, 'MUSTER_PRUNE_INTERVAL_MS', 3_600_000, 1000),
    eventPollMs: intFrom(env, 'MUSTER_EVENT_POLL_MS', 1000, 50),
    workerLostTimeoutMs,
    selfFenceTimeoutMs,
    heartbeatIntervalMs: intFrom(env, 'MUSTER_HEARTBEAT_INTERVAL_MS', 2000, 100),
    maxGangsPerCycle: intFrom(env, 'MUSTER_MAX_GANGS_PER_CYCLE', 2000, 1),
    cyclePeriodMs: intFrom(env, 'MUSTER_CYCLE_PERIOD_MS', 2000, 50),
    cycleCoalesceMs: intFrom(env, 'MUSTER_CYCLE_COALESCE_MS', 20, 0),
    placementPolicy,
    maxRequeueBackoffSeconds: intFrom(env, 'MUSTER_MAX_REQUEUE_BACKOFF_S', 60, 0),
    reconcileIntervalMs: intFrom(env, 'MUSTER_RECONCILE_INTERVAL_MS', 10_000, 100),
    logLevel,
  };
}
