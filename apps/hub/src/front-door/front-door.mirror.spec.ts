import { CONDITIONS, jobMirror, refusedMirror } from './front-door.mirror';

const members = { total: 3, pending: 0, running: 3, succeeded: 0, failed: 0 };
const ID = '0b8f3f2e-6a53-4d9e-8d1c-3f0a4c2b9e11';

describe('front door mirror', () => {
  it('says why a queued job waits, in annotations, conditions and the Event', () => {
    const m = jobMirror(ID, {
      state: 'Queued',
      reason: 'QuotaExceeded',
      message: 'queue serve: needs 8 nvidia.com/gpu, 4 available (nominal 16, used 12)',
      cluster: null,
      members: { ...members, running: 0, pending: 3 },
    });
    expect(m.annotations).toMatchObject({
      'muster.dev/state': 'Queued',
      'muster.dev/reason': 'QuotaExceeded',
      'muster.dev/job-id': ID,
      'muster.dev/cluster': null,
    });
    expect(m.conditions.find((c) => c.type === CONDITIONS.queued)).toMatchObject({
      status: 'True',
      reason: 'QuotaExceeded',
    });
    expect(m.eventReason).toBe('QuotaExceeded');
    expect(m.eventMessage).toContain('needs 8 nvidia.com/gpu');
  });

  it('names the cluster once placed, and finishes with the final state', () => {
    const running = jobMirror(ID, {
      state: 'Running',
      reason: 'Running',
      message: 'all 3 members running',
      cluster: 'worker-b',
      members,
    });
    expect(running.annotations['muster.dev/cluster']).toBe('worker-b');
    expect(running.eventMessage).toMatch(/^Running on worker-b: /);
    expect(running.conditions.find((c) => c.type === CONDITIONS.placed)?.status).toBe('True');
    const done = jobMirror(ID, {
      state: 'Succeeded',
      reason: 'Succeeded',
      message: 'all 3 members succeeded',
      cluster: 'worker-b',
      members: { ...members, running: 0, succeeded: 3 },
    });
    expect(done.key).not.toBe(running.key);
    expect(done.conditions.find((c) => c.type === CONDITIONS.finished)).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
    });
  });

  it('moves the Event key only when state, reason or cluster change', () => {
    const a = jobMirror(ID, {
      state: 'Running',
      reason: 'Running',
      message: '1 of 3',
      cluster: 'c',
      members,
    });
    const b = jobMirror(ID, {
      state: 'Running',
      reason: 'Running',
      message: '2 of 3',
      cluster: 'c',
      members,
    });
    expect(a.key).toBe(b.key);
  });

  it('tells a refusal as a Warning naming the field', () => {
    const m = refusedMirror('spec.parallelism: must be at least 1');
    expect(m.eventType).toBe('Warning');
    expect(m.eventMessage).toBe('Muster did not take it: spec.parallelism: must be at least 1');
    expect(m.annotations['muster.dev/state']).toBe('Refused');
  });
});

describe('front door mirror of a waiting gang', () => {
  it("tells the last cycle's verdict, with the reason most clusters gave", () => {
    const m = jobMirror(ID, {
      state: 'Queued',
      reason: 'Submitted',
      message: 'waiting for a cluster with room for the whole gang',
      cluster: null,
      members: { ...members, running: 0, pending: 3 },
      explanation: {
        evaluatedAt: '2026-12-07T23:00:00Z',
        summary: 'no cluster can take the whole gang now',
        clusters: [
          {
            cluster: 'a',
            fits: false,
            reasonCode: 'InsufficientCapacity',
            message: 'needs 64 cpu, 1 free',
          },
          {
            cluster: 'b',
            fits: false,
            reasonCode: 'InsufficientCapacity',
            message: 'needs 64 cpu, 32 free',
          },
          { cluster: 'c', fits: false, reasonCode: 'ClusterCordoned', message: 'cordoned' },
        ],
      },
    });
    expect(m.annotations['muster.dev/reason']).toBe('InsufficientCapacity');
    expect(m.eventReason).toBe('InsufficientCapacity');
    expect(m.eventMessage).toContain(
      'a: needs 64 cpu, 1 free; b: needs 64 cpu, 32 free; c: cordoned',
    );
  });
});
