// The job-level settings every manifest kind yields (name, queue, priority, ...), each with the
// place it was written so errors and hub refusals can point at it.
import { OnClusterLost } from '@muster/api';
import type { ClaimTemplate } from './claim-templates';
import type { DocumentReader } from './document-reader';
import type { PodSetGroupSource, PodSetSource } from './pod-sets';

/** Kubernetes' default, for jobs and ResourceClaimTemplates that name no namespace. */
export const DEFAULT_NAMESPACE = 'default';

export interface Located<T> {
  value: T;
  /** A path in the document ("metadata.name") or a flag ("--queue"). */
  path: string;
}

export interface JobSettings {
  name?: Located<string>;
  queue?: Located<string>;
  priority?: Located<number>;
  /** A priority class the hub defines (JobSpec.priorityClass); the hub resolves its value. */
  priorityClass?: Located<string>;
  onClusterLost?: Located<OnClusterLost>;
  maxRestarts?: Located<number>;
  namespace?: Located<string>;
  /** A device attribute every claimed device of the gang shares (JobSpec.matchDeviceAttribute). */
  matchDeviceAttribute?: Located<string>;
  /** Seconds of notice before the gang is deleted when preempted (JobSpec.evictionGraceSeconds). */
  evictionGraceSeconds?: Located<number>;
  labels: Record<string, string>;
  labelsPath: string;
}

/** Most seconds of eviction notice a job may ask for (the hub's limit: a day). */
export const MAX_EVICTION_GRACE_SECONDS = 86_400;

/** "" when `value` is a notice the hub takes, else what is wrong with it. */
export function evictionGraceProblem(value: unknown): string {
  const ok =
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= 0 &&
    value <= MAX_EVICTION_GRACE_SECONDS;
  return ok ? '' : `must be a whole number of seconds from 0 to ${MAX_EVICTION_GRACE_SECONDS}`;
}

/**
 * A setting written twice (a Gang's spec repeating its metadata, a Kueue label and Muster's
 * annotation) must not contradict itself; the second place is kept.
 */
export function agree<T>(
  reader: DocumentReader,
  first: Located<T> | undefined,
  second: Located<T>,
): Located<T> {
  if (first !== undefined && first.value !== second.value) {
    reader.fail(
      second.path,
      `${JSON.stringify(second.value)} contradicts ${first.path} (${JSON.stringify(first.value)}); keep one`,
    );
  }
  return second;
}

export type ManifestKind =
  | 'Job'
  | 'JobSet'
  | 'Gang'
  | 'PyTorchJob'
  | 'TFJob'
  | 'JAXJob'
  | 'PaddleJob'
  | 'XGBoostJob'
  | 'MPIJob'
  | 'RayCluster'
  | 'RayJob'
  | 'LeaderWorkerSet'
  /** Known only to be refused: its pods come from a runtime the CLI cannot see. */
  | 'TrainJob';

/** What converting one document of a supported kind gives, before flags are applied. */
export interface KindConversion {
  kind: ManifestKind;
  settings: JobSettings;
  podSets: PodSetSource[];
  groups: PodSetGroupSource[];
  /** A Gang's own spec.resourceClaimTemplates. */
  claimTemplates?: ClaimTemplate[];
}

const ON_CLUSTER_LOST: Record<string, OnClusterLost> = {
  wait: OnClusterLost.ON_CLUSTER_LOST_WAIT,
  requeue: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
};

export const ON_CLUSTER_LOST_CHOICES = Object.keys(ON_CLUSTER_LOST);

/** "wait" or "requeue" (any case, or the enum name) to the wire enum; undefined when neither. */
export function parseOnClusterLost(text: string): OnClusterLost | undefined {
  const key = text.toLowerCase().replace(/^on_cluster_lost_/, '');
  return ON_CLUSTER_LOST[key];
}
