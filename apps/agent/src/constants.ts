// Names Muster puts on the pods it creates in a worker cluster. Everything the agent knows about
// a gang after a restart is read back from these labels and annotations. The gang, job and token
// labels are shared with the hub, which selects a gang's pods by them when it fences a cluster.
import { LABEL_GANG_ID, PODGROUP_GROUP, PODGROUP_VERSION } from '@muster/k8s';

export { LABEL_FENCING_TOKEN, LABEL_GANG_ID, LABEL_JOB_ID } from '@muster/k8s';
/** Label: the pod set of the member. */
export const LABEL_POD_SET = 'muster.dev/pod-set';
/** Label: the member's index inside its pod set (decimal integer). */
export const LABEL_MEMBER_INDEX = 'muster.dev/member-index';
/** Annotation: "wait" or "requeue" — what the agent does with the gang when the hub is gone. */
export const ANNOTATION_ON_CLUSTER_LOST = 'muster.dev/on-cluster-lost';
/** Annotation: how many members the whole gang has (all pod sets), so a restarted agent knows. */
export const ANNOTATION_GANG_SIZE = 'muster.dev/gang-size';
/**
 * Annotation: the self-fence timeout (ms) the hub had told the agent that created the pod. A
 * restarted agent that cannot reach the hub has no HelloAck, and reads the terms back from here.
 */
export const ANNOTATION_SELF_FENCE_TIMEOUT_MS = 'muster.dev/self-fence-timeout-ms';
/** Annotation: the grace (s) the hub had told for deletes made for fencing; see above. */
export const ANNOTATION_FENCE_DELETE_GRACE_S = 'muster.dev/fence-delete-grace-s';
/**
 * Annotation: the eviction notice of a member whose gang is preempted or whose cluster is
 * drained, as JSON `{reason, message, graceSeconds, noticedAt, deleteAfter}`. A workload reads it
 * through the downward API (a volume of metadata.annotations updates in place) to checkpoint.
 */
export const ANNOTATION_EVICTION_NOTICE = 'muster.dev/eviction-notice';
/** Scheduling gate that holds every member until the whole gang exists. */
export const SCHEDULING_GATE = 'muster.dev/gang';

/** API group/version of the upstream Workload/PodGroup API (Kubernetes 1.36, alpha). */
export const PODGROUP_API = `/apis/${PODGROUP_GROUP}/${PODGROUP_VERSION}`;

/** API group/version of Dynamic Resource Allocation (GA since Kubernetes 1.34). */
export const DRA_API = '/apis/resource.k8s.io/v1';
/** The DRA resources the agent watches (devices, their classes, their allocations). */
export const DRA_WATCHED = ['resourceslices', 'deviceclasses', 'resourceclaims'] as const;
/**
 * Annotation on a ResourceClaimTemplate the agent created: the name the job's pod templates gave
 * it (the agent renames it per gang and token).
 */
export const ANNOTATION_CLAIM_TEMPLATE = 'muster.dev/claim-template';

/** Label selector matching every pod Muster created. */
export const MUSTER_POD_SELECTOR = LABEL_GANG_ID;

export type OnClusterLostPolicy = 'wait' | 'requeue';
