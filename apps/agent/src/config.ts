// The agent's whole configuration, read once from the environment at start-up. One schema declares
// every variable once (its doc, default and bounds) and the rules between them; it maps once to
// AgentConfig, so nothing past start-up reads an environment string. The README table is checked
// against it (tests/medium/settings-docs.spec.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { choice, ConfigError, integer, settingValues } from '@muster/common';
import { dns1123LabelError, qualifiedNameError } from '@muster/k8s';

export { ConfigError };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * How the worker holds a gang together: `workload-api` (a PodGroup with a gang policy plus the
 * gates), `gates` (scheduling gates only), `auto` (workload-api when the worker serves podgroups
 * in scheduling.k8s.io/v1alpha2, else gates).
 */
export type GangSchedulingSetting = (typeof GANG_SCHEDULING_SETTINGS)[number];
export const GANG_SCHEDULING_SETTINGS = ['auto', 'workload-api', 'gates'] as const;

export const DEFAULT_TOPOLOGY_LEVELS: readonly string[] = [
  'topology.kubernetes.io/zone',
  'cloud.provider.com/topology-block',
  'cloud.provider.com/topology-rack',
  'kubernetes.io/hostname',
];

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Every variable the agent reads, by name: the doc, the default and the bounds. */
export const agentSettings = z.object({
  MUSTER_CLUSTER: z
    .string({ error: 'is required (the cluster name)' })
    .superRefine((name, ctx) => {
      const message = dns1123LabelError(name);
      if (message) ctx.addIssue(`${message} (got "${name}")`);
    })
    .describe("This worker cluster's name as registered at the hub (a DNS label); required."),
  MUSTER_HUB: z
    .string()
    .superRefine((address, ctx) => {
      const port = Number(HOST_PORT.exec(address)?.[2] ?? 0);
      if (port < 1 || port > 65535) ctx.addIssue(`must be "host:port" (got "${address}")`);
    })
    .default('127.0.0.1:50051')
    .describe('Hub gRPC address "host:port" (TLS when MUSTER_TLS_* are set, else plain text).'),
  KUBECONFIG: z
    .string()
    .superRefine((paths, ctx) => {
      const missing = paths.split(':').filter((p) => p !== '' && !existsSync(p));
      if (missing.length > 0) ctx.addIssue(`no such file ${missing.join(', ')}`);
    })
    .optional()
    .describe(
      'Kubeconfig file(s) for the worker cluster\'s API server (a path, or a ":"-separated list); when unset the in-cluster service account is used.',
    ),
  KUBERNETES_SERVICE_HOST: z
    .string()
    .optional()
    .describe(
      'Set by Kubernetes in every pod; without it (outside a cluster) KUBECONFIG is required.',
    ),
  MUSTER_TOPOLOGY_LEVELS: z
    .string()
    .transform((raw, ctx) => {
      const levels = raw
        .split(',')
        .map((level) => level.trim())
        .filter((level) => level !== '');
      levels.forEach((level, i) => {
        const message = qualifiedNameError(level);
        if (message) ctx.addIssue({ code: 'custom', path: [i], message: `"${level}" ${message}` });
      });
      if (new Set(levels).size !== levels.length) ctx.addIssue('lists a level twice');
      return levels;
    })
    .default([...DEFAULT_TOPOLOGY_LEVELS])
    .describe(
      'Node label keys of the topology levels, highest first, hostname last (comma list); sent in Hello.',
    ),
  MUSTER_REPORT_INTERVAL_MS: integer(10)
    .default(500)
    .describe('Least time between two capacity deltas / member-state batches, in ms.'),
  MUSTER_HEARTBEAT_INTERVAL_MS: integer(100)
    .default(2000)
    .describe("Time between heartbeats, in ms (the hub's HelloAck may override it)."),
  MUSTER_BIND_TIMEOUT_MS: integer(100)
    .default(60_000)
    .describe(
      'How long every member of an ungated gang may stay unbound before the agent deletes the gang and answers REJECTED "BindTimeout", in ms.',
    ),
  // No default of the agent's own, unlike the hub's 40000: the hub tells its timeout in HelloAck
  // and the agent records it on the pods, so a second default could only disagree with it.
  MUSTER_SELF_FENCE_TIMEOUT_MS: integer(100)
    .optional()
    .describe(
      "Fallback only: the self-fence timeout, in ms, for gangs whose pods recorded none (made by an agent older than this one) while no hub has told one since this agent started; unset: such gangs are not self-fenced. What the hub tells in HelloAck wins, then what a gang's pods recorded at creation.",
    ),
  MUSTER_CREATE_CONCURRENCY: integer(1)
    .default(32)
    .describe('Most pod creates / patches / deletes in flight at once.'),
  MUSTER_RECONNECT_INITIAL_MS: integer(10)
    .default(500)
    .describe('First reconnect delay to the hub, in ms; doubles per failure.'),
  MUSTER_RECONNECT_MAX_MS: integer(10)
    .default(30_000)
    .describe('Largest reconnect delay to the hub, in ms (jittered).'),
  MUSTER_TLS_CA_FILE: z
    .string()
    .optional()
    .describe("PEM CA(s) that signed the hub's certificate; unset: the system roots."),
  MUSTER_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe(
      "PEM client certificate of this cluster's agent (SAN URI muster://cluster/<name>); with MUSTER_TLS_KEY_FILE.",
    ),
  MUSTER_TLS_KEY_FILE: z
    .string()
    .optional()
    .describe('Private key of MUSTER_TLS_CERT_FILE; both or neither.'),
  MUSTER_LOG_LEVEL: choice(LOG_LEVELS)
    .default('info')
    .describe('"debug", "info", "warn" or "error".'),
  MUSTER_GANG_SCHEDULING: choice(GANG_SCHEDULING_SETTINGS)
    .default('auto')
    .describe(
      'How the worker holds a gang together: "workload-api" (a gang PodGroup plus the gates; refuse to start if not served), "gates" (gates only), "auto" (workload-api when served).',
    ),
});

