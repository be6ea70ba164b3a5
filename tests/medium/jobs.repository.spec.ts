import { JobsRepository } from '../../apps/hub/src/jobs/jobs.repository';
import { insertQueue, migratedDatabase, queuedJob, type MigratedDatabase } from './database';

let m: MigratedDatabase;
let jobs: JobsRepository;

beforeAll(async () => {
  m = await migratedDatabase();
  jobs = new JobsRepository(m.dataSource);
  await insertQueue(m.db, 'q');
});
afterAll(() => m.close());

describe('JobsRepository.insertOrGetExisting', () => {
  it('stores submits that arrive together in one transaction, keeping their order', async () => {
    const batch = Array.from({ length: 40 }, (_, i) =>
      queuedJob('q', { podSets: [], groups: [] }, `together-${i}`),
    );
    const results = await Promise.all(batch.map((b) => jobs.insertOrGetExisting(b.job, b.event)));
    expect(results.every((r) => r.created)).toBe(true);
    const rows = await m.db.query<{ client_request_id: string; xmin: string }>(
      `SELECT client_request_id, xmin::text FROM jobs WHERE client_request_id LIKE 'together-%'
        ORDER BY created_at, id`,
    );
    expect(rows.map((r) => r.client_request_id)).toEqual(batch.map((_, i) => `together-${i}`));
    // Fewer transactions than submits: the first went alone, the rest waited and went together.
    expect(new Set(rows.map((r) => r.xmin)).size).toBeLessThan(batch.length / 2);
    const events = await m.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM job_events e JOIN jobs j ON j.id = e.job_id
        WHERE j.client_request_id LIKE 'together-%'`,
    );
    expect(events[0]!.n).toBe(batch.length);
  });

  it('fails only the submit whose row cannot be stored, not the others of its batch', async () => {
    const good = Array.from({ length: 5 }, (_, i) =>
      queuedJob('q', { podSets: [], groups: [] }, `mixed-${i}`),
    );
    const orphan = queuedJob('no-such-queue', { podSets: [], groups: [] }, 'mixed-orphan');
    const all = [...good.slice(0, 2), orphan, ...good.slice(2)];
    const outcomes = await Promise.allSettled(
      all.map((b) => jobs.insertOrGetExisting(b.job, b.event)),
    );
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/foreign key/);
    for (const b of good) expect(await jobs.findById(b.job.id)).not.toBeNull();
    expect(await jobs.findById(orphan.job.id)).toBeNull();
    expect(await jobs.eventsOfJob(orphan.job.id, 0, 10)).toEqual([]);
  });

  it('answers new and reused request ids of one batch each in its own way', async () => {
    const old = queuedJob('q', { podSets: [], groups: [] }, 'reused-old');
    await jobs.insertOrGetExisting(old.job, old.event);
    const again = queuedJob('q', { podSets: [], groups: [] }, 'reused-old');
    const fresh = queuedJob('q', { podSets: [], groups: [] }, 'reused-fresh');
    const twice = queuedJob('q', { podSets: [], groups: [] }, 'reused-fresh');
    const [a, b, c] = await Promise.all(
      [again, fresh, twice].map((x) => jobs.insertOrGetExisting(x.job, x.event)),
    );
    expect([a!.created, a!.job.id]).toEqual([false, old.job.id]);
    expect([b!.created, b!.job.id]).toEqual([true, fresh.job.id]);
    expect([c!.created, c!.job.id]).toEqual([false, fresh.job.id]);
    expect(await jobs.eventsOfJob(old.job.id, 0, 10)).toHaveLength(1);
    expect(await jobs.eventsOfJob(fresh.job.id, 0, 10)).toHaveLength(1);
  });

  it('stores a job and its Queued event in one go', async () => {
    const { job, event } = queuedJob('q', { podSets: [], groups: [] }, 'req-new');
    const r = await jobs.insertOrGetExisting(job, event);
    expect(r.created).toBe(true);
    const events = await jobs.eventsOfJob(job.id, 0, 10);
    expect(events.map((e) => [e.fromState, e.state])).toEqual([[null, 'Queued']]);
    expect((await jobs.findById(job.id))?.clientRequestId).toBe('req-new');
  });

  it('returns the first job for a reused client request id and stores nothing more', async () => {
    const first = queuedJob('q', { podSets: [], groups: [] }, 'req-twice');
    const second = queuedJob('q', { podSets: [], groups: [] }, 'req-twice');
    expect((await jobs.insertOrGetExisting(first.job, first.event)).created).toBe(true);
    const again = await jobs.insertOrGetExisting(second.job, second.event);
    expect(again.created).toBe(false);
    expect(again.job.id).toBe(first.job.id);
    expect(await jobs.findById(second.job.id)).toBeNull();
    expect(await jobs.eventsOfJob(second.job.id, 0, 10)).toEqual([]);
    const rows = await m.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE client_request_id = 'req-twice'`,
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('never conflicts on a missing client request id', async () => {
    const a = queuedJob('q', { podSets: [], groups: [] });
    const b = queuedJob('q', { podSets: [], groups: [] });
    expect((await jobs.insertOrGetExisting(a.job, a.event)).created).toBe(true);
    expect((await jobs.insertOrGetExisting(b.job, b.event)).created).toBe(true);
  });

  it('stores one job when the same request races itself', async () => {
    const tries = Array.from({ length: 8 }, () =>
      queuedJob('q', { podSets: [], groups: [] }, 'req-race'),
    );
    const results = await Promise.all(tries.map((t) => jobs.insertOrGetExisting(t.job, t.event)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
  });
});
