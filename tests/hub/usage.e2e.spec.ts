// The usage accounting budgets read, against a real, freshly migrated Postgres: every second a
// reservation held is booked once into its queue's hour bucket, by the periodic booking or, for
// the rest, by the trigger when the reservation goes or is replaced.
import { randomUUID } from 'node:crypto';
import { UsageRepository } from '../../apps/hub/src/scheduling/usage.repository';
import { migratedDatabase, type MigratedDatabase } from '../medium/database';

const GPU = 'nvidia.com/gpu';

let m: MigratedDatabase;
let usage: UsageRepository;

beforeAll(async () => {
  m = await migratedDatabase();
  usage = new UsageRepository(m.dataSource, { retentionDays: 90 });
  for (const q of ['nlp', 'vision'])
    await m.db.query(
      `INSERT INTO queues (name, description, weight, allowed_namespaces, created_at, updated_at)
       VALUES ($1, '', 1, '{}', now(), now())`,
      [q],
    );
});
afterAll(() => m?.close());

async function rows(): Promise<
  { queue: string; bucket: Date; resource: string; seconds: number }[]
> {
  return m.db.query('SELECT * FROM queue_usage ORDER BY queue, bucket, resource');
}

/** A job of `queue` holding `held` (milli-units) since `secondsAgo`; returns its id. */
async function reservation(
  queue: string,
  held: Record<string, number>,
  secondsAgo: number,
): Promise<string> {
  const id = randomUUID();
  await m.db.query(
    `INSERT INTO jobs (id, spec_hash, name, queue, priority, on_cluster_lost, namespace, labels, gang,
                       state, reason, message, members, created_at, updated_at)
     VALUES ($1, 'h', 'j', $2, 0, 'wait', 'default', '{}', '{}', 'Running', '', '', '{}', now(), now())`,
    [id, queue],
  );
  await m.db.query(
    `INSERT INTO reservations (job_id, cluster, fencing_token, placement, node_requests, queue, usage, accounted_until)
     VALUES ($1, 'w1', 1, '{}', '{}', $2, $3, now() - make_interval(secs => $4))`,
    [id, queue, JSON.stringify(held), secondsAgo],
  );
  return id;
}

const seconds = async (queue: string, resource: string) =>
  (await rows())
    .filter((r) => r.queue === queue && r.resource === resource)
    .reduce((n, r) => n + r.seconds, 0);

let booked = 0;

it('books what each reservation held since its mark, once, per queue and resource', async () => {
  const nlp = await reservation('nlp', { [GPU]: 2000, cpu: 8000 }, 10);
  await reservation('vision', { memory: 0 }, 10);
  expect(await usage.bookHeld()).toBe(2);
  const gpu = await seconds('nlp', GPU);
  expect(gpu / 2000).toBeGreaterThanOrEqual(10);
  expect(gpu / 2000).toBeLessThan(12);
  expect(await seconds('nlp', 'cpu')).toBeCloseTo((gpu / 2000) * 8000, 3);
  // Nothing of 0 is booked; a second booking at once adds (almost) nothing.
  expect((await rows()).some((r) => r.queue === 'vision')).toBe(false);
  await usage.bookHeld();
  expect((await seconds('nlp', GPU)) - gpu).toBeLessThan(2000 * 1);
  booked = (await seconds('nlp', GPU)) / 2000;
  const [{ hour }] = (await m.db.query<{ hour: Date }>(
    `SELECT date_trunc('hour', now(), 'UTC') AS hour`,
  )) as [{ hour: Date }];
  expect((await rows()).every((r) => r.bucket.getTime() === hour.getTime())).toBe(true);
  // The reservation goes: the trigger books its rest, in the same transaction as the delete.
  await m.db.query(
    `UPDATE reservations SET accounted_until = now() - interval '5 seconds' WHERE job_id = $1`,
    [nlp],
  );
  await m.db.query('DELETE FROM reservations WHERE job_id = $1', [nlp]);
  const after = (await seconds('nlp', GPU)) / 2000;
  expect(after - booked).toBeGreaterThanOrEqual(5);
  expect(after - booked).toBeLessThan(7);
  booked = after;
});

