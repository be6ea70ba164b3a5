// Utilisation booking against a real Postgres: what a reservation held goes to its queue and its
// cluster, what a connected cluster had goes to its capacity history, each second once, and the
// report reads them back. Each case runs in one transaction, where now() stands still, so the
// figures are exact.
import { createLog } from '@muster/log';
import type { DataSource, QueryRunner } from 'typeorm';
import { ErrorCode, MusterError } from '../../apps/hub/src/common/errors';
import { InventoryRepository } from '../../apps/hub/src/inventory/inventory.repository';
import { InventoryService } from '../../apps/hub/src/inventory/inventory.service';
import type { UtilisationQuery } from '../../apps/hub/src/inventory/utilisation';
import { JobsRepository } from '../../apps/hub/src/jobs/jobs.repository';
import { UsageRepository } from '../../apps/hub/src/scheduling/usage.repository';
import {
  gangOf,
  insertCluster,
  insertQueue,
  migratedDatabase,
  queuedJob,
  type MigratedDatabase,
} from './database';

const GPU = 'nvidia.com/gpu';
const log = createLog({ level: 'error', destination: { write: () => undefined } });
let m: MigratedDatabase;
let jobId: string;

beforeAll(async () => {
  m = await migratedDatabase();
  await insertQueue(m.db, 'research');
  await insertQueue(m.db, 'other');
  await insertCluster(m.db, 'gpu-a');
  await insertCluster(m.db, 'gpu-lost', 'Lost');
  const { job, event } = queuedJob('research', gangOf(4));
  await new JobsRepository(m.dataSource).insertOrGetExisting(job, event);
  jobId = job.id;
});
afterAll(() => m.close());

/** Runs `fn` in a transaction that is rolled back, with a UsageRepository inside it. */
async function inTransaction(
  fn: (usage: UsageRepository, run: QueryRunner) => Promise<void>,
): Promise<void> {
  const run = m.dataSource.createQueryRunner();
  await run.connect();
  await run.startTransaction();
  try {
    const usage = new UsageRepository(run.manager as unknown as DataSource, { retentionDays: 90 });
    await fn(usage, run);
  } finally {
    await run.rollbackTransaction();
    await run.release();
  }
}

async function reserve(run: QueryRunner, heldSeconds: number): Promise<void> {
  await run.query(
    `INSERT INTO reservations (job_id, cluster, fencing_token, placement, node_requests, queue, usage, accounted_until)
     VALUES ($1, 'gpu-a', 1, '{}', '{}', 'research', $2, now() - make_interval(secs => $3))`,
    [jobId, JSON.stringify({ [GPU]: 4000, cpu: 8000 }), heldSeconds],
  );
}

async function reportCapacity(
  run: QueryRunner,
  cluster: string,
  gpus: number,
  sinceSeconds: number,
): Promise<void> {
  await run.query(
    `INSERT INTO cluster_capacity (cluster, epoch, report_sequence, nodes, reflected, bookable, accounted_until)
     VALUES ($1, 'e', 1, '[]', '[]', $2, now() - make_interval(secs => $3))`,
    [cluster, JSON.stringify({ [GPU]: gpus * 1000 }), sinceSeconds],
  );
}

async function sums(run: QueryRunner, table: string): Promise<Record<string, number>> {
  const key = table === 'queue_usage' ? 'queue' : 'cluster';
  const rows = (await run.query(
    `SELECT ${key} || ' ' || resource AS k, SUM(seconds)::float8 AS s FROM ${table} GROUP BY 1`,
  )) as { k: string; s: number }[];
  return Object.fromEntries(rows.map((r) => [r.k, r.s]));
}

function query(over: Partial<UtilisationQuery> = {}): UtilisationQuery {
  const now = Date.now();
  return {
    since: new Date(now - 3_600_000),
    until: new Date(now + 3_600_000),
    untilNow: false,
    resource: GPU,
    groupBy: 'cluster',
    bucket: 'hour',
    queues: null,
    ...over,
  };
}

