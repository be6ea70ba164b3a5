import { DispatchRepository } from '../../apps/hub/src/dispatch/dispatch.repository';
import { CycleRepository, LeadershipLost } from '../../apps/hub/src/scheduling/cycle.repository';
import type {
  MemberPhaseName,
  MemberReport,
} from '../../apps/hub/src/dispatch/dispatch.repository';
import { ClusterStatusRepository } from '../../apps/hub/src/inventory/inventory.repository';
import { JobsRepository } from '../../apps/hub/src/jobs/jobs.repository';
import {
  gangOf,
  insertCluster,
  insertQueue,
  migratedDatabase,
  queuedJob,
  type MigratedDatabase,
} from './database';

let m: MigratedDatabase;
let jobs: JobsRepository;
let dispatch: DispatchRepository;
let cycle: CycleRepository;
const EPOCH = 0; // the epoch the migration seeds scheduler_leader with

beforeAll(async () => {
  m = await migratedDatabase();
  jobs = new JobsRepository(m.dataSource);
  dispatch = new DispatchRepository(m.dataSource, jobs);
  cycle = new CycleRepository(m.dataSource, jobs);
  await insertQueue(m.db, 'q');
  await insertCluster(m.db, 'w1');
  await insertCluster(m.db, 'w2');
});
afterAll(() => m.close());

async function submit(members = 2): Promise<string> {
  const { job, event } = queuedJob('q', gangOf(members));
  await jobs.insertOrGetExisting(job, event);
  return job.id;
}

function reservation(jobId: string, cluster = 'w1') {
  return {
    jobId,
    cluster,
    placement: { nodes: ['n0'] },
    nodeRequests: { n0: { cpu: '2' } },
    message: `reserved on ${cluster}`,
  };
}

async function stateOf(jobId: string) {
  const job = await jobs.findById(jobId);
  return { state: job!.state, cluster: job!.cluster, token: job!.dispatchGeneration };
}

function reports(jobId: string, token: number, phases: MemberPhaseName[]): MemberReport[] {
  return phases.map((phase, index) => ({
    jobId,
    fencingToken: token,
    podSet: 'w',
    index,
    phase,
    reason: phase === 'Failed' ? 'Error' : '',
    exitCode: phase === 'Failed' ? 1 : 0,
    nodeName: 'n0',
  }));
}

/** A gang Reserved on w1 and accepted there, with its token. */
async function dispatched(members = 2): Promise<{ id: string; token: number }> {
  const id = await submit(members);
  const [t] = await cycle.commitCycle([reservation(id)], [], EPOCH);
  expect(await dispatch.accept('w1', id, t!.fencingToken)).toEqual(expect.any(Number));
  return { id, token: t!.fencingToken };
}

describe('CycleRepository.queuedGangs', () => {
  const counts = (q: Awaited<ReturnType<CycleRepository['queuedGangs']>>, ids: string[]) =>
    ids.map((id) => q.find((g) => g.id === id)?.gang.podSets[0]!.count);

  it('reads each gang spec once while it stays queued, and a new gang at its first cycle', async () => {
    const a = await submit(2);
    const b = await submit(3);
    const first = await cycle.queuedGangs(1000);
    expect(counts(first, [a, b])).toEqual([2, 3]);
    const second = await cycle.queuedGangs(1000);
    // The same objects: held from the last cycle, not read and parsed again.
    expect(second.find((g) => g.id === a)!.gang).toBe(first.find((g) => g.id === a)!.gang);
    const c = await submit(4);
    const third = await cycle.queuedGangs(1000);
    expect(counts(third, [a, b, c])).toEqual([2, 3, 4]);
    // Reserved: no longer queued, and its spec no longer held.
    await cycle.commitCycle([reservation(a)], [], EPOCH);
    const fourth = await cycle.queuedGangs(1000);
    expect(counts(fourth, [a, b, c])).toEqual([undefined, 3, 4]);
  });

  it('reads a stored explanation again only when a newer one was written, by anyone', async () => {
    const id = await submit(1);
    const explanation = (evaluatedAt: string, summary: string) => ({
      evaluatedAt,
      summary,
      clusters: [{ cluster: 'w1', fits: false, reasonCode: 'Insufficient', message: summary }],
    });
    const explainedOf = async () =>
      (await cycle.queuedGangs(1000)).find((g) => g.id === id)!.explained;
    expect(await explainedOf()).toBeNull();
    await cycle.commitCycle(
      [],
      [{ jobId: id, explanation: explanation('2026-12-03T10:00:00.000Z', 'one') }],
      EPOCH,
    );
    const first = await explainedOf();
    expect(first).toMatchObject({ at: Date.parse('2026-12-03T10:00:00.000Z') });
    expect(first!.text).toContain('one');
    // Unchanged: the digest is kept (the same object), the text not read again.
    expect(await explainedOf()).toBe(first);
    // Another replica (a leader before this one) wrote a newer one straight into Postgres.
    await m.db.query('UPDATE jobs SET explanation = $2 WHERE id = $1', [
      id,
      JSON.stringify(explanation('2026-12-03T10:00:05.000Z', 'two')),
    ]);
    const second = await explainedOf();
    expect(second!.text).toContain('two');
    expect(second!.at).toBe(Date.parse('2026-12-03T10:00:05.000Z'));
  });
});

