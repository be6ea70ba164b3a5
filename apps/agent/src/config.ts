// The agent's whole configuration, read once from the environment at start-up.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dns1123LabelError, qualifiedNameError } from '@muster/k8s';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * How the worker holds a gang together: `workload-api` (a PodGroup with a gang policy plus the
 * gates), `gates` (scheduling gates only), `auto` (workload-api when the worker serves podgroups
 * in scheduling.k8s.io/v1alpha2, else gates).
 */
export type GangSchedulingSetting = 'auto' | 'workload-api' | 'gates';

export const DEFAULT_TOPOLOGY_LEVELS: readonly string[] = [
  'topology.kubernetes.io/zone',
  'cloud.provider.com/topology-block',
  'cloud.provider.com/topology-rack',
  'kubernetes.io/hostname',
];

export interface AgentConfig {
  /** Hub gRPC address "host:port". Env MUSTER_HUB, default "127.0.0.1:50051" (plain text). */
  hubAddress: string;
  /** This worker cluster's name as registered at the hub (a DNS label). Env MUSTER_CLUSTER, required. */
  cluster: string;
  /**
   * Kubeconfig file(s) for the worker cluster's API server. Env KUBECONFIG (a path, or a
   * ":"-separated list); when unset the in-cluster service account is used.
   */
  kubeconfig: string | undefined;
  /**
   * Node label keys of the topology levels, highest first, hostname last; sent in Hello.
   * Env MUSTER_TOPOLOGY_LEVELS (comma list), default
   * "topology.kubernetes.io/zone,cloud.provider.com/topology-block,cloud.provider.com/topology-rack,kubernetes.io/hostname".
   */
  topologyLevels: string[];
  /** Least time between two capacity deltas / member-state batches, in ms. Env MUSTER_REPORT_INTERVAL_MS, default 500. */
  reportIntervalMs: number;
  /** Time between heartbeats, in ms (the hub's HelloAck may override it). Env MUSTER_HEARTBEAT_INTERVAL_MS, default 2000. */
  heartbeatIntervalMs: number;
  /**
   * How long every member of an ungated gang may stay unbound before the agent deletes the gang
   * and answers REJECTED "BindTimeout", in ms. Env MUSTER_BIND_TIMEOUT_MS, default 60000.
   */
  bindTimeoutMs: number;
  /**
   * Fallback only: the self-fence timeout, in ms, for gangs whose pods recorded none (made by an
   * agent older than this one) while no hub has told one since this agent started. What the hub
   * tells in HelloAck wins, then what a gang's pods recorded at creation. Env
   * MUSTER_SELF_FENCE_TIMEOUT_MS, default unset (such gangs are then not self-fenced).
   */
  selfFenceTimeoutMs: number | undefined;
  /** Most pod creates / patches / deletes in flight at once. Env MUSTER_CREATE_CONCURRENCY, default 32. */
  createConcurrency: number;
  /** First reconnect delay to the hub, in ms; doubles per failure. Env MUSTER_RECONNECT_INITIAL_MS, default 500. */
  reconnectInitialMs: number;
  /** Largest reconnect delay to the hub, in ms (jittered). Env MUSTER_RECONNECT_MAX_MS, default 30000. */
  reconnectMaxMs: number;
  /** "debug", "info", "warn" or "error". Env MUSTER_LOG_LEVEL, default "info". */
  logLevel: LogLevel;
  /** "auto", "workload-api" or "gates". Env MUSTER_GANG_SCHEDULING, default "auto". */
  gangScheduling: GangSchedulingSetting;
  /** The agent's version, from apps/agent/package.json (not configurable). */
  agentVersion: string;
}

export class ConfigError extends Error {}

