import type { JobStateName } from '../jobs/job.domain';
import { gangVerdict, vanishedVerdict, type GangMembers, type GangVerdict } from './gang-state';

const m = (over: Partial<GangMembers>): GangMembers => ({
  total: 4,
  pending: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  bound: 0,
  lost: 0,
  selfFenced: 0,
  failures: '',
  ...over,
});
const none = { total: 4, pending: 0, running: 0, succeeded: 0, failed: 0, bound: 0 };

describe('gangVerdict', () => {
  it.each<[string, JobStateName, Partial<GangMembers>, 'wait' | 'requeue', Partial<GangVerdict>]>([
    [
      'created, none bound',
      'Dispatched',
      { pending: 4 },
      'wait',
      { kind: 'stay', reason: 'MembersChanged' },
    ],
    [
      'all bound',
      'Dispatched',
      { pending: 4, bound: 4 },
      'wait',
      { kind: 'stay', reason: 'AllBound' },
    ],
    [
      'all running',
      'Dispatched',
      { running: 4, bound: 4 },
      'wait',
      { kind: 'move', state: 'Running' },
    ],
    [
      'some ran and finished, others run',
      'Dispatched',
      { running: 2, succeeded: 2, bound: 4 },
      'wait',
      { kind: 'move', state: 'Running' },
    ],
    [
      'all succeeded',
      'Running',
      { succeeded: 4, bound: 4 },
      'wait',
      { kind: 'move', state: 'Succeeded' },
    ],
    [
      'one failed',
      'Running',
      { running: 3, failed: 1, failures: 'w-0: Failed' },
      'requeue',
      { kind: 'move', state: 'Failed', message: 'member failed: w-0: Failed' },
    ],
    [
      'one deleted by someone',
      'Running',
      { running: 3, failed: 1, lost: 1 },
      'requeue',
      { kind: 'move', state: 'Failed' },
    ],
    [
      'self-fenced, wait policy: failed',
      'Running',
      { failed: 4, lost: 4, selfFenced: 4 },
      'wait',
      { kind: 'move', state: 'Failed' },
    ],
    [
      'self-fenced requeue gang, all gone: requeued',
      'Running',
      { failed: 4, lost: 4, selfFenced: 4 },
      'requeue',
      { kind: 'requeue', reason: 'SelfFenced' },
    ],
    [
      'self-fenced requeue gang, some still there: waits',
      'Running',
      { running: 2, failed: 2, lost: 2, selfFenced: 2 },
      'requeue',
      { kind: 'stay', reason: 'Fencing' },
    ],
    [
      'self-fenced plus a real failure: failed',
      'Running',
      { failed: 4, lost: 3, selfFenced: 3 },
      'requeue',
      { kind: 'move', state: 'Failed' },
    ],
  ])('%s', (_name, state, counts, policy, expected) => {
    expect(gangVerdict(state, none, m(counts), policy, 'east')).toMatchObject(expected);
  });

  it.each<
    [string, Partial<GangMembers>, { maxRestarts: number; restarts: number }, Partial<GangVerdict>]
  >([
    [
      'no restarts: failed',
      { running: 3, failed: 1 },
      { maxRestarts: 0, restarts: 0 },
      { kind: 'move', state: 'Failed' },
    ],
    [
      'restarts left, others still run: tear down first',
      { running: 3, failed: 1, failures: 'w-1: Failed' },
      { maxRestarts: 2, restarts: 0 },
      {
        kind: 'stay',
        reason: 'Restarting',
        teardown: true,
        message:
          'member failed: w-1: Failed; deleting the whole gang before starting it again (restart 1 of 2)',
      },
    ],
    [
      'restarts left, all gone: requeued as a restart',
      { failed: 4, lost: 3 },
      { maxRestarts: 2, restarts: 1 },
      { kind: 'requeue', reason: 'Restart', restart: true },
    ],
    [
      'one ran to the end, the rest gone: still a restart',
      { succeeded: 1, failed: 3, lost: 2 },
      { maxRestarts: 1, restarts: 0 },
      { kind: 'requeue', reason: 'Restart' },
    ],
    [
      'not every member reported yet: wait',
      { failed: 2 },
      { maxRestarts: 1, restarts: 0 },
      { kind: 'stay', reason: 'Restarting' },
    ],
    [
      'restarts used up: failed',
      { running: 3, failed: 1 },
      { maxRestarts: 2, restarts: 2 },
      { kind: 'move', state: 'Failed' },
    ],
  ])('restarts: %s', (_name, counts, budget, expected) => {
    expect(gangVerdict('Running', none, m(counts), 'wait', 'east', budget)).toMatchObject(expected);
  });

  it.each<[string, Partial<GangMembers>, Partial<GangVerdict>]>([
    [
      'members still running: wait for the rest, whatever the policy',
      { running: 3, failed: 1, lost: 1 },
      { kind: 'stay', reason: 'Evicting', message: expect.stringContaining('1 of 4 members gone') },
    ],
    [
      'all deleted at the deadline: requeued, keeping its place',
      { failed: 4, lost: 4 },
      { kind: 'requeue', reason: 'Preempted', evicted: true },
    ],
    [
      'some checkpointed and exited, the rest deleted: requeued, not failed',
      { succeeded: 2, failed: 2, lost: 1 },
      { kind: 'requeue', reason: 'Preempted', evicted: true },
    ],
    [
      'a member failing after the notice does not fail the job',
      { running: 3, failed: 1, failures: 'w-0: Failed (Error, exit code 1)' },
      { kind: 'stay', reason: 'Evicting' },
    ],
    [
      'all succeeded before the deadline: done',
      { succeeded: 4 },
      { kind: 'move', state: 'Succeeded' },
    ],
  ])('evicting: %s', (_name, counts, expected) => {
    const restarts = { maxRestarts: 3, restarts: 0 };
    expect(
      gangVerdict('Running', none, m(counts), 'wait', 'east', restarts, 'Preempted'),
    ).toMatchObject(expected);
  });

  it('says AllBound once, not on every later report', () => {
    expect(
      gangVerdict('Dispatched', { ...none, bound: 4 }, m({ pending: 4, bound: 4 }), 'wait', 'east'),
    ).toMatchObject({ kind: 'stay', reason: 'MembersChanged' });
  });
});

