// Jobs as the hub reasons about them: validated, free of wire types.

export type JobStateName =
  'Queued' | 'Reserved' | 'Dispatched' | 'Running' | 'Succeeded' | 'Failed' | 'Cancelled';

export const FINAL_STATES: readonly JobStateName[] = ['Succeeded', 'Failed', 'Cancelled'];

export function isFinal(state: JobStateName): boolean {
  return FINAL_STATES.includes(state);
}

export type OnClusterLostPolicy = 'wait' | 'requeue';

export type TopologyModeName = 'required' | 'preferred';

export interface TopologyConstraint {
  mode: TopologyModeName;
  level: string;
}

export interface PodSetSpec {
  name: string;
  count: number;
  /** The core/v1 PodTemplateSpec, parsed and checked. */
  template: Record<string, unknown>;
  /** Effective requests of one member, as Kubernetes counts them (containers, init containers, overhead). */
  requests: Record<string, string>;
  topology?: TopologyConstraint;
}

export interface PodSetGroupSpec {
  podSets: string[];
  level: string;
}

export interface GangSpec {
  podSets: PodSetSpec[];
  groups: PodSetGroupSpec[];
}

export interface JobSpec {
  name: string;
  queue: string;
  priority: number;
  onClusterLost: OnClusterLostPolicy;
  labels: Record<string, string>;
  namespace: string;
  gang: GangSpec;
  /** Restarts of the whole gang allowed after a member failed; absent means 0. */
  maxRestarts?: number;
}

export interface MemberCounts {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  /** Bound to a node by the worker's scheduler (running and finished included). Rows written before it existed lack it. */
  bound?: number;
}

export interface JobEvent {
  sequence: number;
  jobId: string;
  queue: string;
  fromState: JobStateName | null;
  state: JobStateName;
  reason: string;
  message: string;
  cluster: string | null;
  members: MemberCounts;
  time: Date;
}

export function emptyMembers(total: number): MemberCounts {
  return { total, pending: 0, running: 0, succeeded: 0, failed: 0, bound: 0 };
}

/** The last scheduling cycle's verdict on a queued gang, kept for ExplainJob. */
export interface StoredExplanation {
  evaluatedAt: string;
  summary: string;
  clusters: { cluster: string; fits: boolean; reasonCode: string; message: string }[];
}

/** States in which a gang holds (or is about to hold) a placement in a worker cluster. */
export const PLACED_STATES: readonly JobStateName[] = ['Reserved', 'Dispatched', 'Running'];
