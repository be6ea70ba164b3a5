// Pure mapping from Muster's cluster rows to ClusterProfiles (multicluster.x-k8s.io/v1alpha1): what
// Muster publishes for its own clusters, and whether a published object differs from it. No I/O, no
// clock: the time is a parameter, so the same inputs always give the same objects (a resync never
// rewrites an unchanged ClusterProfile, and concurrent replicas compute the same apply).
import {
  CLUSTER_PROFILE_API_VERSION,
  CLUSTER_PROFILE_KIND,
  CONDITION_CONTROL_PLANE_HEALTHY,
  CONDITION_JOINED,
  LABEL_CLUSTER_MANAGER,
  LABEL_CLUSTER_SET,
  rfc3339,
  type ClusterProfile,
  type ClusterProfileStatus,
  type KubeconfigCluster,
  type ProfileAccessProvider,
  type ProfileCondition,
  type ProfileProperty,
} from '@muster/k8s';
import { formatQuantity, parseQuantity } from '@muster/placement';
import type { ClusterEntity } from '../inventory/cluster.entity';
import { MUSTER_CLUSTER_MANAGER } from '../inventory/cluster.domain';

/** Server-side apply field manager of every write Muster makes to ClusterProfiles. */
export const FIELD_MANAGER = 'muster-hub';

/** Properties Muster publishes for its clusters. */
export const PROPERTY = {
  nodeCount: 'muster.dev/node-count',
  readyNodeCount: 'muster.dev/ready-node-count',
  cpuAllocatable: 'muster.dev/cpu-allocatable',
  cpuFree: 'muster.dev/cpu-free',
  memoryAllocatable: 'muster.dev/memory-allocatable',
  memoryFree: 'muster.dev/memory-free',
  gpuAllocatable: 'muster.dev/gpu-allocatable',
  gpuFree: 'muster.dev/gpu-free',
  topologyLevels: 'muster.dev/topology-levels',
  agentState: 'muster.dev/agent-state',
  cordoned: 'muster.dev/cordoned',
} as const;

/** Properties that follow capacity reports; their changes alone are rate-limited. */
export const CAPACITY_PROPERTIES: ReadonlySet<string> = new Set([
  PROPERTY.nodeCount,
  PROPERTY.readyNodeCount,
  PROPERTY.cpuAllocatable,
  PROPERTY.cpuFree,
  PROPERTY.memoryAllocatable,
  PROPERTY.memoryFree,
  PROPERTY.gpuAllocatable,
  PROPERTY.gpuFree,
]);

/** The cluster row fields a ClusterProfile is built from. */
export type ClusterRow = Pick<
  ClusterEntity,
  | 'name'
  | 'displayName'
  | 'clusterManager'
  | 'clusterSet'
  | 'labels'
  | 'topologyLevels'
  | 'accessProviders'
  | 'conditions'
  | 'properties'
  | 'kubernetesVersion'
  | 'capacity'
  | 'agentState'
  | 'lastHeartbeatAt'
  | 'cordoned'
  | 'readOnly'
  | 'createdAt'
>;

export interface ProducerSettings {
  /** Namespace of Muster's ClusterProfiles. */
  namespace: string;
  /** workerLostTimeout, in ms: a heartbeat older than this makes ControlPlaneHealthy False. */
  lostTimeoutMs: number;
}

/** Something of a cluster that could not be published, and was left out. */
export interface MappingWarning {
  field: string;
  reason: string;
}

/** Server-side apply configuration of the object itself: labels and spec. */
export interface ClusterProfileApply {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { displayName: string; clusterManager: { name: string } };
}

/** Server-side apply configuration of the status subresource. */
export interface ClusterProfileStatusApply {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  status: Required<Pick<ClusterProfileStatus, 'conditions' | 'version' | 'properties'>> &
    Pick<ClusterProfileStatus, 'accessProviders' | 'credentialProviders'>;
}

const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
/** The statuses a metav1 condition may have. */
export const CONDITION_STATUSES: ReadonlySet<string> = new Set(['True', 'False', 'Unknown']);
/** Longest property value a ClusterProfile may carry. */
export const MAX_PROPERTY_VALUE = 1024;

