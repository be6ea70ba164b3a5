// The hub's whole configuration, read once from the environment at start-up. One schema declares
// every variable once (its doc, default and bounds) and the rules between them; it maps once to
// HubConfig, so nothing past start-up reads an environment string. The README tables are checked
// against it (tests/medium/settings-docs.spec.ts).
import { z } from 'zod';
import { choice, ConfigError, flag, integer, list, settingValues } from '@muster/common';
import {
  dns1123LabelError,
  POD_POLICY_RULES,
  podPolicyOf,
  qualifiedNameError,
  readAccessProviderFile,
  type AccessProviderFile,
  type PodPolicy,
} from '@muster/k8s';
import { fetchedUrlError } from '../common/fetched-url';
import { DEFAULT_QUEUE_RULES, queueRuleError } from '../front-door/queue-rules';

export { ConfigError };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const HUB_CONFIG = Symbol('HUB_CONFIG');

const namespaceError = (n: string) =>
  dns1123LabelError(n) ? `"${n}" is not a namespace name (a DNS-1123 label)` : undefined;

/** Every variable the hub reads, by name: the doc, the default and the bounds. */
/** A priority class as MUSTER_PRIORITY_CLASSES gives it: a DNS-1123 label, "=", a 32-bit integer. */
function priorityClassError(item: string): string | undefined {
  const m = /^([^=]+)=(.+)$/.exec(item);
  if (!m) return `"${item}" is not name=value`;
  const name = m[1]!.trim();
  const value = Number(m[2]!.trim());
  if (dns1123LabelError(name)) return `priority class "${name}": ${dns1123LabelError(name)}`;
  if (!Number.isInteger(value) || Math.abs(value) > 2_147_483_647)
    return `priority class "${name}": "${m[2]!.trim()}" is not a 32-bit integer`;
  return undefined;
}

