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