/** Labels and spec Muster publishes for one of its clusters. */
export function profileObjectFor(row: ClusterRow, s: ProducerSettings): ClusterProfileApply {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(row.labels ?? {})) {
    if (k !== LABEL_CLUSTER_MANAGER && k !== LABEL_CLUSTER_SET) labels[k] = v;
  }
  labels[LABEL_CLUSTER_MANAGER] = MUSTER_CLUSTER_MANAGER;
  if (row.clusterSet !== '') labels[LABEL_CLUSTER_SET] = row.clusterSet;
  return {
    apiVersion: CLUSTER_PROFILE_API_VERSION,
    kind: CLUSTER_PROFILE_KIND,
    metadata: { name: row.name, namespace: s.namespace, labels },
    spec: {
      displayName: row.displayName || row.name,
      clusterManager: { name: MUSTER_CLUSTER_MANAGER },
    },
  };
}

function sameStatusTime(
  list: readonly { type: string; status: string; lastTransitionTime: string }[] | undefined,
  type: string,
  status: string,
): string | undefined {
  const c = (list ?? []).find((x) => x.type === type);
  if (!c || c.status !== status || !c.lastTransitionTime) return undefined;
  const t = Date.parse(c.lastTransitionTime);
  return Number.isNaN(t) ? undefined : rfc3339(t);
}

/**
 * lastTransitionTime as metav1 conditions keep it: unchanged while the status stays the same
 * (as published), else when Muster recorded the transition, else `fallback`.
 */
function condition(
  type: string,
  status: ProfileCondition['status'],
  reason: string,
  message: string,
  row: ClusterRow,
  observed: ClusterProfile | undefined,
  fallback: string,
): ProfileCondition {
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime:
      sameStatusTime(observed?.status?.conditions, type, status) ??
      sameStatusTime(row.conditions, type, status) ??
      fallback,
    observedGeneration: observed?.metadata.generation ?? 1,
  };
}

/** Joined and ControlPlaneHealthy from the agent state and heartbeat, plus the row's other conditions. */
export function conditionsFor(
  row: ClusterRow,
  observed: ClusterProfile | undefined,
  s: ProducerSettings,
  now: Date,
  warnings: MappingWarning[] = [],
): ProfileCondition[] {
  const created = rfc3339(row.createdAt);
  const silent = `no heartbeat from the Muster agent for over ${s.lostTimeoutMs} ms`;
  const heartbeat = row.lastHeartbeatAt ? row.lastHeartbeatAt.getTime() : undefined;
  const out: ProfileCondition[] = [];
  if (row.agentState === 'NeverConnected') {
    out.push(
      condition(
        CONDITION_JOINED,
        'False',
        'AgentNeverConnected',
        'no Muster agent has connected yet',
        row,
        observed,
        created,
      ),
      condition(
        CONDITION_CONTROL_PLANE_HEALTHY,
        'Unknown',
        'AgentNeverConnected',
        'unknown until the Muster agent connects',
        row,
        observed,
        created,
      ),
    );
  } else {
    const joinedAt = heartbeat !== undefined ? rfc3339(heartbeat) : created;
    out.push(
      condition(
        CONDITION_JOINED,
        'True',
        'AgentConnected',
        'the Muster agent has connected',
        row,
        observed,
        joinedAt,
      ),
    );
    const stale = heartbeat === undefined || now.getTime() - heartbeat > s.lostTimeoutMs;
    if (row.agentState === 'Connected' && !stale) {
      out.push(
        condition(
          CONDITION_CONTROL_PLANE_HEALTHY,
          'True',
          'AgentHeartbeat',
          'the Muster agent reports heartbeats',
          row,
          observed,
          joinedAt,
        ),
      );
    } else {
      const since = heartbeat !== undefined ? rfc3339(heartbeat + s.lostTimeoutMs) : created;
      out.push(
        condition(
          CONDITION_CONTROL_PLANE_HEALTHY,
          'False',
          'AgentSilent',
          silent,
          row,
          observed,
          since,
        ),
      );
    }
  }
  const own = new Set(out.map((c) => c.type));
  (row.conditions ?? []).forEach((c, i) => {
    if (own.has(c.type)) return;
    const field = `conditions[${i}]`;
    if (!CONDITION_TYPE.test(c.type) || c.type.length > 316)
      return warnings.push({ field: `${field}.type`, reason: 'not a condition type' });
    if (!CONDITION_STATUSES.has(c.status))
      return warnings.push({ field: `${field}.status`, reason: 'not True, False or Unknown' });
    const reason = c.reason === '' ? 'Unspecified' : c.reason;
    if (!CONDITION_REASON.test(reason) || reason.length > 1024)
      return warnings.push({ field: `${field}.reason`, reason: 'not a CamelCase reason' });
    const t = Date.parse(c.lastTransitionTime);
    own.add(c.type);
    out.push({
      type: c.type,
      status: c.status,
      reason,
      message: c.message.slice(0, 32768),
      lastTransitionTime: Number.isNaN(t) ? created : rfc3339(t),
      observedGeneration: observed?.metadata.generation ?? 1,
    });
  });
  return out;
}

