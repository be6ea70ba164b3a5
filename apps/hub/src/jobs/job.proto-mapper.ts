import { Job, JobState, OnClusterLost, TopologyMode } from '@muster/api';
import type * as wire from '@muster/api';
import { assertNever, invalidArgument } from '../common/errors';
import type { JobEntity } from './job.entity';
import type { JobEvent, JobStateName, MemberCounts } from './job.domain';

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

export function jobSpecOfEntity(job: JobEntity): wire.JobSpec {
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
  };
}

export function jobToProto(job: JobEntity): Job {
  return {
    id: job.id,
    spec: jobSpecOfEntity(job),
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
