// Turns Kubernetes Node and Pod objects into the few fields the agent keeps, so its memory grows
// with the number of objects, not their size. Pure: works on plain JSON (watch events) and on
// client-node model instances (list responses) alike.
import { parseResourceList, type ResourceList } from '@muster/placement';
import type { Taint } from '@muster/api';
import {
  ANNOTATION_FENCE_DELETE_GRACE_S,
  ANNOTATION_GANG_SIZE,
  ANNOTATION_ON_CLUSTER_LOST,
  ANNOTATION_EVICTION_NOTICE,
  ANNOTATION_SELF_FENCE_TIMEOUT_MS,
  LABEL_FENCING_TOKEN,
  LABEL_GANG_ID,
  LABEL_JOB_ID,
  LABEL_MEMBER_INDEX,
  LABEL_POD_SET,
  SCHEDULING_GATE,
  type OnClusterLostPolicy,
} from './constants';
import { podRequests, type PodSpecLike } from '@muster/k8s';
import { claimTemplateName, memberPodName } from './naming';

/** The parts of a core/v1 Node the agent reads. */
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> | null } | null;
  spec?: {
    unschedulable?: boolean | null;
    taints?: Array<{ key?: string; value?: string | null; effect?: string }> | null;
  } | null;
  status?: {
    allocatable?: Record<string, string> | null;
    conditions?: Array<{ type?: string; status?: string }> | null;
  } | null;
}

/** The parts of a core/v1 Pod the agent reads. */
export interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string> | null;
    annotations?: Record<string, string> | null;
    deletionTimestamp?: unknown;
    creationTimestamp?: unknown;
  } | null;
  spec?:
    | (PodSpecLike & {
        nodeName?: string | null;
        terminationGracePeriodSeconds?: number | null;
        schedulingGates?: Array<{ name?: string }> | null;
        resourceClaims?: Array<{
          name?: string;
          resourceClaimName?: string | null;
          resourceClaimTemplateName?: string | null;
        }> | null;
        affinity?: {
          nodeAffinity?: {
            requiredDuringSchedulingIgnoredDuringExecution?: {
              nodeSelectorTerms?: Array<{ matchFields?: NodeFieldRequirement[] | null }> | null;
            } | null;
          } | null;
        } | null;
      })
    | null;
  status?: {
    phase?: string | null;
    reason?: string | null;
    conditions?: Array<{
      type?: string;
      status?: string;
      reason?: string | null;
      message?: string | null;
    }> | null;
    containerStatuses?: ContainerStatusLike[] | null;
  } | null;
}

interface NodeFieldRequirement {
  key?: string;
  operator?: string;
  values?: string[] | null;
}

/** A pod's PodScheduled condition, as the scheduler last set it. */
export interface ScheduledCondition {
  /** "True", "False" or "Unknown". */
  status: string;
  /** e.g. "Unschedulable", "SchedulingGated". */
  reason: string;
  /** e.g. "0/4 nodes are available: 4 Too many pods." (at most MAX_CONDITION_MESSAGE chars). */
  message: string;
}

/** Longest PodScheduled message kept per pod (memory follows the pod count). */
export const MAX_CONDITION_MESSAGE = 1024;

interface ContainerStatusLike {
  name?: string;
  state?: {
    waiting?: { reason?: string | null } | null;
    terminated?: { exitCode?: number; reason?: string | null } | null;
  } | null;
}

export interface NodeRecord {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  allocatable: ResourceList;
  unschedulable: boolean;
  ready: boolean;
}