describe('CycleRepository.commitCycle', () => {
  it('commits the reservation, the state and the event together', async () => {
    const before = Date.now();
    const id = await submit();
    const out = await cycle.commitCycle([reservation(id)], [], EPOCH);
    const sinceBefore = (Date.now() - before) / 1000;
    expect(out).toEqual([
      {
        jobId: id,
        cluster: 'w1',
        fencingToken: 1,
        state: 'Reserved',
        queue: 'q',
        waitedSeconds: expect.any(Number),
      },
    ]);
    // Counted from this job's submit: within the time the submit and the commit took.
    expect(out[0]!.waitedSeconds).toBeGreaterThanOrEqual(0);
    expect(out[0]!.waitedSeconds).toBeLessThanOrEqual(sinceBefore + 0.5);
    expect(await stateOf(id)).toEqual({ state: 'Reserved', cluster: 'w1', token: 1 });
    expect(await cycle.reservations()).toContainEqual({
      jobId: id,
      queue: 'q',
      cluster: 'w1',
      fencingToken: 1,
      nodeRequests: { n0: { cpu: '2' } },
      priority: 0,
      state: 'Reserved',
      placedAt: expect.any(Date),
      eviction: null,
      graceSeconds: null,
      clusterSet: '',
      deviceCounts: {},
    });
    const events = await jobs.eventsOfJob(id, 0, 10);
    expect(events.map((e) => e.state)).toEqual(['Queued', 'Reserved']);
  });

  it('refuses a second commit for the same gang', async () => {
    const id = await submit();
    await cycle.commitCycle([reservation(id, 'w1')], [], EPOCH);
    expect(await cycle.commitCycle([reservation(id, 'w2')], [], EPOCH)).toEqual([]);
    expect(await stateOf(id)).toEqual({ state: 'Reserved', cluster: 'w1', token: 1 });
    const mine = (await cycle.reservations()).filter((r) => r.jobId === id);
    expect(mine.map((r) => [r.cluster, r.fencingToken])).toEqual([['w1', 1]]);
    expect((await jobs.eventsOfJob(id, 0, 10)).map((e) => e.state)).toEqual(['Queued', 'Reserved']);
  });

  it('commits nothing for a leader epoch that is over', async () => {
    const id = await submit();
    await expect(cycle.commitCycle([reservation(id)], [], EPOCH + 1)).rejects.toBeInstanceOf(
      LeadershipLost,
    );
    expect(await stateOf(id)).toEqual({ state: 'Queued', cluster: null, token: 0 });
    expect((await cycle.reservations()).some((r) => r.jobId === id)).toBe(false);
  });
});

describe('DispatchRepository.requeue', () => {
  it('moves the gang back to Queued and releases its reservation for the current token', async () => {
    const { id, token } = await dispatched();
    expect(await dispatch.requeue('w1', id, token, 'Rejected', 'no room', 1)).toBe(true);
    expect(await stateOf(id)).toEqual({ state: 'Queued', cluster: null, token });
    expect((await cycle.reservations()).some((r) => r.jobId === id)).toBe(false);
    expect(await dispatch.attemptsOf(id)).toBe(1);
  });

  it('changes nothing for a stale fencing token', async () => {
    const { id, token } = await dispatched();
    const before = await jobs.eventsOfJob(id, 0, 10);
    expect(await dispatch.requeue('w1', id, token - 1, 'Rejected', 'late', 1)).toBe(false);
    expect(await dispatch.requeue('w2', id, token, 'Rejected', 'other cluster', 1)).toBe(false);
    expect(await stateOf(id)).toEqual({ state: 'Dispatched', cluster: 'w1', token });
    expect((await cycle.reservations()).some((r) => r.jobId === id)).toBe(true);
    expect(await jobs.eventsOfJob(id, 0, 10)).toEqual(before);
    expect(await dispatch.attemptsOf(id)).toBe(0);
  });

  it('gives a requeued gang a new token, so the old one is refused afterwards', async () => {
    const { id, token } = await dispatched();
    await dispatch.requeue('w1', id, token, 'Rejected', 'no room', 0);
    await m.db.query('UPDATE jobs SET not_before = NULL WHERE id = $1', [id]);
    const [again] = await cycle.commitCycle([reservation(id, 'w2')], [], EPOCH);
    expect(again!.fencingToken).toBe(token + 1);
    expect(await dispatch.accept('w1', id, token)).toBeNull();
    expect(await dispatch.accept('w2', id, token + 1)).toEqual(expect.any(Number));
  });
});

