// Clusters and queues as the hub reasons about them (ClusterProfile fields plus Muster's own).

export type AgentStateName = 'NeverConnected' | 'Connected' | 'Lost';

/** spec.clusterManager.name of the clusters Muster manages itself. */
export const MUSTER_CLUSTER_MANAGER = 'muster';

export interface ConditionValue {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface PropertyValue {
  name: string;
  value: string;
  lastObservedTime?: string;
}

export interface ClusterAccessValue {
  server: string;
  /** Base64 of the CA bundle, as in a kubeconfig. */
  certificateAuthorityData: string;
  tlsServerName: string;
  proxyUrl: string;
  insecureSkipTlsVerify: boolean;
  extensions: { name: string; extension: unknown }[];
}

export interface AccessProviderValue {
  name: string;
  cluster: ClusterAccessValue;
}

export interface CapacitySummaryValue {
  nodeCount: number;
  readyNodeCount: number;
  allocatable: Record<string, string>;
  free: Record<string, string>;
  observedAt: string;
}

/** Default topology levels when a cluster is registered without its own. */
export const DEFAULT_TOPOLOGY_LEVELS = [
  'topology.kubernetes.io/zone',
  'cloud.provider.com/topology-block',
  'cloud.provider.com/topology-rack',
  'kubernetes.io/hostname',
];