const isGpu = (resource: string) => /(^|\/)gpu$/.test(resource);

/** Sum of every GPU resource (nvidia.com/gpu, amd.com/gpu, ...) as a whole number. */
function gpuCount(list: Record<string, string>): string {
  let total = 0n;
  for (const [k, v] of Object.entries(list)) {
    if (!isGpu(k)) continue;
    const q = parseQuantity(v);
    if (q.ok) total += q.value;
  }
  return formatQuantity(total, 'nvidia.com/gpu');
}

/** Capacity summaries, topology, agent state and cordon flag, plus the row's own properties. */
export function propertiesFor(row: ClusterRow, warnings: MappingWarning[] = []): ProfileProperty[] {
  const out = new Map<string, ProfileProperty>();
  const put = (name: string, value: string, lastObservedTime?: string) => {
    if (value === '') return;
    if (value.length > MAX_PROPERTY_VALUE) {
      warnings.push({
        field: `properties[${name}]`,
        reason: `value over ${MAX_PROPERTY_VALUE} characters`,
      });
      return;
    }
    out.set(name, lastObservedTime ? { name, value, lastObservedTime } : { name, value });
  };
  const cap = row.capacity;
  if (cap) {
    const at = Number.isNaN(Date.parse(cap.observedAt)) ? undefined : rfc3339(cap.observedAt);
    put(PROPERTY.nodeCount, String(cap.nodeCount), at);
    put(PROPERTY.readyNodeCount, String(cap.readyNodeCount), at);
    put(PROPERTY.cpuAllocatable, cap.allocatable.cpu ?? '0', at);
    put(PROPERTY.cpuFree, cap.free.cpu ?? '0', at);
    put(PROPERTY.memoryAllocatable, cap.allocatable.memory ?? '0', at);
    put(PROPERTY.memoryFree, cap.free.memory ?? '0', at);
    put(PROPERTY.gpuAllocatable, gpuCount(cap.allocatable), at);
    put(PROPERTY.gpuFree, gpuCount(cap.free), at);
  }
  put(PROPERTY.topologyLevels, row.topologyLevels.join(','));
  put(PROPERTY.agentState, row.agentState);
  put(PROPERTY.cordoned, String(row.cordoned));
  for (const p of row.properties ?? []) {
    if (out.has(p.name) || p.name === '' || p.name.length > 253) continue;
    put(p.name, p.value, p.lastObservedTime ? rfc3339(p.lastObservedTime) : undefined);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Registered access providers in ClusterProfile form (kubeconfig Cluster field names). */
export function accessProvidersFor(
  row: Pick<ClusterRow, 'accessProviders'>,
  warnings: MappingWarning[] = [],
): ProfileAccessProvider[] {
  return (row.accessProviders ?? []).map((p, i) => {
    const c = p.cluster;
    const cluster: KubeconfigCluster = { server: c.server };
    if (c.certificateAuthorityData)
      cluster['certificate-authority-data'] = c.certificateAuthorityData;
    if (c.tlsServerName) cluster['tls-server-name'] = c.tlsServerName;
    if (c.proxyUrl) cluster['proxy-url'] = c.proxyUrl;
    if (c.insecureSkipTlsVerify) cluster['insecure-skip-tls-verify'] = true;
    const extensions = (c.extensions ?? []).filter((e, j) => {
      const ok =
        typeof e.extension === 'object' && e.extension !== null && !Array.isArray(e.extension);
      if (!ok) {
        warnings.push({
          field: `access_providers[${i}].cluster.extensions[${j}]`,
          reason: 'a ClusterProfile extension must be a JSON object; left out',
        });
      }
      return ok;
    });
    if (extensions.length > 0) cluster.extensions = extensions;
    return { name: p.name, cluster };
  });
}

/** The status Muster publishes for one of its clusters; `observed` keeps transition times stable. */
export function profileStatusFor(
  row: ClusterRow,
  observed: ClusterProfile | undefined,
  s: ProducerSettings,
  now: Date,
): { apply: ClusterProfileStatusApply; warnings: MappingWarning[] } {
  const warnings: MappingWarning[] = [];
  const providers = accessProvidersFor(row, warnings);
  return {
    apply: {
      apiVersion: CLUSTER_PROFILE_API_VERSION,
      kind: CLUSTER_PROFILE_KIND,
      metadata: { name: row.name, namespace: s.namespace },
      status: {
        conditions: conditionsFor(row, observed, s, now, warnings),
        version: row.kubernetesVersion ? { kubernetes: row.kubernetesVersion } : {},
        properties: propertiesFor(row, warnings),
        accessProviders: providers,
        // The deprecated field too, for consumers that predate accessProviders.
        credentialProviders: providers,
      },
    },
    warnings,
  };
}

/** JSON with sorted keys, undefined dropped: equal values give equal strings. */
export function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .filter((k) => o[k] !== undefined)
          .sort()
          .map((k) => [k, sort(o[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value)) ?? 'null';
}

function normalizedStatus(s: ClusterProfileStatus | undefined, dropCapacity: boolean) {
  const times = (t: string | undefined) =>
    t === undefined || Number.isNaN(Date.parse(t)) ? t : rfc3339(t);
  return {
    conditions: (s?.conditions ?? []).map((c) => ({
      ...c,
      lastTransitionTime: times(c.lastTransitionTime),
      observedGeneration: c.observedGeneration ?? 0,
    })),
    version: s?.version?.kubernetes ? { kubernetes: s.version.kubernetes } : {},
    properties: (s?.properties ?? [])
      .filter((p) => !(dropCapacity && CAPACITY_PROPERTIES.has(p.name)))
      .map((p) => ({ ...p, lastObservedTime: times(p.lastObservedTime) })),
    accessProviders: s?.accessProviders ?? [],
    credentialProviders: s?.credentialProviders ?? [],
  };
}

/**
 * How the published status differs from the desired one: not at all, only in capacity properties
 * (rate-limited), or in anything else (written at once).
 */
export function statusDifference(
  desired: ClusterProfileStatusApply['status'],
  observed: ClusterProfileStatus | undefined,
): 'none' | 'capacity' | 'other' {
  if (canonical(normalizedStatus(desired, true)) !== canonical(normalizedStatus(observed, true)))
    return 'other';
  return canonical(normalizedStatus(desired, false)) ===
    canonical(normalizedStatus(observed, false))
    ? 'none'
    : 'capacity';
}

/** Label keys the field manager applied to the object (from managedFields). */
export function appliedLabelKeys(observed: ClusterProfile, manager = FIELD_MANAGER): string[] {
  const keys: string[] = [];
  for (const m of observed.metadata.managedFields ?? []) {
    if (m.manager !== manager || m.operation !== 'Apply' || (m.subresource ?? '') !== '') continue;
    const meta = m.fieldsV1?.['f:metadata'];
    const labels =
      typeof meta === 'object' && meta !== null
        ? (meta as Record<string, unknown>)['f:labels']
        : undefined;
    if (typeof labels !== 'object' || labels === null) continue;
    for (const k of Object.keys(labels)) if (k.startsWith('f:')) keys.push(k.slice(2));
  }
  return keys;
}

/** Whether the object's labels or spec differ from what Muster applies. */
export function objectDiffers(
  desired: ClusterProfileApply,
  observed: ClusterProfile | undefined,
): boolean {
  if (!observed) return true;
  if ((observed.spec?.displayName ?? '') !== desired.spec.displayName) return true;
  if (observed.spec?.clusterManager?.name !== desired.spec.clusterManager.name) return true;
  const labels = observed.metadata.labels ?? {};
  for (const [k, v] of Object.entries(desired.metadata.labels)) if (labels[k] !== v) return true;
  return appliedLabelKeys(observed).some((k) => !(k in desired.metadata.labels));
}

/** spec.clusterManager.name of an object Muster must not touch, or undefined when it is Muster's. */
export function foreignManager(observed: ClusterProfile | undefined): string | undefined {
  const name = observed?.spec?.clusterManager?.name;
  return name === undefined || name === MUSTER_CLUSTER_MANAGER ? undefined : name;
}
