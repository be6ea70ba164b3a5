// Job states as people read and type them ("Queued", "running"), and what each final state
// means to a script waiting on it.
import { JobState, jobStateToJSON } from '@muster/api';
import { UsageError } from '../errors';
import { ExitCode } from '../exit-codes';

const PREFIX = 'JOB_STATE_';

/** "JOB_STATE_QUEUED" → "Queued". */
export function stateName(state: JobState): string {
  const wire = jobStateToJSON(state);
  if (!wire.startsWith(PREFIX)) return 'Unknown';
  const word = wire.slice(PREFIX.length).toLowerCase();
  return word.charAt(0).toUpperCase() + word.slice(1);
}

export const SETTABLE_STATES: readonly JobState[] = [
  JobState.JOB_STATE_QUEUED,
  JobState.JOB_STATE_RESERVED,
  JobState.JOB_STATE_DISPATCHED,
  JobState.JOB_STATE_RUNNING,
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
];

export const STATE_CHOICES = SETTABLE_STATES.map((s) => stateName(s).toLowerCase());

/** Parses "running", "Running" or "JOB_STATE_RUNNING". */
export function parseState(text: string): JobState {
  const key = text
    .trim()
    .toUpperCase()
    .replace(/^JOB_STATE_/, '');
  const found = SETTABLE_STATES.find((s) => jobStateToJSON(s) === PREFIX + key);
  if (found === undefined)
    throw new UsageError(`--state: unknown state "${text}"; use ${STATE_CHOICES.join(', ')}`);
  return found;
}

/** The exit code of `watch` and `submit --wait` for a final state; undefined while the job goes on. */
export function outcomeExitCode(state: JobState): ExitCode | undefined {
  switch (state) {
    case JobState.JOB_STATE_SUCCEEDED:
      return ExitCode.Ok;
    case JobState.JOB_STATE_FAILED:
      return ExitCode.JobFailed;
    case JobState.JOB_STATE_CANCELLED:
      return ExitCode.JobCancelled;
    default:
      return undefined;
  }
}
