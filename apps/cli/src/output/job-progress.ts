// A job's progress as one line: rewritten in place on a terminal, one line per event when piped.
import { JobState, type Job, type JobEvent, type MemberCounts } from '@muster/api';
import { stateName } from './job-states';
import { elapsed } from './time-format';

export interface JobProgress {
  state: JobState;
  members?: MemberCounts | undefined;
  cluster: string;
  reason: string;
  message: string;
}

export function progressOfJob(job: Job): JobProgress {
  return {
    state: job.state,
    members: job.members,
    cluster: job.cluster,
    reason: job.reason,
    message: job.message,
  };
}

/** An event carries the members as last reported; the progress keeps earlier counts when it has none. */
export function progressAfter(previous: JobProgress | undefined, event: JobEvent): JobProgress {
  return {
    state: event.state,
    members: event.members ?? previous?.members,
    cluster: event.cluster,
    reason: event.reason,
    message: event.message,
  };
}

/**
 * "12/16 members running"; while Dispatched (every member created and ungated, not all running)
 * also how many the worker's scheduler has bound: "16/16 bound, 12/16 running".
 */
function membersText(members: MemberCounts | undefined, state: JobState): string {
  if (!members) return '';
  if (state === JobState.JOB_STATE_DISPATCHED) {
    return `${members.bound}/${members.total} bound, ${members.running}/${members.total} running`;
  }
  return `${members.running}/${members.total} members running`;
}

/** "Running    12/16 members running  on gpu-east  3m05s  <message>", cut to the terminal width. */
export function progressLine(
  p: JobProgress,
  since: Date | undefined,
  now: Date,
  width?: number,
): string {
  const parts = [stateName(p.state).padEnd(10) + membersText(p.members, p.state)];
  if (p.cluster) parts.push(`on ${p.cluster}`);
  const time = elapsed(since, now);
  if (time) parts.push(time);
  if (p.message) parts.push(p.message);
  return fit(parts.join('  '), width);
}

/** "2025-01-02T03:04:05.000Z  Queued    0/4 members running  Submitted: waiting for ..." */
export function eventLine(event: JobEvent, members: MemberCounts | undefined): string {
  const time = event.time ? event.time.toISOString() : '-';
  const what = event.message ? `${event.reason}: ${event.message}` : event.reason;
  const cluster = event.cluster ? `  cluster ${event.cluster}` : '';
  return `${time}  ${stateName(event.state).padEnd(10)}${membersText(event.members ?? members, event.state)}  ${what}${cluster}`;
}

/** Cuts a line so it never wraps: a wrapped line cannot be rewritten in place with "\r". */
export function fit(line: string, width: number | undefined): string {
  if (!width || width < 10 || line.length < width) return line;
  return `${line.slice(0, width - 2)}…`;
}
