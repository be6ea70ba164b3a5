// The SIG-Multicluster Cluster Inventory API (ClusterProfile, multicluster.x-k8s.io/v1alpha1) as
// JSON on the wire: the field names are the API's own, so these objects go to and come from the
// API server unchanged.

export const CLUSTER_PROFILE_GROUP = 'multicluster.x-k8s.io';
export const CLUSTER_PROFILE_VERSION = 'v1alpha1';
export const CLUSTER_PROFILE_API_VERSION = `${CLUSTER_PROFILE_GROUP}/${CLUSTER_PROFILE_VERSION}`;
export const CLUSTER_PROFILE_KIND = 'ClusterProfile';
export const CLUSTER_PROFILE_PLURAL = 'clusterprofiles';
export const CLUSTER_PROFILE_CRD_NAME = `${CLUSTER_PROFILE_PLURAL}.${CLUSTER_PROFILE_GROUP}`;

/** Label naming the cluster manager of a ClusterProfile; its value equals spec.clusterManager.name. */
export const LABEL_CLUSTER_MANAGER = 'x-k8s.io/cluster-manager';
/** Label naming the ClusterSet a ClusterProfile belongs to. */
export const LABEL_CLUSTER_SET = 'multicluster.x-k8s.io/clusterset';

/** The API's predefined health condition. */
export const CONDITION_CONTROL_PLANE_HEALTHY = 'ControlPlaneHealthy';
/** Set by cluster managers once the cluster has joined (for Muster: its agent has connected). */
export const CONDITION_JOINED = 'Joined';

/** Cluster extension whose value becomes ExecCredential spec.cluster.config (SIG Auth). */
export const EXEC_EXTENSION_KEY = 'client.authentication.k8s.io/exec';
/** Cluster extension (KEP-5339): extra arguments for the exec plugin, a list of strings. */
export const ADDITIONAL_ARGS_EXTENSION_KEY =
  'clusterprofiles.multicluster.x-k8s.io/exec/additional-args';
/** Cluster extension (KEP-5339): extra environment variables for the exec plugin, a string map. */
export const ADDITIONAL_ENVS_EXTENSION_KEY =
  'clusterprofiles.multicluster.x-k8s.io/exec/additional-envs';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
}

export interface ProfileObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  deletionTimestamp?: string;
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
}

export interface ClusterProfileSpec {
  displayName?: string;
  /** Immutable once set. */
  clusterManager: { name: string };
}

/** metav1.Condition. */
export interface ProfileCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  /** RFC 3339. */
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ProfileProperty {
  /** 1 to 253 characters. */
  name: string;
  /** 1 to 1024 characters. */
  value: string;
  /** RFC 3339: when the value was observed on the cluster. */
  lastObservedTime?: string;
}

/** A kubeconfig NamedExtension. */
export interface NamedExtension {
  name: string;
  extension: unknown;
}

/** A kubeconfig (clientcmd v1) Cluster, with its kebab-case field names. */
export interface KubeconfigCluster {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'certificate-authority'?: string;
  /** Base64 of the PEM bundle. */
  'certificate-authority-data'?: string;
  'proxy-url'?: string;
  'disable-compression'?: boolean;
  extensions?: NamedExtension[];
}

/** One way to reach the cluster; `name` matches a consumer's configured provider. */
export interface ProfileAccessProvider {
  name: string;
  cluster: KubeconfigCluster;
}

export interface ClusterProfileStatus {
  conditions?: ProfileCondition[];
  version?: { kubernetes?: string };
  properties?: ProfileProperty[];
  accessProviders?: ProfileAccessProvider[];
  /** Deprecated alias of accessProviders; on a name clash accessProviders wins. */
  credentialProviders?: ProfileAccessProvider[];
}

export interface ClusterProfile {
  apiVersion: string;
  kind: string;
  metadata: ProfileObjectMeta;
  spec: ClusterProfileSpec;
  status?: ClusterProfileStatus;
}

export interface ClusterProfileList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: ClusterProfile[];
}

/** REST path of the ClusterProfile collection of a namespace. */
export function clusterProfilesPath(namespace: string): string {
  return `/apis/${CLUSTER_PROFILE_GROUP}/${CLUSTER_PROFILE_VERSION}/namespaces/${namespace}/${CLUSTER_PROFILE_PLURAL}`;
}

/** RFC 3339 with second precision, the form Kubernetes writes metav1.Time in. */
export function rfc3339(time: Date | string | number): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