export const hubSettings = z.object({
  MUSTER_GRPC_ADDR: z.string().default('127.0.0.1:50051').describe('gRPC listen address.'),
  MUSTER_HTTP_PORT: integer(0, 65535)
    .default(8080)
    .describe('HTTP port for /healthz, /readyz and /metrics.'),
  MUSTER_HTTP_HOST: z.string().default('127.0.0.1').describe('HTTP listen host.'),
  MUSTER_CONSOLE_DIR: z
    .string()
    .optional()
    .describe(
      'Folder of the built web console served at /console/; unset: the workspace build (apps/console/dist/web).',
    ),
  MUSTER_DATABASE_URL: z
    .string()
    .default('postgres://postgres@127.0.0.1:5432/muster')
    .describe('Postgres connection URL.'),
  MUSTER_MIGRATE: flag()
    .default(true)
    .describe('Apply pending migrations at start-up (under an advisory lock).'),
  MUSTER_REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .describe('Redis URL for BullMQ and event notifications.'),
  MUSTER_REDIS_PREFIX: z
    .string()
    .default('muster')
    .describe('Prefix of every Redis key and channel, so several hubs can share one Redis.'),
  MUSTER_LOG_LEVEL: choice(LOG_LEVELS)
    .default('info')
    .describe('"debug", "info", "warn" or "error".'),

  // Security (apps/hub/README.md "Authentication and authorization")
  MUSTER_DEV_INSECURE: flag()
    .default(false)
    .describe(
      'Development mode: plain text and no authentication are allowed when not configured (a configured check is never weakened); logs a warning.',
    ),
  MUSTER_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe('PEM certificate (chain) the hub serves; required unless MUSTER_DEV_INSECURE.'),
  MUSTER_TLS_KEY_FILE: z.string().optional().describe('PEM private key of that certificate.'),
  MUSTER_TLS_CLIENT_CA_FILE: z
    .string()
    .optional()
    .describe(
      'PEM CA(s) that sign agent client certificates; required unless MUSTER_DEV_INSECURE.',
    ),
  MUSTER_AUTH_TOKENS_FILE: z.string().optional().describe('YAML file of static bearer tokens.'),
  MUSTER_OIDC_ISSUER: z
    .string()
    .optional()
    .describe('The exact "iss" of accepted OIDC tokens (JWTs); unset: no OIDC.'),
  MUSTER_OIDC_AUDIENCE: z
    .string()
    .optional()
    .describe('Required with an issuer: must be in "aud".'),
  MUSTER_OIDC_JWKS_FILE: z.string().optional().describe("The issuer's keys from a file."),
  MUSTER_OIDC_JWKS_URL: z
    .string()
    .optional()
    .describe("The issuer's keys from a URL; neither: issuer discovery."),
  MUSTER_OIDC_ROLE_CLAIM: z.string().default('muster_role').describe('Claim holding the role.'),
  MUSTER_OIDC_QUEUES_CLAIM: z
    .string()
    .default('muster_queues')
    .describe('Claim holding the queues.'),
  MUSTER_OIDC_NAME_CLAIM: z
    .string()
    .default('preferred_username')
    .describe('Claim shown in logs as the name (else "sub").'),
  MUSTER_OIDC_GROUPS_CLAIM: z.string().default('groups').describe('Claim holding the groups.'),
  MUSTER_OIDC_GROUP_ROLES: z
    .string()
    .optional()
    .describe('JSON object group → role (or {role, queues}); default none.'),
  MUSTER_OIDC_CLOCK_SKEW_S: integer(0)
    .default(60)
    .describe('Tolerance for "exp" and "nbf", in seconds.'),
  MUSTER_OIDC_JWKS_REFRESH_S: integer(10).default(300).describe('Refetch of URL keys, in seconds.'),
  MUSTER_POD_POLICY_DISABLE: list((rule) =>
    (POD_POLICY_RULES as readonly string[]).includes(rule)
      ? undefined
      : `unknown pod policy rule "${rule}"; rules: ${POD_POLICY_RULES.join(', ')}`,
  )
    .default([])
    .describe('Pod template policy rules to turn off (comma list).'),
  MUSTER_PRIORITY_CLASSES: list(priorityClassError)
    .default([])
    .describe(
      "Priority classes jobs may name, as name=value (comma list, e.g. low=0,normal=100,high=1000); a job's priority is its class's value.",
    ),
  MUSTER_POD_POLICY_ALLOWED_CAPABILITIES: list()
    .optional()
    .describe(
      'Capabilities containers may add (comma list); unset: the Pod Security "baseline" list.',
    ),

  // Limits
  MUSTER_MAX_REQUEST_BYTES: integer(1024)
    .default(4 * 1024 * 1024)
    .describe('Largest gRPC message the hub accepts, in bytes.'),
  MUSTER_MAX_MEMBERS_PER_GANG: integer(1)
    .default(4096)
    .describe('Largest member count of one gang (sum over pod sets).'),
  MUSTER_MAX_POD_SETS: integer(1).default(16).describe('Most pod sets in one gang.'),
  MUSTER_MAX_TEMPLATE_METADATA_BYTES: integer(256)
    .default(64 * 1024)
    .describe('Labels plus annotations of one pod template, in bytes.'),
  MUSTER_MAX_WATCHERS_PER_CALLER: integer(0)
    .default(16)
    .describe('Open WatchJob/WatchJobs streams per caller (0: no limit).'),
  MUSTER_SUBMITS_PER_SECOND: integer(0)
    .default(50)
    .describe(
      'Sustained jobs submitted per second per caller, by SubmitJob or SubmitJobs (0: no limit).',
    ),
  MUSTER_SUBMIT_BURST: integer(1)
    .default(100)
    .describe(
      'Jobs a caller may submit at once before the rate applies (also the most per SubmitJobs call).',
    ),
  MUSTER_AGENT_MESSAGES_PER_SECOND: integer(0)
    .default(200)
    .describe('Sustained messages per second on one agent stream (0: no limit).'),
  MUSTER_AGENT_MESSAGE_BURST: integer(1)
    .default(2000)
    .describe('Messages an agent stream may send at once before the rate applies.'),

  // Scheduling and dispatch
  MUSTER_CYCLE_PERIOD_MS: integer(50)
    .default(2000)
    .describe('A cycle runs at least this often on the leader, in ms.'),
  MUSTER_CYCLE_COALESCE_MS: integer(0)
    .default(20)
    .describe('Wake-ups within this window make one cycle, in ms.'),
  MUSTER_MAX_GANGS_PER_CYCLE: integer(1)
    .default(2000)
    .describe('Most queued gangs one scheduling cycle considers.'),
  MUSTER_PLACEMENT_POLICY: choice(['pack', 'spread'])
    .default('pack')
    .describe('"pack" (keep large domains whole) or "spread".'),
  MUSTER_MAX_REQUEUE_BACKOFF_S: integer(0)
    .default(60)
    .describe('Longest requeue backoff after a rejected dispatch, in seconds.'),
  MUSTER_EVICTION_GRACE_S: integer(0, 86_400)
    .default(30)
    .describe(
      'Notice a preempted gang gets before its pods are deleted, in seconds, unless its job sets eviction_grace_seconds (a drain gives the notice its --grace says).',
    ),
  MUSTER_CLUSTER_EXCLUSION_S: integer(0)
    .default(900)
    .describe(
      'After a worker could not run a gang (e.g. its scheduler left members unbound), the gang avoids that cluster this long, in seconds.',
    ),
  MUSTER_MAX_DISPATCH_ATTEMPTS: integer(0)
    .default(50)
    .describe(
      'A gang rejected by its clusters this many times fails (reason TooManyAttempts) instead of looping; 0 means never.',
    ),
  MUSTER_RECONCILE_INTERVAL_MS: integer(100)
    .default(10_000)
    .describe(
      'How often the reconciler rebuilds queue work from Postgres and resends gang lists, in ms.',
    ),
  MUSTER_HEARTBEAT_INTERVAL_MS: integer(100)
    .default(2000)
    .describe('Told to agents: heartbeat interval, in ms.'),
  MUSTER_SELF_FENCE_TIMEOUT_MS: integer(50)
    .default(40_000)
    .describe(
      'Told to agents: delete `requeue` gangs after this long without any message from the hub, in ms; selfFence + fence delete grace + 2 heartbeat intervals must be below the worker lost timeout.',
    ),
  MUSTER_FENCE_DELETE_GRACE_S: integer(1)
    .default(10)
    .describe(
      'Told to agents: the most grace a pod deleted for fencing gets (the smaller of this and its own terminationGracePeriodSeconds), in seconds; at least 1: 0 would be a force delete that leaves containers running unseen.',
    ),
  MUSTER_WORKER_LOST_TIMEOUT_MS: integer(100)
    .default(60_000)
    .describe('A cluster whose agent is silent this long turns NotReady (Lost), in ms.'),
  MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: z
    .string()
    .optional()
    .describe(
      "Access provider file (the Cluster Inventory API's provider file: exec credential plugins by provider name) through which the hub reaches worker API servers with each cluster's registered access providers, to confirm a lost cluster's gangs gone; unset means only agents and operators (muster clusters fence) can confirm.",
    ),
  MUSTER_EVENT_POLL_MS: integer(50)
    .default(1000)
    .describe('Fallback poll of the event table when no notification arrives, in ms.'),
  MUSTER_WATCH_BUFFER_EVENTS: integer(10)
    .default(10_000)
    .describe(
      'Live events held for one watch stream; a watcher that falls further behind is ended with RESOURCE_EXHAUSTED (it resumes with after_sequence).',
    ),
  MUSTER_EVENT_RETENTION_HOURS: integer(1)
    .default(168)
    .describe('How long events of finished jobs are kept, in hours (168: 7 days).'),
  MUSTER_PRUNE_INTERVAL_MS: integer(1000)
    .default(3_600_000)
    .describe('How often the event pruning job runs, in milliseconds (3600000: 1 h).'),
  MUSTER_FAIR_SHARE_HALF_LIFE_S: integer(0)
    .default(86_400)
    .describe(
      'Half-life of the usage history fair share weighs, in seconds (a queue that ran a lot a half-life ago counts half of it); 0 orders by current usage only.',
    ),
  MUSTER_USAGE_RETENTION_DAYS: integer(32)
    .default(90)
    .describe(
      "How long queues' hourly usage history (device-hour budgets, fair share) is kept, in days; at least 32, so a monthly budget's period is always whole.",
    ),

  // Inventory (ClusterProfiles)
  MUSTER_INVENTORY_KUBECONFIG: z
    .string()
    .optional()
    .describe(
      'Kubeconfig file of the management cluster that holds the ClusterProfiles; unset disables ClusterProfile sync.',
    ),
  MUSTER_INVENTORY_NAMESPACE: z
    .string()
    .superRefine((name, ctx) => {
      const message = name.includes(',') ? 'must name one namespace' : namespaceError(name);
      if (message) ctx.addIssue(message);
    })
    .default('muster-inventory')
    .describe('Namespace Muster writes its ClusterProfiles to (created if missing).'),
  MUSTER_INVENTORY_IMPORT_NAMESPACES: list(namespaceError)
    .transform((names) => [...new Set(names)])
    .default([])
    .describe(
      'Namespaces whose ClusterProfiles of other cluster managers are imported as read-only clusters (comma list).',
    ),
  MUSTER_INVENTORY_POLL_MS: integer(100)
    .default(1000)
    .describe(
      'How often Postgres is compared with the ClusterProfiles, in ms; bounds how late a status change shows.',
    ),
  MUSTER_INVENTORY_RESYNC_MS: integer(1000)
    .default(60_000)
    .describe('Full forced resync of every ClusterProfile (once across replicas), in ms.'),
  MUSTER_INVENTORY_CAPACITY_INTERVAL_MS: integer(0)
    .default(10_000)
    .describe(
      'A change of capacity properties alone is written at most this often per cluster, in ms (health, version and access go at once).',
    ),
  MUSTER_PLACEMENT_DECISIONS: flag()
    .default(true)
    .describe(
      'Publish a PlacementDecision per dispatched gang beside the ClusterProfiles (only with MUSTER_INVENTORY_KUBECONFIG set).',
    ),

  // Front door (Jobs, JobSets ... created on the management cluster)
  MUSTER_FRONT_DOOR: flag()
    .default(true)
    .describe(
      'Take Jobs, JobSets, PyTorchJobs ... created on the management cluster with a queue label as Muster jobs (only with MUSTER_INVENTORY_KUBECONFIG set).',
    ),
  MUSTER_FRONT_DOOR_LABELS: list((key) =>
    qualifiedNameError(key) ? `label "${key}": ${qualifiedNameError(key)}` : undefined,
  )
    .default(['muster.dev/queue', 'kueue.x-k8s.io/queue-name'])
    .describe(
      "Labels that bring an object to Muster, first found names its queue (comma list); leave out Kueue's when Kueue itself runs on the management cluster.",
    ),
  MUSTER_FRONT_DOOR_QUEUES: list(queueRuleError)
    .default([DEFAULT_QUEUE_RULES])
    .describe(
      "Which queue an object goes to, as NAMESPACE[/LABEL]=QUEUE rules (comma list, first match wins; * matches any, QUEUE * is the label's value, - refuses); see docs/kubectl.md.",
    ),
});

