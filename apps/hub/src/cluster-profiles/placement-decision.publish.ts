// Pure mapping from Muster's placed gangs to PlacementDecisions (multicluster.x-k8s.io/v1alpha1,
// KEP-5313), and the plan of one sync pass: which objects to apply and which to delete, given the
// cached objects. No I/O and no clock, so every replica computes the same objects from the same rows
// and an unchanged gang is never written again.
import {
  CLUSTER_PROFILE_API_VERSION,
  CLUSTER_PROFILE_GROUP,
  CLUSTER_PROFILE_VERSION,
  LABEL_CLUSTER_MANAGER,
  type ProfileObjectMeta,
} from '@muster/k8s';
import { MUSTER_CLUSTER_MANAGER } from '../inventory/cluster.domain';
import { canonical } from './cluster-profile.publish';

export const PLACEMENT_DECISION_API_VERSION = CLUSTER_PROFILE_API_VERSION;
export const PLACEMENT_DECISION_GROUP = CLUSTER_PROFILE_GROUP;
export const PLACEMENT_DECISION_VERSION = CLUSTER_PROFILE_VERSION;
export const PLACEMENT_DECISION_KIND = 'PlacementDecision';
export const PLACEMENT_DECISION_PLURAL = 'placementdecisions';
export const PLACEMENT_DECISION_CRD_NAME = `${PLACEMENT_DECISION_PLURAL}.${PLACEMENT_DECISION_GROUP}`;
/** Where the CRD Muster ships lives in the repository (named in the warning when it is missing). */
export const PLACEMENT_DECISION_CRD_FILE = `infra/crds/${PLACEMENT_DECISION_CRD_NAME}.yaml`;

/** The upstream label linking a decision to the workload it places: here the job id. */
export const LABEL_PLACEMENT_KEY = 'multicluster.x-k8s.io/placement-key';
/** The queue of the job, so a consumer can select one queue's decisions. */
export const LABEL_QUEUE = 'muster.dev/queue';
/** The job's name (annotation: names are free text). */
export const ANNOTATION_JOB_NAME = 'muster.dev/job-name';
/** spec-less field schedulerName of Muster's decisions. */
export const SCHEDULER_NAME = 'muster';
/** Most decisions one object may hold (the CRD's maxItems). */
export const MAX_DECISIONS = 100;

const NAME_PREFIX = 'muster-';

/** REST path of the PlacementDecision collection of a namespace. */
export function placementDecisionsPath(namespace: string): string {
  return `/apis/${PLACEMENT_DECISION_GROUP}/${PLACEMENT_DECISION_VERSION}/namespaces/${namespace}/${PLACEMENT_DECISION_PLURAL}`;
}

/** The upstream ClusterProfileReference: a name, and a namespace when not the decision's own. */
export interface ClusterProfileReference {
  name: string;
  namespace?: string;
}

export interface ClusterDecision {
  clusterProfileRef: ClusterProfileReference;
  reason?: string;
}

/** A PlacementDecision as the API server returns it. */
export interface PlacementDecision {
  apiVersion?: string;
  kind?: string;
  metadata: ProfileObjectMeta;
  decisions?: ClusterDecision[];
  schedulerName?: string;
}

/** Server-side apply configuration of a decision: every field Muster owns. */
export interface PlacementDecisionApply {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
  };
  schedulerName: string;
  decisions: { clusterProfileRef: Required<ClusterProfileReference>; reason?: string }[];
}

/** A gang with a reservation, Dispatched or Running, with what its ClusterProfile is known by. */
export interface PlacedGang {
  jobId: string;
  /** The job's name ('' when it has none). */
  name: string;
  queue: string;
  /** The reservation's cluster. */
  cluster: string;
  /** Why it is there: the message of its reservation ("placed on worker-b in zone-a/rack-1"). */
  reason: string;
  /** Whether the cluster row is read-only (imported); undefined when there is no such row. */
  clusterReadOnly: boolean | undefined;
  /** For an imported cluster: the namespace of the ClusterProfile it was imported from. */
  importedFrom: string | undefined;
}

export interface DecisionSettings {
  /** Namespace of Muster's ClusterProfiles, and of its PlacementDecisions. */
  namespace: string;
}

/** The object name of a gang's decision: deterministic, so replicas and restarts agree. */
export function decisionName(jobId: string): string {
  return `${NAME_PREFIX}${jobId}`;
}

/** Whether a decision is Muster's by its label (the only ones Muster ever deletes). */
export function labelledMusters(obj: PlacementDecision): boolean {
  return obj.metadata.labels?.[LABEL_CLUSTER_MANAGER] === MUSTER_CLUSTER_MANAGER;
}

/**
 * Whether an object may be written by Muster: its label or its schedulerName says Muster (the
 * latter so a hand edit that dropped the label is still reverted).
 */
export function writableByMuster(obj: PlacementDecision): boolean {
  return labelledMusters(obj) || obj.schedulerName === SCHEDULER_NAME;
}

/**
 * The ClusterProfile a gang's cluster is published as: Muster's own in `namespace` for a Muster
 * cluster whose ClusterProfile Muster publishes (`ownProfiles`), the imported one's for an imported
 * cluster; else why there is none.
 */
export function profileRefOf(
  gang: PlacedGang,
  s: DecisionSettings,
  ownProfiles: ReadonlySet<string>,
): Required<ClusterProfileReference> | { missing: string } {
  if (gang.clusterReadOnly === undefined)
    return { missing: `cluster ${gang.cluster} is not in the inventory` };
  if (gang.clusterReadOnly) {
    if (!gang.importedFrom)
      return { missing: `imported cluster ${gang.cluster} names no ClusterProfile namespace` };
    return { namespace: gang.importedFrom, name: gang.cluster };
  }
  if (!ownProfiles.has(gang.cluster))
    return {
      missing: `no ClusterProfile of Muster's named ${gang.cluster} in namespace ${s.namespace} (not published yet, or the name is another manager's)`,
    };
  return { namespace: s.namespace, name: gang.cluster };
}

