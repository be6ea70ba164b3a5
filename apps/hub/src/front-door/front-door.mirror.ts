// What the front door writes back on an object it took: annotations anyone can read
// (`kubectl get -o yaml`), one Event per change of state or reason (`kubectl describe`), and, on
// objects whose managedBy is Muster's, status conditions (`kubectl wait --for=condition=...`).
// Condition types carry Muster's domain so that they never meet a kind's own.
import {
  isFinal,
  type JobStateName,
  type MemberCounts,
  type StoredExplanation,
} from '../jobs/job.domain';
import { FRONT_DOOR_ANNOTATIONS } from './front-door.kinds';

export interface MirroredJob {
  state: JobStateName;
  reason: string;
  message: string;
  cluster: string | null;
  members: MemberCounts;
  explanation?: StoredExplanation | null;
}

export interface MirrorCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface Mirror {
  /** Changes when an Event is due: the state, reason or cluster changed. */
  key: string;
  /** Annotation values; null removes one (JSON merge patch). */
  annotations: Record<string, string | null>;
  conditions: MirrorCondition[];
  eventType: 'Normal' | 'Warning';
  eventReason: string;
  eventMessage: string;
}

export const CONDITIONS = {
  queued: 'muster.dev/Queued',
  placed: 'muster.dev/Placed',
  finished: 'muster.dev/Finished',
} as const;

/** Annotation values are kept short: the whole text is in the Events and `muster explain`. */
const MAX_ANNOTATION = 1024;

function short(text: string): string {
  return text.length > MAX_ANNOTATION ? `${text.slice(0, MAX_ANNOTATION - 1)}…` : text;
}

/** The mirror of a refused object (`refused` says why). */
export function refusedMirror(refused: string): Mirror {
  return {
    key: `Refused/${refused}`,
    annotations: {
      [FRONT_DOOR_ANNOTATIONS.job]: null,
      [FRONT_DOOR_ANNOTATIONS.state]: 'Refused',
      [FRONT_DOOR_ANNOTATIONS.reason]: 'Refused',
      [FRONT_DOOR_ANNOTATIONS.message]: short(refused),
      [FRONT_DOOR_ANNOTATIONS.cluster]: null,
    },
    conditions: [
      { type: CONDITIONS.queued, status: 'False', reason: 'Refused', message: short(refused) },
    ],
    eventType: 'Warning',
    eventReason: 'Refused',
    eventMessage: `Muster did not take it: ${refused}`,
  };
}

/**
 * Why a queued gang waits, as `muster explain` says it: the last cycle's summary, and as reason
 * the verdict most clusters gave (e.g. InsufficientCapacity).
 */
function waiting(job: MirroredJob): { reason: string; message: string } {
  const e = job.explanation;
  if (job.state !== 'Queued' || !e) return { reason: job.reason, message: job.message };
  const counts = new Map<string, number>();
  for (const c of e.clusters)
    if (!c.fits) counts.set(c.reasonCode, (counts.get(c.reasonCode) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
  const detail = e.clusters
    .filter((c) => !c.fits)
    .map((c) => `${c.cluster}: ${c.message}`)
    .join('; ');
  return {
    reason: top ? top[0] : job.reason === 'Submitted' ? 'Waiting' : job.reason,
    message: detail ? `${e.summary} (${detail})` : e.summary,
  };
}

/** The mirror of a job. */
export function jobMirror(jobId: string, job: MirroredJob): Mirror {
  const { state, cluster, members } = job;
  const why = waiting(job);
  const reason = why.reason;
  const message = short(why.message);
  const placed = cluster !== null && state !== 'Queued';
  const final = isFinal(state);
  const where = cluster ? ` on ${cluster}` : '';
  const counts =
    state === 'Running' || final
      ? ` (${members.running} running, ${members.succeeded} succeeded, ${members.failed} failed of ${members.total})`
      : '';
  return {
    key: `${state}/${reason}/${cluster ?? ''}`,
    annotations: {
      [FRONT_DOOR_ANNOTATIONS.job]: jobId,
      [FRONT_DOOR_ANNOTATIONS.state]: state,
      [FRONT_DOOR_ANNOTATIONS.reason]: reason,
      [FRONT_DOOR_ANNOTATIONS.message]: message,
      [FRONT_DOOR_ANNOTATIONS.cluster]: cluster,
    },
    conditions: [
      {
        type: CONDITIONS.queued,
        status: state === 'Queued' ? 'True' : 'False',
        reason,
        message,
      },
      {
        type: CONDITIONS.placed,
        status: placed ? 'True' : 'False',
        reason: placed ? 'Placed' : reason,
        message: placed ? `placed on ${cluster}` : message,
      },
      {
        type: CONDITIONS.finished,
        status: final ? 'True' : 'False',
        reason: final ? state : 'NotFinished',
        message: final ? message : `the job is ${state}`,
      },
    ],
    eventType: state === 'Failed' ? 'Warning' : 'Normal',
    // While queued, why it waits (e.g. InsufficientCapacity) once the scheduler has said.
    eventReason: state === 'Queued' && reason !== 'Submitted' ? reason : state,
    eventMessage: `${state}${where}: ${message}${counts} [Muster job ${jobId}]`,
  };
}