export type HubSettings = z.output<typeof hubSettings>;

/** The hub's configuration. A field's type names the variable it comes from (see hubSettings). */
export interface HubConfig {
  grpcAddress: HubSettings['MUSTER_GRPC_ADDR'];
  httpPort: HubSettings['MUSTER_HTTP_PORT'];
  httpHost: HubSettings['MUSTER_HTTP_HOST'];
  /** The built console's folder; undefined: the workspace build, when there is one. */
  consoleDir: HubSettings['MUSTER_CONSOLE_DIR'];
  databaseUrl: HubSettings['MUSTER_DATABASE_URL'];
  migrate: HubSettings['MUSTER_MIGRATE'];
  redisUrl: HubSettings['MUSTER_REDIS_URL'];
  redisPrefix: HubSettings['MUSTER_REDIS_PREFIX'];
  maxMembersPerGang: HubSettings['MUSTER_MAX_MEMBERS_PER_GANG'];
  maxPodSetsPerGang: HubSettings['MUSTER_MAX_POD_SETS'];
  maxRequestBytes: HubSettings['MUSTER_MAX_REQUEST_BYTES'];
  eventRetentionHours: HubSettings['MUSTER_EVENT_RETENTION_HOURS'];
  pruneIntervalMs: HubSettings['MUSTER_PRUNE_INTERVAL_MS'];
  usageRetentionDays: HubSettings['MUSTER_USAGE_RETENTION_DAYS'];
  fairShareHalfLifeSeconds: HubSettings['MUSTER_FAIR_SHARE_HALF_LIFE_S'];
  watchBufferEvents: HubSettings['MUSTER_WATCH_BUFFER_EVENTS'];
  eventPollMs: HubSettings['MUSTER_EVENT_POLL_MS'];
  workerLostTimeoutMs: HubSettings['MUSTER_WORKER_LOST_TIMEOUT_MS'];
  selfFenceTimeoutMs: HubSettings['MUSTER_SELF_FENCE_TIMEOUT_MS'];
  fenceDeleteGraceSeconds: HubSettings['MUSTER_FENCE_DELETE_GRACE_S'];
  heartbeatIntervalMs: HubSettings['MUSTER_HEARTBEAT_INTERVAL_MS'];
  maxGangsPerCycle: HubSettings['MUSTER_MAX_GANGS_PER_CYCLE'];
  cyclePeriodMs: HubSettings['MUSTER_CYCLE_PERIOD_MS'];
  cycleCoalesceMs: HubSettings['MUSTER_CYCLE_COALESCE_MS'];
  placementPolicy: HubSettings['MUSTER_PLACEMENT_POLICY'];
  maxRequeueBackoffSeconds: HubSettings['MUSTER_MAX_REQUEUE_BACKOFF_S'];
  evictionGraceSeconds: HubSettings['MUSTER_EVICTION_GRACE_S'];
  maxDispatchAttempts: HubSettings['MUSTER_MAX_DISPATCH_ATTEMPTS'];
  clusterExclusionSeconds: HubSettings['MUSTER_CLUSTER_EXCLUSION_S'];
  reconcileIntervalMs: HubSettings['MUSTER_RECONCILE_INTERVAL_MS'];
  /** The file of MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE, read and checked at start. */
  clusterAccessProviders: AccessProviderFile | undefined;
  inventoryKubeconfig: HubSettings['MUSTER_INVENTORY_KUBECONFIG'];
  inventoryNamespace: HubSettings['MUSTER_INVENTORY_NAMESPACE'];
  inventoryImportNamespaces: HubSettings['MUSTER_INVENTORY_IMPORT_NAMESPACES'];
  inventoryPollMs: HubSettings['MUSTER_INVENTORY_POLL_MS'];
  inventoryResyncMs: HubSettings['MUSTER_INVENTORY_RESYNC_MS'];
  inventoryCapacityIntervalMs: HubSettings['MUSTER_INVENTORY_CAPACITY_INTERVAL_MS'];
  placementDecisions: HubSettings['MUSTER_PLACEMENT_DECISIONS'];
  frontDoor: HubSettings['MUSTER_FRONT_DOOR'];
  frontDoorLabels: HubSettings['MUSTER_FRONT_DOOR_LABELS'];
  frontDoorQueues: HubSettings['MUSTER_FRONT_DOOR_QUEUES'];
  logLevel: LogLevel;

