// Follows one job's state events until it ends. If the stream breaks (hub restart, network),
// it reconnects after a backoff and resumes after the last event seen, so nothing is shown twice.
import { status } from '@grpc/grpc-js';
import { JobState, type JobEvent, type WatchJobResponse } from '@muster/api';
import { CliError } from '../errors';
import type { HubConnection } from './hub-connection';
import { setTimeout as wait } from 'node:timers/promises';
import { DEFAULT_RETRY, isServiceError, type RetryPolicy, retryDelay } from './retry';

const FINAL = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

export function isFinalState(state: JobState): boolean {
  return FINAL.has(state);
}

export interface FollowOptions {
  afterSequence?: number;
  retry?: RetryPolicy;
  /** Told before each reconnect, e.g. to show "reconnecting" on the progress line. */
  onReconnect?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export async function* followJob(
  hub: HubConnection,
  jobId: string,
  options: FollowOptions = {},
): AsyncGenerator<JobEvent> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const sleep = retry.sleep ?? wait;
  let last = options.afterSequence ?? 0;
  let failures = 0;
  for (;;) {
    const stream = hub.clients.streams.watchJob({ jobId, afterSequence: last });
    let reason = 'the hub ended the stream before the job ended';
    let failure: unknown;
    try {
      for await (const message of stream as AsyncIterable<WatchJobResponse>) {
        const event = message.event;
        if (!event || event.sequence <= last) continue;
        last = event.sequence;
        failures = 0;
        yield event;
        if (isFinalState(event.state)) return;
      }
    } catch (err) {
      const retryable =
        isServiceError(err) && (err.code === status.UNAVAILABLE || err.code === status.INTERNAL);
      if (!retryable) throw hub.translate(err);
      reason = err.details || err.message;
      failure = err;
    } finally {
      // Leaving early (the caller stopped, or an error): hang up without an unhandled error event.
      stream.on('error', () => undefined);
      stream.cancel();
    }
    failures++;
    if (failures >= retry.attempts) {
      if (failure !== undefined) throw hub.translate(failure);
      throw new CliError(`lost the watch of job ${jobId} ${failures} times in a row: ${reason}`);
    }
    const delayMs = retryDelay(failures, retry, retry.random);
    options.onReconnect?.({ attempt: failures, delayMs, reason });
    await sleep(delayMs);
  }
}