it('books the old placement when a reservation is replaced by a new one', async () => {
  const id = await reservation('nlp', { [GPU]: 2000 }, 20);
  await m.db.query(`UPDATE reservations SET fencing_token = 2 WHERE job_id = $1`, [id]);
  const after = (await seconds('nlp', GPU)) / 2000;
  expect(after - booked).toBeGreaterThanOrEqual(20);
  expect(after - booked).toBeLessThan(22);
  // The new placement counts from now.
  const [{ mark }] = await m.db.query<{ mark: number }>(
    `SELECT EXTRACT(EPOCH FROM now() - accounted_until)::float8 AS mark FROM reservations WHERE job_id = $1`,
    [id],
  );
  expect(mark).toBeLessThan(1);
  await m.db.query('DELETE FROM reservations WHERE job_id = $1', [id]);
  booked = (await seconds('nlp', GPU)) / 2000;
});

it('sums device-hours of the current period per queue, in one answer for every queue asked', async () => {
  // Yesterday's last hour: outside today, inside this week or month unless today began it.
  const [{ today }] = (await m.db.query<{ today: Date }>(
    `SELECT date_trunc('day', now(), 'UTC') AS today`,
  )) as [{ today: Date }];
  const yesterday = new Date(today.getTime() - 3_600_000);
  await m.db.query(`INSERT INTO queue_usage VALUES ('nlp', $1, $2, $3)`, [
    yesterday,
    GPU,
    4 * 1000 * 3600, // 4 GPU-hours
  ]);
  const used = await usage.budgetUsed([
    { queue: 'nlp', resource: GPU, period: 'day' },
    { queue: 'vision', resource: GPU, period: 'day' },
  ]);
  expect([...used.keys()].sort()).toEqual(['nlp', 'vision']);
  expect(used.get('nlp')).toBeCloseTo((booked * 2000) / 1000 / 3600, 6);
  expect(used.get('vision')).toBe(0);
  const month = await usage.budgetUsed([{ queue: 'nlp', resource: 'cpu', period: 'month' }]);
  expect(month.get('nlp')).toBeCloseTo((await seconds('nlp', 'cpu')) / 1000 / 3600, 9);
  expect(await usage.budgetUsed([])).toEqual(new Map());
});

it('reads the history of the retention period and prunes what is older', async () => {
  const [{ old }] = (await m.db.query<{ old: Date }>(
    `SELECT date_trunc('hour', now() - interval '100 days', 'UTC') AS old`,
  )) as [{ old: Date }];
  await m.db.query(`INSERT INTO queue_usage VALUES ('gone', $1, $2, 1000)`, [old, GPU]);
  const history = await usage.history();
  expect(history.has('gone')).toBe(false);
  const nlp = history.get('nlp')!;
  expect(nlp.map((b) => b.start.getTime())).toEqual(
    [...nlp.map((b) => b.start.getTime())].sort((a, b) => a - b),
  );
  const current = nlp[nlp.length - 1]!;
  expect(current.lengthSeconds).toBeGreaterThan(0);
  expect(current.lengthSeconds).toBeLessThanOrEqual(3600);
  expect(current.seconds.cpu).toBeCloseTo(await seconds('nlp', 'cpu'), 3);
  expect(nlp[0]!.lengthSeconds).toBe(3600);
  expect(nlp[0]!.seconds).toEqual({ [GPU]: 4 * 1000 * 3600 });

  expect(await usage.prune(90)).toBe(1);
  expect((await rows()).some((r) => r.queue === 'gone')).toBe(false);
  expect((await rows()).filter((r) => r.queue === 'nlp')).toHaveLength(3);
});