  // --- Security (see apps/hub/README.md "Authentication and authorization") ---
  devInsecure: HubSettings['MUSTER_DEV_INSECURE'];
  tlsCertFile: HubSettings['MUSTER_TLS_CERT_FILE'];
  tlsKeyFile: HubSettings['MUSTER_TLS_KEY_FILE'];
  tlsClientCaFile: HubSettings['MUSTER_TLS_CLIENT_CA_FILE'];
  authTokensFile: HubSettings['MUSTER_AUTH_TOKENS_FILE'];
  /** OIDC bearer tokens (JWTs); unset when MUSTER_OIDC_ISSUER is unset. */
  oidc: OidcConfig | undefined;
  maxWatchersPerCaller: HubSettings['MUSTER_MAX_WATCHERS_PER_CALLER'];
  submitsPerSecond: HubSettings['MUSTER_SUBMITS_PER_SECOND'];
  submitBurst: HubSettings['MUSTER_SUBMIT_BURST'];
  agentMessagesPerSecond: HubSettings['MUSTER_AGENT_MESSAGES_PER_SECOND'];
  agentMessageBurst: HubSettings['MUSTER_AGENT_MESSAGE_BURST'];
  /** From MUSTER_POD_POLICY_DISABLE and MUSTER_POD_POLICY_ALLOWED_CAPABILITIES. */
  podPolicy: PodPolicy;
  /** Priority class name → priority (MUSTER_PRIORITY_CLASSES). */
  priorityClasses: ReadonlyMap<string, number>;
  maxTemplateMetadataBytes: HubSettings['MUSTER_MAX_TEMPLATE_METADATA_BYTES'];
}