describe('utilisation booking', () => {
  it('books what a reservation held to its queue and its cluster, periodically and when it goes', async () => {
    await inTransaction(async (usage, run) => {
      await reserve(run, 100);
      expect(await usage.bookHeld()).toBe(1);
      // 4 GPUs for 100 s, in milli-unit-seconds; booking again at the same instant adds nothing.
      expect(await usage.bookHeld()).toBe(0);
      await run.query(
        `UPDATE reservations SET accounted_until = now() - interval '40 seconds' WHERE job_id = $1`,
        [jobId],
      );
      await run.query(`DELETE FROM reservations WHERE job_id = $1`, [jobId]);
      expect(await sums(run, 'cluster_usage')).toEqual({
        [`gpu-a ${GPU}`]: 4000 * 140,
        'gpu-a cpu': 8000 * 140,
      });
      expect(await sums(run, 'queue_usage')).toEqual({
        [`research ${GPU}`]: 4000 * 140,
        'research cpu': 8000 * 140,
      });
    });
  });

  it('books a connected cluster’s capacity and a Lost one’s none, and a new report the old one', async () => {
    await inTransaction(async (usage, run) => {
      await reportCapacity(run, 'gpu-a', 16, 300);
      await reportCapacity(run, 'gpu-lost', 8, 300);
      expect(await usage.bookCapacity()).toBe(2);
      await run.query(
        `UPDATE cluster_capacity SET accounted_until = now() - interval '60 seconds'`,
      );
      await run.query(`UPDATE cluster_capacity SET bookable = '{"nvidia.com/gpu": 24000}'`);
      // 16 GPUs for 300 s, then 16 for the 60 s before the new report of 24.
      expect(await sums(run, 'capacity_history')).toEqual({ [`gpu-a ${GPU}`]: 16000 * 360 });
      const marks = (await run.query(
        `SELECT bool_and(accounted_until = now()) AS stamped FROM cluster_capacity`,
      )) as { stamped: boolean }[];
      expect(marks[0]?.stamped).toBe(true);
    });
  });

  it('reads back allocated and capacity per cluster, live reservations included when until is now', async () => {
    await inTransaction(async (usage, run) => {
      await reportCapacity(run, 'gpu-a', 16, 200);
      await reserve(run, 50);
      await usage.bookCapacity();
      await run.query(
        `UPDATE reservations SET accounted_until = now() - interval '30 seconds' WHERE job_id = $1`,
        [jobId],
      );
      await run.query(
        `UPDATE cluster_capacity SET accounted_until = now() - interval '30 seconds'`,
      );
      const booked = await usage.utilisationRows(query());
      expect(booked).toEqual([
        { group: 'gpu-a', bucket: expect.any(Date), allocated: 0, capacity: 16000 * 200 },
      ]);
      const live = await usage.utilisationRows(query({ untilNow: true }));
      expect(live).toEqual([
        { group: 'gpu-a', bucket: expect.any(Date), allocated: 4000 * 30, capacity: 16000 * 230 },
      ]);
      await usage.bookHeld();
      const byQueue = await usage.utilisationRows(query({ groupBy: 'queue' }));
      expect(byQueue).toEqual([
        { group: 'research', bucket: expect.any(Date), allocated: 4000 * 30, capacity: null },
      ]);
      expect(await usage.utilisationRows(query({ groupBy: 'queue', queues: ['other'] }))).toEqual(
        [],
      );
    });
  });

  it('prunes cluster usage and capacity past the retention with queue usage', async () => {
    const usage = new UsageRepository(m.dataSource, { retentionDays: 90 });
    for (const table of ['queue_usage', 'cluster_usage', 'capacity_history'])
      await m.db.query(
        `INSERT INTO ${table} VALUES ('x', now() - interval '100 days', $1, 1), ('x', now(), $1, 1)`,
        [GPU],
      );
    expect(await usage.prune(90)).toBe(3);
    for (const table of ['queue_usage', 'cluster_usage', 'capacity_history'])
      await m.db.query(`DELETE FROM ${table}`);
  });

  it('refuses a range that begins before the retention, naming since', async () => {
    const inventory = new InventoryService(
      new InventoryRepository(m.dataSource),
      { fenceCluster: () => Promise.resolve([]) },
      { drainCluster: () => Promise.resolve([]) },
      log,
      new UsageRepository(m.dataSource, { retentionDays: 7 }),
    );
    const err = await inventory
      .utilisation(query({ since: new Date(Date.now() - 8 * 86_400_000) }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MusterError);
    expect([(err as MusterError).code, (err as MusterError).field]).toEqual([
      ErrorCode.InvalidArgument,
      'since',
    ]);
  });
});
