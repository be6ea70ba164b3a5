// Follows jobs to their end for `watch` and `submit --wait`: a live line on a terminal, one
// line per event when piped, or one JSON/YAML item per event with -o json|yaml.
import { ExitCode } from '../exit-codes';
import { JobEvent, type Job, type JobState } from '@muster/api';
import type { HubConnection } from '../hub/hub-connection';
import { followJob, isFinalState } from '../hub/job-follow';
import { eventLine, progressAfter, progressOfJob, type JobProgress } from '../output/job-progress';
import { renderStreamItem, type OutputFormat } from '../output/output-format';
import { LiveProgressLine } from '../output/progress-display';
import type { CliContext } from './cli-context';

export interface FollowStyle {
  format: OutputFormat;
  /** Redraw one line in place (a terminal, one job, table output). */
  live: boolean;
  /** Put before each plain line when several jobs are followed at once. */
  prefix?: string;
}

/** Shows the job's events until it reaches a final state, and returns that state. */
export async function followToEnd(
  ctx: CliContext,
  hub: HubConnection,
  job: Job,
  style: FollowStyle,
): Promise<JobState> {
  if (isFinalState(job.state)) {
    // The events of a long-finished job may have been pruned; its current state is the answer.
    showEvent(ctx, style, currentStateAsEvent(job), job.members);
    return job.state;
  }
  const live =
    style.live && style.format === 'table'
      ? new LiveProgressLine(ctx.io.stdout, job.createdAt, () => ctx.now())
      : undefined;
  let progress: JobProgress = progressOfJob(job);
  let state = job.state;
  live?.update(progress);
  live?.startTicking();
  // Ctrl-C: end the redrawn line first, so the shell prompt does not land in the middle of it.
  const interrupted = () => {
    live?.finish();
    process.exit(ExitCode.Interrupted);
  };
  if (live) process.once('SIGINT', interrupted);
  try {
    const events = followJob(hub, job.id, {
      onReconnect: ({ delayMs, reason }) => {
        const note = `connection lost (${reason}); reconnecting in ${(delayMs / 1000).toFixed(1)}s`;
        if (live) live.remark(note);
        else ctx.note(note);
      },
    });
    for await (const event of events) {
      state = event.state;
      const previous = progress;
      progress = progressAfter(previous, event);
      if (live) live.update(progress);
      else showEvent(ctx, style, event, previous.members);
    }
  } finally {
    process.removeListener('SIGINT', interrupted);
    live?.finish();
  }
  return state;
}

function showEvent(
  ctx: CliContext,
  style: FollowStyle,
  event: JobEvent,
  members: JobProgress['members'],
): void {
  if (style.format === 'table') ctx.print(`${style.prefix ?? ''}${eventLine(event, members)}\n`);
  else ctx.print(renderStreamItem(JobEvent.toJSON(event), style.format));
}

function currentStateAsEvent(job: Job): JobEvent {
  return JobEvent.fromPartial({
    jobId: job.id,
    state: job.state,
    reason: job.reason,
    message: job.message,
    cluster: job.cluster,
    time: job.updatedAt,
    queue: job.spec?.queue ?? '',
    members: job.members,
  });
}
