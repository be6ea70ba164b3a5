// The protobuf JSON form of what the hub's /api/v1 answers (as `muster -o json` prints it):
// fields at their default value are left out, so every one is optional.

export type JobStateName =
  | 'JOB_STATE_QUEUED'
  | 'JOB_STATE_RESERVED'
  | 'JOB_STATE_DISPATCHED'
  | 'JOB_STATE_RUNNING'
  | 'JOB_STATE_SUCCEEDED'
  | 'JOB_STATE_FAILED'
  | 'JOB_STATE_CANCELLED';

export interface MemberCounts {
  total?: number;
  pending?: number;
  running?: number;
  succeeded?: number;
  failed?: number;
  bound?: number;
}

export interface PodSet {
  name?: string;
  count?: number;
  podTemplateJson?: string;
  topology?: { level?: string; mode?: string };
}

export interface Job {
  id: string;
  spec?: {
    name?: string;
    queue?: string;
    priority?: number;
    namespace?: string;
    podSets?: PodSet[];
  };
  state?: JobStateName;
  reason?: string;
  message?: string;
  cluster?: string;
  members?: MemberCounts;
  createdAt?: string;
  updatedAt?: string;
  restarts?: number;
}

export interface JobEvent {
  sequence?: string;
  jobId?: string;
  state?: JobStateName;
  reason?: string;
  message?: string;
  cluster?: string;
  time?: string;
  queue?: string;
  members?: MemberCounts;
}

export interface Explanation {
  summary?: string;
  clusters?: { cluster?: string; fits?: boolean; reasonCode?: string; message?: string }[];
  evaluatedAt?: string;
}

export interface Cluster {
  name: string;
  displayName?: string;
  agentState?: string;
  agentVersion?: string;
  lastHeartbeatTime?: string;
  cordoned?: boolean;
  topologyLevels?: string[];
  conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  capacity?: {
    nodeCount?: number;
    readyNodeCount?: number;
    allocatable?: { quantities?: Record<string, string> };
    free?: { quantities?: Record<string, string> };
    devices?: { deviceClass?: string; total?: number; free?: number }[];
    observedAt?: string;
  };
  drain?: { since?: string; gangsLeft?: number };
}

export interface Queue {
  name: string;
  description?: string;
  weight?: number;
  quota?: {
    nominal?: Record<string, string>;
    cohort?: string;
    borrowingLimit?: Record<string, string>;
    lendingLimit?: Record<string, string>;
  };
  usage?: {
    used?: Record<string, string>;
    borrowed?: Record<string, string>;
    available?: Record<string, string>;
    budgetUsedHours?: number;
    budgetLeftHours?: number;
    fairShare?: number;
  };
  budget?: { resource?: string; hours?: number; period?: string };
  maxPriority?: number;
}

export interface Cohort {
  name: string;
  parent?: string;
  description?: string;
  queues?: string[];
  children?: string[];
}

export interface UsageHistory {
  queues: {
    queue: string;
    hours: { start: string; lengthSeconds: number; held: Record<string, number> }[];
  }[];
}

export interface WhoAmI {
  name: string;
  role: string;
  queues: string[] | null;
}

/** GetUtilisation's answer, in the protobuf JSON form. */
export interface UtilisationFigures {
  allocatedHours?: number;
  capacityHours?: number;
  ratio?: number;
}

export interface Utilisation {
  groups?: {
    name: string;
    total?: UtilisationFigures;
    buckets?: { start: string; figures?: UtilisationFigures }[];
  }[];
  /** The fleet's (or every queue's) figures, as a group named total. */
  total?: { total?: UtilisationFigures };
}