export type AgentSettings = z.output<typeof agentSettings>;

/** The agent's configuration. A field's type names the variable it comes from (see agentSettings). */
export interface AgentConfig {
  hubAddress: AgentSettings['MUSTER_HUB'];
  cluster: AgentSettings['MUSTER_CLUSTER'];
  kubeconfig: AgentSettings['KUBECONFIG'];
  topologyLevels: AgentSettings['MUSTER_TOPOLOGY_LEVELS'];
  reportIntervalMs: AgentSettings['MUSTER_REPORT_INTERVAL_MS'];
  heartbeatIntervalMs: AgentSettings['MUSTER_HEARTBEAT_INTERVAL_MS'];
  bindTimeoutMs: AgentSettings['MUSTER_BIND_TIMEOUT_MS'];
  selfFenceTimeoutMs: AgentSettings['MUSTER_SELF_FENCE_TIMEOUT_MS'];
  createConcurrency: AgentSettings['MUSTER_CREATE_CONCURRENCY'];
  reconnectInitialMs: AgentSettings['MUSTER_RECONNECT_INITIAL_MS'];
  reconnectMaxMs: AgentSettings['MUSTER_RECONNECT_MAX_MS'];
  tlsCaFile: AgentSettings['MUSTER_TLS_CA_FILE'];
  tlsCertFile: AgentSettings['MUSTER_TLS_CERT_FILE'];
  tlsKeyFile: AgentSettings['MUSTER_TLS_KEY_FILE'];
  logLevel: LogLevel;
  gangScheduling: GangSchedulingSetting;
  /** The agent's version, from apps/agent/package.json (not configurable). */
  agentVersion: string;
}

/** The rules between settings; each problem names every variable it involves. */
function checkTogether(s: AgentSettings, ctx: z.RefinementCtx): void {
  if (s.KUBECONFIG === undefined && s.KUBERNETES_SERVICE_HOST === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['KUBECONFIG'],
      message: 'is required outside a cluster (no in-cluster service account)',
    });
  }
  if (s.MUSTER_RECONNECT_MAX_MS < s.MUSTER_RECONNECT_INITIAL_MS) {
    ctx.addIssue({
      code: 'custom',
      path: ['MUSTER_RECONNECT_MAX_MS'],
      message: 'must not be below MUSTER_RECONNECT_INITIAL_MS',
    });
  }
  if ((s.MUSTER_TLS_CERT_FILE === undefined) !== (s.MUSTER_TLS_KEY_FILE === undefined)) {
    ctx.addIssue('MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE go together; set both');
  }
}

function toAgentConfig(s: AgentSettings): AgentConfig {
  return {
    hubAddress: s.MUSTER_HUB,
    cluster: s.MUSTER_CLUSTER,
    kubeconfig: s.KUBECONFIG,
    topologyLevels: s.MUSTER_TOPOLOGY_LEVELS,
    reportIntervalMs: s.MUSTER_REPORT_INTERVAL_MS,
    heartbeatIntervalMs: s.MUSTER_HEARTBEAT_INTERVAL_MS,
    bindTimeoutMs: s.MUSTER_BIND_TIMEOUT_MS,
    selfFenceTimeoutMs: s.MUSTER_SELF_FENCE_TIMEOUT_MS,
    createConcurrency: s.MUSTER_CREATE_CONCURRENCY,
    reconnectInitialMs: s.MUSTER_RECONNECT_INITIAL_MS,
    reconnectMaxMs: s.MUSTER_RECONNECT_MAX_MS,
    tlsCaFile: s.MUSTER_TLS_CA_FILE,
    tlsCertFile: s.MUSTER_TLS_CERT_FILE,
    tlsKeyFile: s.MUSTER_TLS_KEY_FILE,
    logLevel: s.MUSTER_LOG_LEVEL,
    gangScheduling: s.MUSTER_GANG_SCHEDULING,
    agentVersion: agentVersion(),
  };
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

const agentConfig = agentSettings.superRefine(checkTogether).transform(toAgentConfig);

/** Reads and checks the configuration; throws one ConfigError naming every variable at fault. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const parsed = agentConfig.safeParse(settingValues(env, Object.keys(agentSettings.shape)));
  if (!parsed.success) throw ConfigError.of(parsed.error.issues);
  return parsed.data;
}
