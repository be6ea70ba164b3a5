// Kubernetes manifests (Jobs, JobSets, Gangs, Kubeflow, KubeRay and LeaderWorkerSet objects) as
// Muster JobSpecs: shared by the CLI's `submit -f` and the hub's management-cluster front door.
export {
  DEFAULT_QUEUE,
  draftFromDocument,
  draftsFromDocuments,
  type JobDraft,
  type Submission,
  type SubmitOverrides,
} from './convert';
export { parseManifestText, readManifestFile, type ManifestDocument } from './documents';
export { ManifestError, SubmissionError, manifestPlace } from './errors';
export {
  DEFAULT_NAMESPACE,
  ON_CLUSTER_LOST_CHOICES,
  parseOnClusterLost,
  type ManifestKind,
} from './job-settings';