describe('vanishedVerdict', () => {
  it.each<[string, 'wait' | 'requeue', { maxRestarts: number; restarts: number }, GangVerdict]>([
    [
      'requeue gang: placed again, not counted as a restart',
      'requeue',
      { maxRestarts: 0, restarts: 0 },
      {
        kind: 'requeue',
        reason: 'Vanished',
        message:
          "no pod of the gang is left in w1 (its agent's snapshot holds none); placing it again",
      },
    ],
    [
      'wait gang with restarts left: started again, counted',
      'wait',
      { maxRestarts: 2, restarts: 1 },
      {
        kind: 'requeue',
        reason: 'Restart',
        message:
          "no pod of the gang is left in w1 (its agent's snapshot holds none); starting the gang again (restart 2 of 2)",
        restart: true,
      },
    ],
    [
      'wait gang without restarts: failed',
      'wait',
      { maxRestarts: 1, restarts: 1 },
      {
        kind: 'move',
        state: 'Failed',
        reason: 'Vanished',
        message: "no pod of the gang is left in w1 (its agent's snapshot holds none)",
      },
    ],
  ])('%s', (_what, policy, budget, expected) => {
    expect(vanishedVerdict(policy, 'w1', budget)).toEqual(expected);
  });

  it('an evicted gang that vanished is requeued keeping its place, whatever its policy', () => {
    expect(vanishedVerdict('wait', 'w1', { maxRestarts: 0, restarts: 0 }, 'Drained')).toEqual({
      kind: 'requeue',
      reason: 'Drained',
      message:
        "no pod of the gang is left in w1 (its agent's snapshot holds none) after the eviction notice; back in the queue, keeping its place",
      evicted: true,
    });
  });
});