describe('eviction with notice', () => {
  const eviction = {
    reason: 'Preempted' as const,
    message: 'preempted by gang x',
    graceSeconds: 30,
    decidedAt: new Date().toISOString(),
    for: 'x',
  };
  const mark = (id: string, token: number) =>
    m.dataSource.transaction((tx) =>
      dispatch.markEvicting(tx, [{ jobId: id, fencingToken: token, eviction }]),
    );

  it('marks a live gang once, for its current token, and says so on the job', async () => {
    const { id, token } = await dispatched();
    expect(await mark(id, token - 1)).toEqual([]);
    expect(await mark(id, token)).toEqual([
      { jobId: id, cluster: 'w1', fencingToken: token, state: 'Dispatched' },
    ]);
    expect(await mark(id, token)).toEqual([]); // already evicting
    const job = await jobs.findById(id);
    expect({ reason: job!.reason, message: job!.message }).toEqual({
      reason: 'Preempted',
      message: 'preempted by gang x',
    });
    expect((await cycle.reservations()).find((r) => r.jobId === id)?.eviction).toEqual({
      for: 'x',
    });
  });

  it('starts the grace period at the first confirmation; a repeated one moves nothing', async () => {
    const { id, token } = await dispatched();
    expect(await dispatch.noteNoticed('w1', id, token)).toBeNull(); // no eviction yet
    await mark(id, token);
    const before = Date.now();
    const deadline = await dispatch.noteNoticed('w1', id, token);
    expect(deadline!.getTime()).toBeGreaterThanOrEqual(before + 29_000);
    expect(deadline!.getTime()).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(await dispatch.noteNoticed('w1', id, token)).toEqual(deadline);
    expect(await dispatch.noteNoticed('w2', id, token)).toBeNull();
  });

  it('requeues an evicted gang at once, its attempts untouched, and ends the eviction', async () => {
    const { id, token } = await dispatched(2);
    await mark(id, token);
    // One member still runs: the gang waits for it, whatever the other did.
    await dispatch.applyMemberStates('w1', reports(id, token, ['Running', 'Lost']), 60);
    expect((await jobs.findById(id))!.reason).toBe('Evicting');
    const moved = await dispatch.applyMemberStates('w1', reports(id, token, ['Lost', 'Lost']), 60);
    expect(moved).toEqual([{ jobId: id, cluster: 'w1', fencingToken: token, state: 'Queued' }]);
    const [row] = await m.db.query<{
      attempts: number;
      not_before: Date | null;
      eviction: unknown;
    }>('SELECT attempts, not_before, eviction FROM jobs WHERE id = $1', [id]);
    expect(row).toEqual({ attempts: 0, not_before: null, eviction: null });
    expect((await jobs.findById(id))!.reason).toBe('Preempted');
  });
});

describe('DispatchRepository.applyMemberStates', () => {
  it('moves a gang Running once every member runs, then Succeeded', async () => {
    const { id, token } = await dispatched(2);
    expect(
      await dispatch.applyMemberStates('w1', reports(id, token, ['Running', 'Pending']), 1),
    ).toEqual([]);
    expect((await stateOf(id)).state).toBe('Dispatched');
    const running = await dispatch.applyMemberStates(
      'w1',
      reports(id, token, ['Running', 'Running']),
      1,
    );
    expect(running).toEqual([expect.objectContaining({ jobId: id, state: 'Running' })]);
    await dispatch.applyMemberStates('w1', reports(id, token, ['Succeeded', 'Succeeded']), 1);
    expect((await stateOf(id)).state).toBe('Succeeded');
    expect((await jobs.eventsOfJob(id, 0, 10)).map((e) => e.state)).toEqual([
      'Queued',
      'Reserved',
      'Dispatched',
      'Dispatched', // one member running: the counts changed, the state did not
      'Running',
      'Succeeded',
    ]);
  });

  it('fails the whole gang when one member fails', async () => {
    const { id, token } = await dispatched(2);
    await dispatch.applyMemberStates('w1', reports(id, token, ['Running', 'Failed']), 1);
    const job = await jobs.findById(id);
    expect(job!.state).toBe('Failed');
    expect(job!.message).toContain('w-1: Failed (Error, exit code 1)');
  });

  it('ignores reports for an old token or another cluster', async () => {
    const { id, token } = await dispatched(1);
    expect(await dispatch.applyMemberStates('w1', reports(id, token + 1, ['Failed']), 1)).toEqual(
      [],
    );
    expect(await dispatch.applyMemberStates('w2', reports(id, token, ['Failed']), 1)).toEqual([]);
    expect((await stateOf(id)).state).toBe('Dispatched');
  });
});

describe('ClusterStatusRepository.markLost', () => {
  it('marks a connected cluster Lost once its heartbeat is too old, unless heard from', async () => {
    await insertCluster(m.db, 'stale');
    await insertCluster(m.db, 'heard');
    await m.db.query(
      `UPDATE clusters SET last_heartbeat_at = now() - interval '1 minute' WHERE name IN ('stale','heard')`,
    );
    const status = new ClusterStatusRepository(m.dataSource);
    expect(await status.markLost(10_000, ['heard'])).toEqual(['stale']);
    expect(await status.lostClusters()).toEqual(['stale']);
    expect(await status.markLost(10_000, ['heard'])).toEqual([]);
  });
});
