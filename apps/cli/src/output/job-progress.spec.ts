import { JobEvent, JobState, type MemberCounts } from '@muster/api';
import { ExitCode } from '../exit-codes';
import { UsageError } from '../errors';
import { outcomeExitCode, parseState, stateName } from './job-states';
import { eventLine, fit, progressAfter, progressLine, type JobProgress } from './job-progress';
import { LiveProgressLine } from './progress-display';

const members = (running: number, total: number): MemberCounts => ({
  total,
  pending: total - running,
  running,
  succeeded: 0,
  failed: 0,
  bound: running,
});
const start = new Date('2025-01-01T10:00:00Z');
const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);

describe('job states', () => {
  it('reads as words and parses what people type', () => {
    expect(stateName(JobState.JOB_STATE_RUNNING)).toBe('Running');
    expect(stateName(JobState.UNRECOGNIZED)).toBe('Unknown');
    expect(parseState('running')).toBe(JobState.JOB_STATE_RUNNING);
    expect(parseState('Cancelled')).toBe(JobState.JOB_STATE_CANCELLED);
    expect(parseState('JOB_STATE_QUEUED')).toBe(JobState.JOB_STATE_QUEUED);
    expect(() => parseState('paused')).toThrow(UsageError);
    expect(() => parseState('paused')).toThrow(
      '--state: unknown state "paused"; use queued, reserved, dispatched, running, succeeded, failed, cancelled',
    );
  });

  it('gives the documented exit codes for final states only', () => {
    expect(outcomeExitCode(JobState.JOB_STATE_SUCCEEDED)).toBe(0);
    expect(outcomeExitCode(JobState.JOB_STATE_FAILED)).toBe(10);
    expect(outcomeExitCode(JobState.JOB_STATE_CANCELLED)).toBe(11);
    expect([ExitCode.JobFailed, ExitCode.JobCancelled]).toEqual([10, 11]);
    for (const s of [
      JobState.JOB_STATE_QUEUED,
      JobState.JOB_STATE_RESERVED,
      JobState.JOB_STATE_DISPATCHED,
      JobState.JOB_STATE_RUNNING,
    ]) {
      expect(outcomeExitCode(s)).toBeUndefined();
    }
  });
});

describe('progress line', () => {
  const running: JobProgress = {
    state: JobState.JOB_STATE_RUNNING,
    members: members(12, 16),
    cluster: 'gpu-east',
    reason: 'Running',
    message: '',
  };

  it('reads "Running  12/16 members running" with cluster and elapsed time', () => {
    expect(progressLine(running, start, at(185))).toBe(
      'Running   12/16 members running  on gpu-east  3m05s',
    );
  });

  it('shows a queued job and its message', () => {
    const queued: JobProgress = {
      state: JobState.JOB_STATE_QUEUED,
      members: members(0, 4),
      cluster: '',
      reason: 'Submitted',
      message: 'waiting for room',
    };
    expect(progressLine(queued, start, at(7))).toBe(
      'Queued    0/4 members running  7s  waiting for room',
    );
  });

  it('never wraps: a line wider than the terminal is cut', () => {
    const long = progressLine({ ...running, message: 'x'.repeat(200) }, start, at(1), 60);
    expect(long).toHaveLength(59);
    expect(long.endsWith('…')).toBe(true);
    expect(fit('short', 60)).toBe('short');
  });

  it('keeps member counts from earlier when an event carries none', () => {
    const before: JobProgress = { ...running };
    const event = JobEvent.fromPartial({
      state: JobState.JOB_STATE_SUCCEEDED,
      reason: 'Succeeded',
      cluster: 'gpu-east',
    });
    expect(progressAfter(before, event)).toMatchObject({
      state: JobState.JOB_STATE_SUCCEEDED,
      members: members(12, 16),
    });
  });
});

describe('event lines (piped output)', () => {
  it('is one line per event: time, state, members, reason and message', () => {
    const event = JobEvent.fromPartial({
      state: JobState.JOB_STATE_CANCELLED,
      reason: 'Cancelled',
      message: 'changed my mind',
      time: at(3),
      members: members(0, 4),
    });
    expect(eventLine(event, undefined)).toBe(
      '2025-01-01T10:00:03.000Z  Cancelled 0/4 members running  Cancelled: changed my mind',
    );
  });

  it('says how many members of a dispatched job are bound and how many run', () => {
    const event = JobEvent.fromPartial({
      state: JobState.JOB_STATE_DISPATCHED,
      reason: 'AllBound',
      message: 'all 4 members bound to nodes in gpu-east',
      cluster: 'gpu-east',
      time: at(0),
    });
    expect(eventLine(event, { ...members(1, 4), bound: 4 })).toBe(
      '2025-01-01T10:00:00.000Z  Dispatched4/4 bound, 1/4 running  AllBound: all 4 members bound to nodes in gpu-east  cluster gpu-east',
    );
  });

  it('names the cluster of a dispatched job', () => {
    const event = JobEvent.fromPartial({
      state: JobState.JOB_STATE_DISPATCHED,
      reason: 'Dispatched',
      cluster: 'gpu-east',
      time: at(0),
    });
    expect(eventLine(event, members(0, 2))).toBe(
      '2025-01-01T10:00:00.000Z  Dispatched0/2 bound, 0/2 running  Dispatched  cluster gpu-east',
    );
  });
});

describe('live progress on a terminal', () => {
  it('rewrites one line in place with a carriage return and clear-to-end, then ends it', () => {
    const writes: string[] = [];
    const out = { isTTY: true, columns: 120, write: (s: string) => writes.push(s) };
    let now = at(1);
    const line = new LiveProgressLine(out, start, () => now);
    line.update({
      state: JobState.JOB_STATE_QUEUED,
      members: members(0, 16),
      cluster: '',
      reason: 'Submitted',
      message: '',
    });
    now = at(65);
    line.update({
      state: JobState.JOB_STATE_RUNNING,
      members: members(12, 16),
      cluster: 'gpu-east',
      reason: 'Running',
      message: '',
    });
    line.remark('connection lost; reconnecting in 0.5s');
    line.finish();
    expect(writes).toEqual([
      '\rQueued    0/16 members running  1s\x1b[K',
      '\rRunning   12/16 members running  on gpu-east  1m05s\x1b[K',
      '\rRunning   12/16 members running  on gpu-east  1m05s  connection lost; reconnecting in 0.5s\x1b[K',
      '\n',
    ]);
  });
});