export interface OidcConfig {
  issuer: string;
  audience: string;
  jwksFile: HubSettings['MUSTER_OIDC_JWKS_FILE'];
  jwksUrl: HubSettings['MUSTER_OIDC_JWKS_URL'];
  roleClaim: HubSettings['MUSTER_OIDC_ROLE_CLAIM'];
  queuesClaim: HubSettings['MUSTER_OIDC_QUEUES_CLAIM'];
  nameClaim: HubSettings['MUSTER_OIDC_NAME_CLAIM'];
  groupsClaim: HubSettings['MUSTER_OIDC_GROUPS_CLAIM'];
  groupRoles: HubSettings['MUSTER_OIDC_GROUP_ROLES'];
  clockSkewSeconds: HubSettings['MUSTER_OIDC_CLOCK_SKEW_S'];
  jwksRefreshSeconds: HubSettings['MUSTER_OIDC_JWKS_REFRESH_S'];
}

/** The rules between settings; each problem names every variable it involves. */
function checkTogether(s: HubSettings, ctx: z.RefinementCtx): void {
  // An agent cut off from the hub must have deleted its requeue gangs, grace included, before the
  // hub calls the cluster lost; the margin covers the up to one heartbeat by which the agent's
  // last word from the hub and the hub's last word from the agent differ, and then some.
  const fenced =
    s.MUSTER_SELF_FENCE_TIMEOUT_MS +
    s.MUSTER_FENCE_DELETE_GRACE_S * 1000 +
    2 * s.MUSTER_HEARTBEAT_INTERVAL_MS;
  if (fenced >= s.MUSTER_WORKER_LOST_TIMEOUT_MS) {
    ctx.addIssue(
      `MUSTER_SELF_FENCE_TIMEOUT_MS (${s.MUSTER_SELF_FENCE_TIMEOUT_MS}) + MUSTER_FENCE_DELETE_GRACE_S (${s.MUSTER_FENCE_DELETE_GRACE_S} s) + 2 × MUSTER_HEARTBEAT_INTERVAL_MS (${s.MUSTER_HEARTBEAT_INTERVAL_MS}) = ${fenced} ms must be below MUSTER_WORKER_LOST_TIMEOUT_MS (${s.MUSTER_WORKER_LOST_TIMEOUT_MS}), or a lost cluster's gangs could still be running when the hub gives up on it`,
    );
  }

  const issuer = s.MUSTER_OIDC_ISSUER;
  if (issuer === undefined) {
    for (const name of [
      'MUSTER_OIDC_AUDIENCE',
      'MUSTER_OIDC_JWKS_FILE',
      'MUSTER_OIDC_JWKS_URL',
    ] as const) {
      if (s[name] !== undefined) ctx.addIssue(`${name} is set but MUSTER_OIDC_ISSUER is not`);
    }
    return;
  }
  if (s.MUSTER_OIDC_AUDIENCE === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['MUSTER_OIDC_AUDIENCE'],
      message: 'is required with MUSTER_OIDC_ISSUER',
    });
  }
  if (s.MUSTER_OIDC_JWKS_FILE !== undefined && s.MUSTER_OIDC_JWKS_URL !== undefined) {
    ctx.addIssue('MUSTER_OIDC_JWKS_FILE and MUSTER_OIDC_JWKS_URL: set one, not both');
  }
  // Only fetched URLs must be https (http only on loopback): the issuer itself when its
  // discovery document gives the keys, else the JWKS URL.
  const fetched: [string, string][] =
    s.MUSTER_OIDC_JWKS_URL !== undefined
      ? [['MUSTER_OIDC_JWKS_URL', s.MUSTER_OIDC_JWKS_URL]]
      : s.MUSTER_OIDC_JWKS_FILE !== undefined
        ? []
        : [['MUSTER_OIDC_ISSUER', issuer]];
  for (const [name, url] of fetched) {
    const message = fetchedUrlError(url);
    if (message) ctx.addIssue({ code: 'custom', path: [name], message });
  }
}