/** What the agent knows of a Muster member from its labels and annotations. */
export interface MemberMeta {
  gangId: string;
  jobId: string;
  token: number;
  podSet: string;
  index: number;
  onClusterLost: OnClusterLostPolicy;
  /** Members of the whole gang; 0 when the annotation is missing. */
  gangSize: number;
  /** The self-fence timeout (ms) recorded at creation; undefined when not recorded. */
  selfFenceTimeoutMs?: number;
  /** The grace (s) of fencing deletes recorded at creation; undefined when not recorded. */
  fenceDeleteGraceSeconds?: number;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodRecord {
  /** "namespace/name". */
  key: string;
  namespace: string;
  name: string;
  nodeName: string;
  phase: PodPhase;
  /** Succeeded or Failed: no longer holds node resources. */
  terminal: boolean;
  /** deletionTimestamp is set. */
  deleting: boolean;
  /** Still held by the Muster scheduling gate. */
  gated: boolean;
  /** spec.terminationGracePeriodSeconds (30, the API default, when unset). */
  terminationGraceSeconds: number;
  /** Effective requests (see pod-requests.ts), in milli-units, including `pods`. */
  requests: ResourceList;
  /**
   * The one node a required node affinity pins the pod to (every nodeSelectorTerm names only it
   * with `matchFields metadata.name In`), '' when none; how Muster pins members.
   */
  pinnedNode: string;
  /** The PodScheduled condition, when the pod has one. */
  scheduled?: ScheduledCondition;
  /** Set for pods Muster created. */
  member?: MemberMeta;
  /**
   * The gang's ResourceClaimTemplates a member names (spec.resourceClaims), so they are deleted
   * with the gang even by an agent that restarted without the dispatch. Empty for other pods.
   */
  claimTemplates: string[];
  /** Why the pod is where it is: status reason, container waiting / terminated reason. */
  reason: string;
  /** Exit code of the first container that ended non-zero (else of the first that ended). */
  exitCode: number;
  /** Reason of a DisruptionTarget condition (preemption, eviction, taint manager), if any. */
  disruption: string;
  /** metadata.uid ('' when unknown). */
  uid: string;
  /** The eviction notice annotation, '' when the pod has none. */
  notice: string;
  /** A problem met while counting the pod's requests, if any. */
  problem?: string;
}

const PHASES = new Set<string>(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']);

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function nonNegativeInt(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

export function nodeRecord(node: NodeLike): NodeRecord | undefined {
  const name = node.metadata?.name;
  if (!name) return undefined;
  const alloc = parseResourceList(node.status?.allocatable ?? {}, 'allocatable');
  return {
    name,
    labels: { ...(node.metadata?.labels ?? {}) },
    taints: (node.spec?.taints ?? []).map((t) => ({
      key: t.key ?? '',
      value: t.value ?? '',
      effect: t.effect ?? '',
    })),
    allocatable: alloc.ok ? alloc.value : {},
    unschedulable: node.spec?.unschedulable === true,
    ready: (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  };
}

/** Muster member metadata from labels/annotations, or undefined for other pods. */
export function memberMeta(
  labels: Record<string, string> | null | undefined,
  annotations: Record<string, string> | null | undefined,
): MemberMeta | undefined {
  const gangId = labels?.[LABEL_GANG_ID];
  if (!gangId) return undefined;
  const token = nonNegativeInt(labels?.[LABEL_FENCING_TOKEN]);
  const index = nonNegativeInt(labels?.[LABEL_MEMBER_INDEX]);
  if (token === undefined || index === undefined) return undefined;
  const meta: MemberMeta = {
    gangId,
    jobId: labels?.[LABEL_JOB_ID] ?? '',
    token,
    podSet: labels?.[LABEL_POD_SET] ?? '',
    index,
    onClusterLost: annotations?.[ANNOTATION_ON_CLUSTER_LOST] === 'requeue' ? 'requeue' : 'wait',
    gangSize: nonNegativeInt(annotations?.[ANNOTATION_GANG_SIZE]) ?? 0,
  };
  const timeout = nonNegativeInt(annotations?.[ANNOTATION_SELF_FENCE_TIMEOUT_MS]);
  if (timeout !== undefined && timeout > 0) meta.selfFenceTimeoutMs = timeout;
  const grace = nonNegativeInt(annotations?.[ANNOTATION_FENCE_DELETE_GRACE_S]);
  if (grace !== undefined) meta.fenceDeleteGraceSeconds = grace;
  return meta;
}

function exitInfo(statuses: ContainerStatusLike[]): { exitCode: number; reason: string } {
  let first: { exitCode: number; reason: string } | undefined;
  for (const s of statuses) {
    const t = s.state?.terminated;
    if (!t) continue;
    const info = { exitCode: t.exitCode ?? 0, reason: t.reason ?? '' };
    if (info.exitCode !== 0) return info;
    first ??= info;
  }
  return first ?? { exitCode: 0, reason: '' };
}

/**
 * The single node the pod's required node affinity allows by name, or ''. Terms are ORed: each
 * must restrict `metadata.name` with In (several In requirements of one term intersect), and the
 * union over the terms must be exactly one node. Other requirements only narrow a term further,
 * so they cannot widen it beyond that node.
 */
export function pinnedNodeOf(spec: PodLike['spec']): string {
  const terms =
    spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  if (terms.length === 0) return '';
  const union = new Set<string>();
  for (const term of terms) {
    let allowed: Set<string> | undefined;
    for (const f of term.matchFields ?? []) {
      if (f.key !== 'metadata.name' || f.operator !== 'In') continue;
      const values = new Set(f.values ?? []);
      allowed = allowed ? new Set([...allowed].filter((v) => values.has(v))) : values;
    }
    if (!allowed) return ''; // this term allows any node name
    for (const n of allowed) union.add(n);
  }
  return union.size === 1 ? [...union][0]! : '';
}

function scheduledCondition(pod: PodLike): ScheduledCondition | undefined {
  const c = (pod.status?.conditions ?? []).find((x) => x.type === 'PodScheduled');
  if (!c) return undefined;
  return {
    status: c.status ?? '',
    reason: c.reason ?? '',
    message: (c.message ?? '').slice(0, MAX_CONDITION_MESSAGE),
  };
}

function graceOf(raw: number | null | undefined): number {
  return typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0 ? raw : 30;
}

export function podRecord(pod: PodLike): PodRecord | undefined {
  const name = pod.metadata?.name;
  const namespace = pod.metadata?.namespace ?? '';
  if (!name) return undefined;
  const rawPhase = pod.status?.phase ?? 'Pending';
  const phase = (PHASES.has(rawPhase) ? rawPhase : 'Unknown') as PodPhase;
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const { requests, problem } = podRequests(pod.spec);
  const statuses = pod.status?.containerStatuses ?? [];
  const exit = exitInfo(statuses);
  const waiting = statuses.find((s) => s.state?.waiting?.reason)?.state?.waiting?.reason ?? '';
  const gated = (pod.spec?.schedulingGates ?? []).some((g) => g.name === SCHEDULING_GATE);
  const disruption =
    (pod.status?.conditions ?? []).find((c) => c.type === 'DisruptionTarget' && c.status === 'True')
      ?.reason ?? '';
  const scheduled = scheduledCondition(pod);
  // The scheduler skips gated pods, so a claim is allocated only after ungating; a member still
  // unbound because of its claim says so (the condition's message names the claim).
  const claimPending =
    !pod.spec?.nodeName &&
    !terminal &&
    scheduled?.status === 'False' &&
    (pod.spec?.resourceClaims ?? []).length > 0 &&
    /claim/i.test(scheduled.message);
  const reason =
    pod.status?.reason ||
    (terminal ? exit.reason : '') ||
    waiting ||
    (gated ? 'SchedulingGated' : '') ||
    (claimPending ? 'ResourceClaimPending' : '');
  const record: PodRecord = {
    uid: pod.metadata?.uid ?? '',
    notice: pod.metadata?.annotations?.[ANNOTATION_EVICTION_NOTICE] ?? '',
    key: podKey(namespace, name),
    namespace,
    name,
    nodeName: pod.spec?.nodeName ?? '',
    phase,
    terminal,
    deleting:
      pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null,
    gated,
    terminationGraceSeconds: graceOf(pod.spec?.terminationGracePeriodSeconds),
    requests,
    pinnedNode: pinnedNodeOf(pod.spec),
    reason,
    exitCode: terminal ? exit.exitCode : 0,
    disruption,
    claimTemplates: [],
  };
  if (scheduled) record.scheduled = scheduled;
  const member = memberMeta(pod.metadata?.labels, pod.metadata?.annotations);
  // Labels alone are forgeable (anyone who can create pods can copy them): a member is the pod
  // under the deterministic name the agent gives it, so a copy never counts or is reported.
  if (member && name === memberPodName(member.gangId, member.token, member.podSet, member.index)) {
    record.member = member;
    // Only names the agent gave (a copy's names could point at anyone's templates).
    const prefix = claimTemplateName(member.gangId, member.token, '');
    for (const c of pod.spec?.resourceClaims ?? []) {
      const t = c.resourceClaimTemplateName;
      if (t && t.startsWith(prefix) && !record.claimTemplates.includes(t))
        record.claimTemplates.push(t);
    }
  }
  if (problem) record.problem = problem;
  return record;
}

/**
 * Drops everything of a Pod but what podRecord reads (used on list pages before they are held
 * all at once). podRecord(slimPod(p)) equals podRecord(p).
 */
export function slimPod(pod: PodLike): PodLike {
  const m = pod.metadata ?? {};
  const keepAnnotations: Record<string, string> = {};
  for (const k of [
    ANNOTATION_ON_CLUSTER_LOST,
    ANNOTATION_GANG_SIZE,
    ANNOTATION_SELF_FENCE_TIMEOUT_MS,
    ANNOTATION_FENCE_DELETE_GRACE_S,
  ]) {
    const v = m.annotations?.[k];
    if (v !== undefined) keepAnnotations[k] = v;
  }
  const keepLabels: Record<string, string> = {};
  for (const k of [
    LABEL_GANG_ID,
    LABEL_JOB_ID,
    LABEL_FENCING_TOKEN,
    LABEL_POD_SET,
    LABEL_MEMBER_INDEX,
  ]) {
    const v = m.labels?.[k];
    if (v !== undefined) keepLabels[k] = v;
  }
  const res = (c: { resources?: unknown; restartPolicy?: string | null }) => ({
    resources: c.resources as PodSpecLike['resources'],
    restartPolicy: c.restartPolicy,
  });
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      labels: keepLabels,
      annotations: keepAnnotations,
      deletionTimestamp: m.deletionTimestamp ?? undefined,
      ...({ resourceVersion: (m as { resourceVersion?: string }).resourceVersion } as object),
    },
    spec: {
      nodeName: pod.spec?.nodeName,
      terminationGracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds,
      schedulingGates: pod.spec?.schedulingGates,
      resourceClaims: pod.spec?.resourceClaims?.map((c) => ({
        name: c.name,
        resourceClaimName: c.resourceClaimName,
        resourceClaimTemplateName: c.resourceClaimTemplateName,
      })),
      // Only the name requirements of the required terms decide the pinned node.
      affinity: slimAffinity(pod.spec?.affinity),
      containers: (pod.spec?.containers ?? []).map(res),
      initContainers: (pod.spec?.initContainers ?? []).map(res),
      overhead: pod.spec?.overhead,
      resources: pod.spec?.resources,
    },
    status: {
      phase: pod.status?.phase,
      reason: pod.status?.reason,
      conditions: (pod.status?.conditions ?? [])
        .filter((c) => c.type === 'DisruptionTarget' || c.type === 'PodScheduled')
        .map((c) => ({
          type: c.type,
          status: c.status,
          reason: c.reason,
          ...(c.type === 'PodScheduled'
            ? { message: c.message?.slice(0, MAX_CONDITION_MESSAGE) }
            : {}),
        })),
      containerStatuses: (pod.status?.containerStatuses ?? []).map((s) => ({
        name: s.name,
        state: {
          waiting: s.state?.waiting ? { reason: s.state.waiting.reason } : undefined,
          terminated: s.state?.terminated
            ? { exitCode: s.state.terminated.exitCode, reason: s.state.terminated.reason }
            : undefined,
        },
      })),
    },
  };
}

function slimAffinity(affinity: NonNullable<PodLike['spec']>['affinity']) {
  const terms =
    affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms) return undefined;
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: terms.map((t) => ({
          matchFields: (t.matchFields ?? []).filter((f) => f.key === 'metadata.name'),
        })),
      },
    },
  };
}
