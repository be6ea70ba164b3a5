// Jobs as the hub reasons about them: validated, free of wire types.

export type JobStateName =
  'Queued' | 'Reserved' | 'Dispatched' | 'Running' | 'Succeeded' | 'Failed' | 'Cancelled';

export const FINAL_STATES: readonly JobStateName[] = ['Succeeded', 'Failed', 'Cancelled'];

export function isFinal(state: JobStateName): boolean {
  return FINAL_STATES.includes(state);
}

export type OnClusterLostPolicy = 'wait' | 'requeue';

/** Why a live gang was given notice: another gang preempted it, or its cluster is drained. */
export type EvictionReason = 'Preempted' | 'Drained';

/**
 * A live gang's eviction with notice: its members carry the notice for `graceSeconds` after the
 * agent confirmed it (`noticedAt`), then they are deleted; once all are gone it is requeued,
 * keeping its place in its queue.
 */
export interface Eviction {
  reason: EvictionReason;
  message: string;
  graceSeconds: number;
  /** When the hub decided it (ISO 8601). */
  decidedAt: string;
  /** The gang it makes room for (a preemption). */
  for?: string;
  /** When the agent confirmed the members carry the notice; the grace period counts from here. */
  noticedAt?: string;
  /** noticedAt + graceSeconds: when the members are deleted. */
  deadline?: string;
}

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

/** A resource.k8s.io/v1 ResourceClaimTemplate of the job, checked at submit. */
export interface ClaimTemplateSpec {
  name: string;
  /** The template's `spec.spec`: a ResourceClaimSpec (`{ devices: { requests, constraints } }`). */
  spec: Record<string, unknown>;
}

export interface GangSpec {
  podSets: PodSetSpec[];
  groups: PodSetGroupSpec[];
  /** DRA claim templates the pod templates name; absent when none (older rows lack it). */
  claimTemplates?: ClaimTemplateSpec[];
  /**
   * The device attribute whose value every claimed device of the gang shares, across members
   * and nodes; absent when none.
   */
  matchDeviceAttribute?: string;
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
  /** Seconds between an eviction notice and the deletion; absent: the hub's default. */
  evictionGraceSeconds?: number;
  /** The priority class the job named (its priority is the class's value); absent: none. */
  priorityClass?: string;
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

/** Whether one cluster can take a gang now, and why not. */
export interface ClusterVerdict {
  cluster: string;
  fits: boolean;
  reasonCode: string;
  message: string;
}

/** The last scheduling cycle's verdict on a queued gang, kept for ExplainJob. */
export interface StoredExplanation {
  evaluatedAt: string;
  summary: string;
  clusters: ClusterVerdict[];
}

/** A job as the hub keeps it: its spec's fields, where it stands, and its bookkeeping. */
export interface Job {
  id: string;
  clientRequestId: string | null;
  /** SHA-256 of the submitted spec, so a reused client_request_id with another spec is refused. */
  specHash: string;
  name: string;
  queue: string;
  priority: number;
  onClusterLost: OnClusterLostPolicy;
  namespace: string;
  labels: Record<string, string>;
  gang: GangSpec;
  /** Restarts of the whole gang allowed after a member failed. */
  maxRestarts: number;
  /** Seconds of notice before an eviction deletes the gang; null: the hub's default. */
  evictionGraceSeconds: number | null;
  /** The priority class it named; null: none. */
  priorityClass: string | null;
  /** Restarts used so far. */
  restarts: number;
  state: JobStateName;
  reason: string;
  message: string;
  cluster: string | null;
  dispatchGeneration: number;
  members: MemberCounts;
  /** A requeued gang is not considered again before this time (backoff after a rejection). */
  notBefore?: Date | null;
  /** Dispatches of this job that were rejected or lost. */
  attempts?: number;
  /** Why the last scheduling cycle did not place the gang, per cluster. */
  explanation?: StoredExplanation | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What a caller submits: a validated spec and the optional key that makes retries safe. */
export interface Submission {
  spec: JobSpec;
  clientRequestId: string | null;
}

/** Where a listing page starts: after this job, in newest-first order. */
export interface JobCursor {
  createdAt: Date;
  id: string;
}

/** A ListJobs question: one queue or every visible one, some states or all, a page. */
export interface JobListing {
  /** null: every queue the caller may see. */
  queue: string | null;
  /** Empty: every state. */
  states: JobStateName[];
  limit: number;
  after?: JobCursor;
}

export interface JobPage {
  jobs: Job[];
  /** Where the next page starts; null on the last page. */
  next: JobCursor | null;
}

/** ExplainJob's answer: the job and, while it is queued, why each cluster cannot take it. */
export interface JobExplanation {
  job: Job;
  summary: string;
  clusters: ClusterVerdict[];
  evaluatedAt: Date;
}

/** States in which a gang holds (or is about to hold) a placement in a worker cluster. */
export const PLACED_STATES: readonly JobStateName[] = ['Reserved', 'Dispatched', 'Running'];