/** The one mapping from settings to the configuration; reads the access provider file. */
function toHubConfig(s: HubSettings, ctx: z.RefinementCtx): HubConfig {
  return {
    grpcAddress: s.MUSTER_GRPC_ADDR,
    httpPort: s.MUSTER_HTTP_PORT,
    httpHost: s.MUSTER_HTTP_HOST,
    consoleDir: s.MUSTER_CONSOLE_DIR,
    databaseUrl: s.MUSTER_DATABASE_URL,
    migrate: s.MUSTER_MIGRATE,
    redisUrl: s.MUSTER_REDIS_URL,
    redisPrefix: s.MUSTER_REDIS_PREFIX,
    maxMembersPerGang: s.MUSTER_MAX_MEMBERS_PER_GANG,
    maxPodSetsPerGang: s.MUSTER_MAX_POD_SETS,
    maxRequestBytes: s.MUSTER_MAX_REQUEST_BYTES,
    eventRetentionHours: s.MUSTER_EVENT_RETENTION_HOURS,
    pruneIntervalMs: s.MUSTER_PRUNE_INTERVAL_MS,
    usageRetentionDays: s.MUSTER_USAGE_RETENTION_DAYS,
    fairShareHalfLifeSeconds: s.MUSTER_FAIR_SHARE_HALF_LIFE_S,
    watchBufferEvents: s.MUSTER_WATCH_BUFFER_EVENTS,
    eventPollMs: s.MUSTER_EVENT_POLL_MS,
    workerLostTimeoutMs: s.MUSTER_WORKER_LOST_TIMEOUT_MS,
    selfFenceTimeoutMs: s.MUSTER_SELF_FENCE_TIMEOUT_MS,
    fenceDeleteGraceSeconds: s.MUSTER_FENCE_DELETE_GRACE_S,
    heartbeatIntervalMs: s.MUSTER_HEARTBEAT_INTERVAL_MS,
    maxGangsPerCycle: s.MUSTER_MAX_GANGS_PER_CYCLE,
    cyclePeriodMs: s.MUSTER_CYCLE_PERIOD_MS,
    cycleCoalesceMs: s.MUSTER_CYCLE_COALESCE_MS,
    placementPolicy: s.MUSTER_PLACEMENT_POLICY,
    maxRequeueBackoffSeconds: s.MUSTER_MAX_REQUEUE_BACKOFF_S,
    evictionGraceSeconds: s.MUSTER_EVICTION_GRACE_S,
    maxDispatchAttempts: s.MUSTER_MAX_DISPATCH_ATTEMPTS,
    clusterExclusionSeconds: s.MUSTER_CLUSTER_EXCLUSION_S,
    reconcileIntervalMs: s.MUSTER_RECONCILE_INTERVAL_MS,
    clusterAccessProviders: accessProviders(s.MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE, ctx),
    inventoryKubeconfig: s.MUSTER_INVENTORY_KUBECONFIG,
    inventoryNamespace: s.MUSTER_INVENTORY_NAMESPACE,
    inventoryImportNamespaces: s.MUSTER_INVENTORY_IMPORT_NAMESPACES,
    inventoryPollMs: s.MUSTER_INVENTORY_POLL_MS,
    inventoryResyncMs: s.MUSTER_INVENTORY_RESYNC_MS,
    inventoryCapacityIntervalMs: s.MUSTER_INVENTORY_CAPACITY_INTERVAL_MS,
    placementDecisions: s.MUSTER_PLACEMENT_DECISIONS,
    frontDoor: s.MUSTER_FRONT_DOOR,
    frontDoorLabels: s.MUSTER_FRONT_DOOR_LABELS,
    frontDoorQueues: s.MUSTER_FRONT_DOOR_QUEUES,
    logLevel: s.MUSTER_LOG_LEVEL,
    devInsecure: s.MUSTER_DEV_INSECURE,
    tlsCertFile: s.MUSTER_TLS_CERT_FILE,
    tlsKeyFile: s.MUSTER_TLS_KEY_FILE,
    tlsClientCaFile: s.MUSTER_TLS_CLIENT_CA_FILE,
    authTokensFile: s.MUSTER_AUTH_TOKENS_FILE,
    oidc:
      s.MUSTER_OIDC_ISSUER === undefined || s.MUSTER_OIDC_AUDIENCE === undefined
        ? undefined
        : {
            issuer: s.MUSTER_OIDC_ISSUER,
            audience: s.MUSTER_OIDC_AUDIENCE,
            jwksFile: s.MUSTER_OIDC_JWKS_FILE,
            jwksUrl: s.MUSTER_OIDC_JWKS_URL,
            roleClaim: s.MUSTER_OIDC_ROLE_CLAIM,
            queuesClaim: s.MUSTER_OIDC_QUEUES_CLAIM,
            nameClaim: s.MUSTER_OIDC_NAME_CLAIM,
            groupsClaim: s.MUSTER_OIDC_GROUPS_CLAIM,
            groupRoles: s.MUSTER_OIDC_GROUP_ROLES,
            clockSkewSeconds: s.MUSTER_OIDC_CLOCK_SKEW_S,
            jwksRefreshSeconds: s.MUSTER_OIDC_JWKS_REFRESH_S,
          },
    maxWatchersPerCaller: s.MUSTER_MAX_WATCHERS_PER_CALLER,
    submitsPerSecond: s.MUSTER_SUBMITS_PER_SECOND,
    submitBurst: s.MUSTER_SUBMIT_BURST,
    agentMessagesPerSecond: s.MUSTER_AGENT_MESSAGES_PER_SECOND,
    agentMessageBurst: s.MUSTER_AGENT_MESSAGE_BURST,
    podPolicy: podPolicyOf(s.MUSTER_POD_POLICY_DISABLE, s.MUSTER_POD_POLICY_ALLOWED_CAPABILITIES),
    priorityClasses: new Map(
      s.MUSTER_PRIORITY_CLASSES.map((item) => {
        const [name, value] = item.split('=') as [string, string];
        return [name.trim(), Number(value.trim())];
      }),
    ),
    maxTemplateMetadataBytes: s.MUSTER_MAX_TEMPLATE_METADATA_BYTES,
  };
}

/** The provider file read and checked now, so a bad file stops the hub at start. */
function accessProviders(
  path: string | undefined,
  ctx: z.RefinementCtx,
): AccessProviderFile | undefined {
  if (path === undefined) return undefined;
  try {
    return readAccessProviderFile(path);
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      path: ['MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE'],
      message: (err as Error).message,
    });
    return undefined;
  }
}

const hubConfig = hubSettings.superRefine(checkTogether).transform(toHubConfig);

/** Reads and checks the configuration; throws one ConfigError naming every variable at fault. */
export function loadHubConfig(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const parsed = hubConfig.safeParse(settingValues(env, Object.keys(hubSettings.shape)));
  if (!parsed.success) throw ConfigError.of(parsed.error.issues);
  return parsed.data;
}