function intFrom(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${key}: must be an integer of at least ${min} (got "${raw}")`);
  }
  return value;
}

function optionalIntFrom(env: NodeJS.ProcessEnv, key: string, min: number): number | undefined {
  const raw = env[key];
  return raw === undefined || raw.trim() === '' ? undefined : intFrom(env, key, 0, min);
}

function hubAddressFrom(env: NodeJS.ProcessEnv): string {
  const raw = (env.MUSTER_HUB ?? '').trim() || '127.0.0.1:50051';
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new ConfigError(`MUSTER_HUB: must be "host:port" (got "${raw}")`);
  }
  return raw;
}

function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'dev';
  } catch {
    return 'dev';
  }
}

/** Reads and checks the configuration; throws ConfigError naming the variable at fault. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const cluster = (env.MUSTER_CLUSTER ?? '').trim();
  if (cluster === '') throw new ConfigError('MUSTER_CLUSTER: is required (the cluster name)');
  const clusterError = dns1123LabelError(cluster);
  if (clusterError) throw new ConfigError(`MUSTER_CLUSTER: ${clusterError} (got "${cluster}")`);

  const kubeconfig = env.KUBECONFIG?.trim() || undefined;
  if (kubeconfig !== undefined) {
    const missing = kubeconfig.split(':').filter((p) => p !== '' && !existsSync(p));
    if (missing.length > 0) throw new ConfigError(`KUBECONFIG: no such file ${missing.join(', ')}`);
  } else if (!env.KUBERNETES_SERVICE_HOST) {
    throw new ConfigError(
      'KUBECONFIG: is required outside a cluster (no in-cluster service account)',
    );
  }

  const levelsRaw = env.MUSTER_TOPOLOGY_LEVELS;
  const topologyLevels =
    levelsRaw === undefined || levelsRaw.trim() === ''
      ? [...DEFAULT_TOPOLOGY_LEVELS]
      : levelsRaw.split(',').map((l) => l.trim());
  topologyLevels.forEach((level, i) => {
    const e = qualifiedNameError(level);
    if (e) throw new ConfigError(`MUSTER_TOPOLOGY_LEVELS[${i}]: "${level}" ${e}`);
  });
  if (new Set(topologyLevels).size !== topologyLevels.length) {
    throw new ConfigError('MUSTER_TOPOLOGY_LEVELS: lists a level twice');
  }

  const logLevel = (env.MUSTER_LOG_LEVEL?.trim() || 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError(
      `MUSTER_LOG_LEVEL: must be debug, info, warn or error (got "${logLevel}")`,
    );
  }

  const gangScheduling = (env.MUSTER_GANG_SCHEDULING?.trim() || 'auto') as GangSchedulingSetting;
  if (!['auto', 'workload-api', 'gates'].includes(gangScheduling)) {
    throw new ConfigError(
      `MUSTER_GANG_SCHEDULING: must be auto, workload-api or gates (got "${gangScheduling}")`,
    );
  }

  const reconnectInitialMs = intFrom(env, 'MUSTER_RECONNECT_INITIAL_MS', 500, 10);
  const reconnectMaxMs = intFrom(env, 'MUSTER_RECONNECT_MAX_MS', 30_000, 10);
  if (reconnectMaxMs < reconnectInitialMs) {
    throw new ConfigError('MUSTER_RECONNECT_MAX_MS: must not be below MUSTER_RECONNECT_INITIAL_MS');
  }

  return {
    hubAddress: hubAddressFrom(env),
    cluster,
    kubeconfig,
    topologyLevels,
    reportIntervalMs: intFrom(env, 'MUSTER_REPORT_INTERVAL_MS', 500, 10),
    heartbeatIntervalMs: intFrom(env, 'MUSTER_HEARTBEAT_INTERVAL_MS', 2000, 100),
    bindTimeoutMs: intFrom(env, 'MUSTER_BIND_TIMEOUT_MS', 60_000, 100),
    selfFenceTimeoutMs: optionalIntFrom(env, 'MUSTER_SELF_FENCE_TIMEOUT_MS', 100),
    createConcurrency: intFrom(env, 'MUSTER_CREATE_CONCURRENCY', 32, 1),
    reconnectInitialMs,
    reconnectMaxMs,
    logLevel,
    gangScheduling,
    agentVersion: agentVersion(),
  };
}