/** The decision Muster publishes for a placed gang, or why it publishes none. */
export function decisionObjectFor(
  gang: PlacedGang,
  s: DecisionSettings,
  ownProfiles: ReadonlySet<string>,
): PlacementDecisionApply | { missing: string } {
  const ref = profileRefOf(gang, s, ownProfiles);
  if ('missing' in ref) return ref;
  const labels: Record<string, string> = {
    [LABEL_PLACEMENT_KEY]: gang.jobId,
    [LABEL_CLUSTER_MANAGER]: MUSTER_CLUSTER_MANAGER,
    [LABEL_QUEUE]: gang.queue,
  };
  return {
    apiVersion: PLACEMENT_DECISION_API_VERSION,
    kind: PLACEMENT_DECISION_KIND,
    metadata: {
      name: decisionName(gang.jobId),
      namespace: s.namespace,
      labels,
      ...(gang.name !== '' ? { annotations: { [ANNOTATION_JOB_NAME]: gang.name } } : {}),
    },
    schedulerName: SCHEDULER_NAME,
    decisions: [{ clusterProfileRef: ref, ...(gang.reason !== '' ? { reason: gang.reason } : {}) }],
  };
}

function normalizedDecisions(list: readonly ClusterDecision[] | undefined, ns: string) {
  return (list ?? []).map((d) => ({
    name: d.clusterProfileRef?.name ?? '',
    namespace: d.clusterProfileRef?.namespace || ns,
    reason: d.reason ?? '',
  }));
}

/** Whether the published object differs from what Muster applies (fields of others ignored). */
export function decisionDiffers(
  desired: PlacementDecisionApply,
  observed: PlacementDecision | undefined,
): boolean {
  if (!observed) return true;
  if (observed.schedulerName !== desired.schedulerName) return true;
  const ns = desired.metadata.namespace;
  if (
    canonical(normalizedDecisions(observed.decisions, ns)) !==
    canonical(normalizedDecisions(desired.decisions, ns))
  )
    return true;
  const labels = observed.metadata.labels ?? {};
  for (const [k, v] of Object.entries(desired.metadata.labels)) if (labels[k] !== v) return true;
  const annotations = observed.metadata.annotations ?? {};
  for (const [k, v] of Object.entries(desired.metadata.annotations ?? {}))
    if (annotations[k] !== v) return true;
  return false;
}

/** "<resourceVersion>|<desired>": what one write sent to which version of an object. */
export function writeMark(observed: PlacementDecision, desired: PlacementDecisionApply): string {
  return `${observed.metadata.resourceVersion ?? ''}|${canonical(desired)}`;
}

export interface PassInput {
  gangs: readonly PlacedGang[];
  /** Every cached PlacementDecision of the namespace (list + watch). */
  observed: readonly PlacementDecision[];
  /** Names of the ClusterProfiles Muster publishes in the namespace. */
  ownProfiles: ReadonlySet<string>;
  /** writeMark of the last write per object name: the same write is never sent twice. */
  lastWrite: ReadonlyMap<string, string>;
  settings: DecisionSettings;
}

export interface PassPlan {
  /** Objects to server-side apply; `created` when none is cached. */
  applies: { object: PlacementDecisionApply; jobId: string; created: boolean }[];
  /** Muster's objects (by label) that no gang wants: name, uid and the job id they carry. */
  deletes: { name: string; uid: string | undefined; jobId: string | undefined }[];
  /** Gangs without a decision, and why, grouped by cluster. */
  skipped: Map<string, { reason: string; jobIds: string[] }>;
  /** Objects of another scheduler under the name a gang's decision would have. */
  taken: { name: string; jobId: string; schedulerName: string | undefined }[];
}

/** What one pass writes, given the placed gangs and the cache. */
export function planPass(input: PassInput): PassPlan {
  const { gangs, observed, ownProfiles, lastWrite, settings } = input;
  const byName = new Map(observed.map((o) => [o.metadata.name, o]));
  const plan: PassPlan = { applies: [], deletes: [], skipped: new Map(), taken: [] };
  const wanted = new Set<string>();
  for (const gang of gangs) {
    const desired = decisionObjectFor(gang, settings, ownProfiles);
    if ('missing' in desired) {
      const s = plan.skipped.get(gang.cluster) ?? { reason: desired.missing, jobIds: [] };
      s.jobIds.push(gang.jobId);
      plan.skipped.set(gang.cluster, s);
      continue;
    }
    const name = desired.metadata.name;
    wanted.add(name);
    const current = byName.get(name);
    if (current && !writableByMuster(current)) {
      plan.taken.push({ name, jobId: gang.jobId, schedulerName: current.schedulerName });
      continue;
    }
    if (current?.metadata.deletionTimestamp) continue; // applied again once it is gone
    if (!decisionDiffers(desired, current)) continue;
    // Sent to this very version already: what still differs is not Muster's to fix.
    if (current && lastWrite.get(name) === writeMark(current, desired)) continue;
    plan.applies.push({ object: desired, jobId: gang.jobId, created: current === undefined });
  }
  for (const obj of observed) {
    const name = obj.metadata.name;
    if (wanted.has(name) || !labelledMusters(obj) || obj.metadata.deletionTimestamp) continue;
    plan.deletes.push({
      name,
      uid: obj.metadata.uid,
      jobId: obj.metadata.labels?.[LABEL_PLACEMENT_KEY],
    });
  }
  return plan;
}
