// JobService's wire types and the domain: requests are checked into domain values here (each
// error names its field), and answers are built from domain values. The handlers call these;
// JobsService never sees a proto message.
import { JobState, OnClusterLost, TopologyMode } from '@muster/api';
import type * as wire from '@muster/api';
import { dns1123LabelError } from '@muster/k8s';
import { assertNever, invalidArgument } from '../common/errors';
import type {
  ClaimTemplateSpec,
  Job,
  JobCursor,
  JobEvent,
  JobExplanation,
  JobListing,
  JobPage,
  JobStateName,
  MemberCounts,
} from './job.domain';

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const MAX_CANCEL_REASON = 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A job id as the hub stores it (lower case); anything else names `job_id`. */
export function jobIdToDomain(id: string): string {
  if (id === '') throw invalidArgument('job_id', 'is required');
  const lower = id.toLowerCase();
  if (!UUID.test(lower))
    throw invalidArgument('job_id', 'must be a job id (a UUID such as 0b0c4a8e-...)');
  return lower;
}

/** A queue to filter by: null for "every queue"; a name that could never be a queue is refused. */
export function queueFilterToDomain(queue: string): string | null {
  if (queue === '') return null;
  const error = dns1123LabelError(queue);
  if (error) throw invalidArgument('queue', `is not a valid queue name: ${error}`);
  return queue;
}

export function afterSequenceToDomain(afterSequence: number): number {
  if (!Number.isInteger(afterSequence) || afterSequence < 0)
    throw invalidArgument('after_sequence', 'must be 0 or more');
  return afterSequence;
}

export function cancelReasonToDomain(reason: string): string {
  if (reason.length > MAX_CANCEL_REASON)
    throw invalidArgument('reason', `must be at most ${MAX_CANCEL_REASON} characters`);
  return reason;
}

export function jobListingToDomain(req: wire.ListJobsRequest): JobListing {
  const queue = queueFilterToDomain(req.queue);
  const states = req.states.map((s, i) => jobStateToDomain(`states[${i}]`, s));
  if (!Number.isInteger(req.pageSize) || req.pageSize < 0 || req.pageSize > MAX_PAGE_SIZE) {
    throw invalidArgument(
      'page_size',
      `must be between 0 and ${MAX_PAGE_SIZE} (got ${req.pageSize})`,
    );
  }
  const limit = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : req.pageSize;
  const after = req.pageToken === '' ? undefined : pageTokenToDomain(req.pageToken);
  return { queue, states, limit, ...(after ? { after } : {}) };
}

/** The opaque page token: the last job of a page, which the next page starts after. */
export function pageTokenToProto(cursor: JobCursor | null): string {
  if (!cursor) return '';
  return Buffer.from(JSON.stringify([cursor.createdAt.toISOString(), cursor.id])).toString(
    'base64url',
  );
}

function pageTokenToDomain(token: string): JobCursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [
      string,
      string,
    ];
    const date = new Date(createdAt);
    if (Number.isNaN(date.getTime()) || !UUID.test(id)) throw new Error('bad token');
    return { createdAt: date, id };
  } catch {
    throw invalidArgument('page_token', 'is not a token from a previous ListJobs response');
  }
}

export function jobStateToProto(state: JobStateName): JobState {
  switch (state) {
    case 'Queued':
      return JobState.JOB_STATE_QUEUED;
    case 'Reserved':
      return JobState.JOB_STATE_RESERVED;
    case 'Dispatched':
      return JobState.JOB_STATE_DISPATCHED;
    case 'Running':
      return JobState.JOB_STATE_RUNNING;
    case 'Succeeded':
      return JobState.JOB_STATE_SUCCEEDED;
    case 'Failed':
      return JobState.JOB_STATE_FAILED;
    case 'Cancelled':
      return JobState.JOB_STATE_CANCELLED;
    default:
      return assertNever(state);
  }
}

