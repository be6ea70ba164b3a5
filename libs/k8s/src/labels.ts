// Names Muster puts on the objects it creates in a worker cluster. The agent reads a gang back
// from them after a restart; the hub selects a gang's pods by them when it fences a lost cluster
// through the worker's API server.

/** Label: the gang a member pod (or PodGroup) belongs to (the hub's gang id). */
export const LABEL_GANG_ID = 'muster.dev/gang-id';
/** Label: the job the gang belongs to (the hub's job id). */
export const LABEL_JOB_ID = 'muster.dev/job-id';
/** Label: the dispatch generation the object was created with (decimal integer). */
export const LABEL_FENCING_TOKEN = 'muster.dev/fencing-token';

/** API group, version and plural of the upstream Workload API's PodGroup (Kubernetes 1.36, alpha). */
export const PODGROUP_GROUP = 'scheduling.k8s.io';
export const PODGROUP_VERSION = 'v1alpha2';
export const PODGROUP_PLURAL = 'podgroups';
