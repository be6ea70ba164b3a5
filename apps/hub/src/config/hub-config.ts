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
    throw new ConfigError(`MUSTER_LOG_LEVEL: must be debug, info, warn or error (got "${logLevel}")`);
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
    logLevel,
  };
}