export function jobStateToDomain(field: string, state: JobState): JobStateName {
  switch (state) {
    case JobState.JOB_STATE_QUEUED:
      return 'Queued';
    case JobState.JOB_STATE_RESERVED:
      return 'Reserved';
    case JobState.JOB_STATE_DISPATCHED:
      return 'Dispatched';
    case JobState.JOB_STATE_RUNNING:
      return 'Running';
    case JobState.JOB_STATE_SUCCEEDED:
      return 'Succeeded';
    case JobState.JOB_STATE_FAILED:
      return 'Failed';
    case JobState.JOB_STATE_CANCELLED:
      return 'Cancelled';
    default:
      throw invalidArgument(field, `unknown job state ${String(state)}`);
  }
}

function membersToProto(m: MemberCounts) {
  return {
    total: m.total,
    pending: m.pending,
    running: m.running,
    succeeded: m.succeeded,
    failed: m.failed,
    bound: m.bound ?? 0,
  };
}

export function jobSpecToProto(job: Job): wire.JobSpec {
  return {
    name: job.name,
    queue: job.queue,
    priority: job.priority,
    onClusterLost:
      job.onClusterLost === 'requeue'
        ? OnClusterLost.ON_CLUSTER_LOST_REQUEUE
        : OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: job.labels,
    namespace: job.namespace,
    maxRestarts: job.maxRestarts,
    ...(job.evictionGraceSeconds !== null
      ? { evictionGraceSeconds: job.evictionGraceSeconds }
      : {}),
    ...(job.priorityClass ? { priorityClass: job.priorityClass } : {}),
    podSets: job.gang.podSets.map((ps) => ({
      name: ps.name,
      count: ps.count,
      podTemplateJson: JSON.stringify(ps.template),
      topology: ps.topology
        ? {
            mode:
              ps.topology.mode === 'required'
                ? TopologyMode.TOPOLOGY_MODE_REQUIRED
                : TopologyMode.TOPOLOGY_MODE_PREFERRED,
            level: ps.topology.level,
          }
        : undefined,
    })),
    podSetGroups: job.gang.groups.map((g) => ({ podSets: g.podSets, level: g.level })),
    resourceClaimTemplates: claimTemplatesToProto(job.gang.claimTemplates),
    matchDeviceAttribute: job.gang.matchDeviceAttribute ?? '',
  };
}

/** A job's claim templates on the wire (JobSpec and Dispatch carry the same message). */
export function claimTemplatesToProto(
  templates: readonly ClaimTemplateSpec[] | undefined,
): wire.ResourceClaimTemplate[] {
  return (templates ?? []).map((t) => ({ name: t.name, specJson: JSON.stringify(t.spec) }));
}

export function jobToProto(job: Job): wire.Job {
  return {
    id: job.id,
    spec: jobSpecToProto(job),
    state: jobStateToProto(job.state),
    reason: job.reason,
    message: job.message,
    cluster: job.cluster ?? '',
    dispatchGeneration: job.dispatchGeneration,
    members: membersToProto(job.members),
    clientRequestId: job.clientRequestId ?? '',
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    restarts: job.restarts,
  };
}

export function jobEventToProto(e: JobEvent): wire.JobEvent {
  return {
    sequence: e.sequence,
    jobId: e.jobId,
    fromState: e.fromState ? jobStateToProto(e.fromState) : JobState.JOB_STATE_UNSPECIFIED,
    state: jobStateToProto(e.state),
    reason: e.reason,
    message: e.message,
    cluster: e.cluster ?? '',
    time: e.time,
    queue: e.queue,
    members: membersToProto(e.members),
  };
}

export function jobPageToProto(page: JobPage): wire.ListJobsResponse {
  return { jobs: page.jobs.map(jobToProto), nextPageToken: pageTokenToProto(page.next) };
}

export function jobExplanationToProto(e: JobExplanation): wire.ExplainJobResponse {
  return {
    job: jobToProto(e.job),
    summary: e.summary,
    clusters: e.clusters,
    evaluatedAt: e.evaluatedAt,
  };
}
