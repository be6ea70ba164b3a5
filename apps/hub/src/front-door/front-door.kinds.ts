// The kinds the front door takes from the management cluster, and where each keeps the two
// switches that stop it from running there: `suspend` and `managedBy` (MultiKueue's way too).

export interface WatchedKind {
  kind: string;
  group: string;
  version: string;
  plural: string;
  /** Path of the kind's suspend flag. */
  suspendPath: readonly string[] | undefined;
  /** Path of the kind's managedBy field. */
  managedByPath: readonly string[] | undefined;
}

/** `spec.managedBy` that hands an object to Muster: its own controller leaves it alone. */
export const MUSTER_MANAGED_BY = 'muster.dev/hub';
/** managedBy values that name a kind's own controller: the object is not another manager's. */
const OWN_CONTROLLERS = new Set([
  'kubernetes.io/job-controller',
  'jobset.sigs.k8s.io/jobset-controller',
  'kubeflow.org/training-operator',
  'ray.io/kuberay-operator',
]);

/** The multi-cluster manager other than Muster that the object names in managedBy, if any. */
export function otherManager(kind: WatchedKind, object: unknown): string | undefined {
  const owner = kind.managedByPath && valueAt(object, kind.managedByPath);
  if (typeof owner !== 'string' || owner === MUSTER_MANAGED_BY || OWN_CONTROLLERS.has(owner))
    return undefined;
  return owner;
}

/** Labels that bring an object to Muster: its own, and Kueue's (so Kueue's manifests work as they are). */
export const MUSTER_QUEUE_LABEL = 'muster.dev/queue';
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';
export const QUEUE_LABELS = [MUSTER_QUEUE_LABEL, KUEUE_QUEUE_LABEL] as const;

/** Annotations the front door writes on each object it took. */
export const FRONT_DOOR_ANNOTATIONS = {
  job: 'muster.dev/job-id',
  state: 'muster.dev/state',
  reason: 'muster.dev/reason',
  message: 'muster.dev/message',
  cluster: 'muster.dev/cluster',
} as const;

const SPEC = ['spec'];
const RUN_POLICY = ['spec', 'runPolicy'];

function kind(
  name: string,
  group: string,
  version: string,
  plural: string,
  switches: readonly string[] | undefined,
): WatchedKind {
  return {
    kind: name,
    group,
    version,
    plural,
    suspendPath: switches && [...switches, 'suspend'],
    managedByPath: switches && [...switches, 'managedBy'],
  };
}

export const WATCHED_KINDS: readonly WatchedKind[] = [
  kind('Job', 'batch', 'v1', 'jobs', SPEC),
  kind('JobSet', 'jobset.x-k8s.io', 'v1alpha2', 'jobsets', SPEC),
  kind('PyTorchJob', 'kubeflow.org', 'v1', 'pytorchjobs', RUN_POLICY),
  kind('TFJob', 'kubeflow.org', 'v1', 'tfjobs', RUN_POLICY),
  kind('JAXJob', 'kubeflow.org', 'v1', 'jaxjobs', RUN_POLICY),
  kind('PaddleJob', 'kubeflow.org', 'v1', 'paddlejobs', RUN_POLICY),
  kind('XGBoostJob', 'kubeflow.org', 'v1', 'xgboostjobs', RUN_POLICY),
  kind('MPIJob', 'kubeflow.org', 'v2beta1', 'mpijobs', RUN_POLICY),
  kind('RayJob', 'ray.io', 'v1', 'rayjobs', SPEC),
  kind('RayCluster', 'ray.io', 'v1', 'rayclusters', SPEC),
  // A LeaderWorkerSet has neither switch: its pods start in the management cluster if it can run them.
  kind('LeaderWorkerSet', 'leaderworkerset.x-k8s.io', 'v1', 'leaderworkersets', undefined),
];

export function apiVersionOf(k: WatchedKind): string {
  return k.group === '' ? k.version : `${k.group}/${k.version}`;
}

/** The value at `path` of an object, or undefined. */
export function valueAt(object: unknown, path: readonly string[]): unknown {
  let v: unknown = object;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A merge patch setting `path` to `value`. */
export function patchAt(path: readonly string[], value: unknown): Record<string, unknown> {
  let out: unknown = value;
  for (const key of [...path].reverse()) out = { [key]: out };
  return out as Record<string, unknown>;
}
