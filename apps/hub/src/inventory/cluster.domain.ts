// Clusters and queues as the hub reasons about them (ClusterProfile fields plus Muster's own).

export type AgentStateName = 'NeverConnected' | 'Connected' | 'Lost';

/** spec.clusterManager.name of the clusters Muster manages itself. */
export const MUSTER_CLUSTER_MANAGER = 'muster';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface Property {
  name: string;
  value: string;
  lastObservedTime?: string;
}

export interface ClusterAccess {
  server: string;
  /** Base64 of the CA bundle, as in a kubeconfig. */
  certificateAuthorityData: string;
  tlsServerName: string;
  proxyUrl: string;
  insecureSkipTlsVerify: boolean;
  extensions: { name: string; extension: unknown }[];
}

export interface AccessProvider {
  name: string;
  cluster: ClusterAccess;
}

export interface CapacitySummary {
  nodeCount: number;
  readyNodeCount: number;
  allocatable: Record<string, string>;
  free: Record<string, string>;
  observedAt: string;
  /** DRA devices per DeviceClass; absent in rows written before devices were reported. */
  devices?: { deviceClass: string; total: number; free: number }[];
}

/** A cluster of the inventory: the ClusterProfile fields plus Muster's own. */
export interface Cluster {
  name: string;
  displayName: string;
  /** spec.clusterManager.name: `muster`, or the manager a read-only cluster was imported from. */
  clusterManager: string;
  clusterSet: string;
  labels: Record<string, string>;
  topologyLevels: string[];
  accessProviders: AccessProvider[];
  conditions: Condition[];
  properties: Property[];
  kubernetesVersion: string;
  capacity: CapacitySummary | null;
  agentState: AgentStateName;
  agentVersion: string;
  lastHeartbeatAt: Date | null;
  cordoned: boolean;
  /** Set while the cluster is drained (it is cordoned too); cleared when uncordoned. */
  drain?: ClusterDrainState | null;
  /** Imported from another cluster manager: shown, never dispatched to, changed only there. */
  readOnly: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A drain in force: every gang on the cluster gets an eviction with this notice. */
export interface ClusterDrainState {
  /** ISO 8601. */
  since: string;
  graceSeconds: number;
  reason: string;
  /** Who drained it (the caller's name). */
  by: string;
  /** Live gangs still on the cluster, counted when read (not stored). */
  gangsLeft?: number;
}

/** What an operator gives when registering a cluster, checked. */
export interface ClusterRegistration {
  name: string;
  displayName: string;
  clusterSet: string;
  labels: Record<string, string>;
  topologyLevels: string[];
  accessProviders: AccessProvider[];
}

/** An operator's change to a registered cluster: each field present is replaced. */
export type ClusterChanges = Partial<Omit<ClusterRegistration, 'name'>>;

/** A queue's settings, as an administrator sets them. */
/**
 * How much a queue's admitted gangs may hold at once, as quantity strings checked at the API
 * (see scheduling/quota for the arithmetic).
 */
export interface QueueQuotaSpec {
  /** Resource → quantity; a resource not named is not limited. */
  nominal: Record<string, string>;
  /** Queues of one cohort lend each other unused nominal quota; absent: neither lends nor borrows. */
  cohort?: string;
  /** Most borrowed beyond nominal, per resource; not named: as much as the cohort lends. */
  borrowingLimit?: Record<string, string>;
  /** Most of its unused nominal lent to the cohort, per resource; not named: all of it. */
  lendingLimit?: Record<string, string>;
}

/** The periods a budget renews with; each starts at 00:00 UTC, weeks on Monday, months on the 1st. */
export type BudgetPeriodName = 'day' | 'week' | 'month';

/**
 * How many device-hours a queue's gangs may use per period (see scheduling/budget): once spent,
 * its running gangs finish and new ones wait for the next period.
 */
export interface QueueBudgetSpec {
  /** The device resource counted, e.g. `nvidia.com/gpu`. */
  resource: string;
  /** Device-hours per period (1 device held for 1 hour = 1), > 0. */
  hours: number;
  period: BudgetPeriodName;
}

export interface QueueSettings {
  name: string;
  description: string;
  /** Share of scheduling turns against other queues (1 to 1000). */
  weight: number;
  /** Namespaces its jobs may target; empty means `default` only. */
  allowedNamespaces: string[];
  /** Absent (NULL in the table): not limited. */
  quota?: QueueQuotaSpec | null;
  /** Absent (NULL in the table): no budget. */
  budget?: QueueBudgetSpec | null;
  /** What its waiting gangs may preempt; absent (NULL in the table): nothing. */
  preemption?: QueuePreemptionSpec | null;
  /** The highest priority its jobs may have; absent (NULL in the table): not bounded. */
  maxPriority?: number | null;
}

/** What a queue's waiting gangs may preempt (see scheduling/preemption). */
export interface QueuePreemptionSpec {
  /** Its own lower-priority gangs. */
  withinQueue: 'Never' | 'LowerPriority';
  /** Gangs of other queues of its cohort holding borrowed quota: of lower priority, or any. */
  reclaimWithinCohort: 'Never' | 'LowerPriority' | 'Any';
}

export interface Queue extends QueueSettings {
  createdAt: Date;
  updatedAt: Date;
}

/** A cohort's own quota: what it adds to its members' pool, and what it borrows from / lends to its parent (see scheduling/quota). */
export interface CohortQuotaSpec {
  /** Resource → quantity, shared by everything under the cohort; may be empty. */
  nominal: Record<string, string>;
  /** Most borrowed from the parent, per resource; not named: as much as the parent lends. */
  borrowingLimit?: Record<string, string>;
  /** Most of its unused quota lent to the parent, per resource; not named: all of it. */
  lendingLimit?: Record<string, string>;
}

/**
 * A cohort's settings, as an administrator sets them. A cohort a queue or another cohort names
 * without a row is an implicit root with no quota.
 */
export interface CohortSettings {
  name: string;
  /** Absent (NULL in the table): a root. It may name an implicit cohort. */
  parent?: string | null;
  description: string;
  /** Absent (NULL in the table): none. */
  quota?: CohortQuotaSpec | null;
}

export interface Cohort extends CohortSettings {
  createdAt: Date;
  updatedAt: Date;
}

/** Default topology levels when a cluster is registered without its own. */
export const DEFAULT_TOPOLOGY_LEVELS = [
  'topology.kubernetes.io/zone',
  'cloud.provider.com/topology-block',
  'cloud.provider.com/topology-rack',
  'kubernetes.io/hostname',
];

/** Why a registered cluster takes no gangs now, in the words `explain` shows. */
export interface ClusterUnavailable {
  cluster: string;
  reasonCode: 'ClusterCordoned' | 'ClusterNotReady' | 'ClusterReadOnly';
  message: string;
}

/**
 * The one rule for which registered clusters a scheduling cycle offers to placement: the
 * cycle's snapshot and `explain` of a gang not yet evaluated both ask it, so they never disagree.
 * `null` means the cluster can take gangs.
 */
export function clusterUnavailable(c: {
  name: string;
  cordoned: boolean;
  agentState: AgentStateName;
  readOnly: boolean;
}): ClusterUnavailable | null {
  const cluster = c.name;
  if (c.readOnly)
    return {
      cluster,
      reasonCode: 'ClusterReadOnly',
      message: 'imported from another cluster manager; Muster does not dispatch to it',
    };
  if (c.cordoned) return { cluster, reasonCode: 'ClusterCordoned', message: 'cluster is cordoned' };
  switch (c.agentState) {
    case 'NeverConnected':
      return { cluster, reasonCode: 'ClusterNotReady', message: 'no agent has connected yet' };
    case 'Lost':
      return { cluster, reasonCode: 'ClusterNotReady', message: 'agent lost; cluster is NotReady' };
    case 'Connected':
      return null;
  }
}
