// Restart benchmark (not a test): prints figures. A hub's database is filled with a long history
// (BENCH_JOBS jobs, BENCH_EVENTS events; by default 100,000 and 1,000,000, the first 2 % of the
// jobs still Queued), then a hub process is started on it, as after a crash or an upgrade. It
// prints the time from spawn to serving gRPC and to its first scheduling cycle, and ListJobs
// pages through the hub (first page of every queue, first page of one queue, a deep page of one
// queue, Queued jobs only), each beside the same page read by plain SQL from Postgres in the same
// run: the raw limit. Rows are copied by SQL from jobs and events the hub itself stored, so they
// have every column a real one has.
//   BENCH_JOBS=N (default 100,000), BENCH_EVENTS=M (default 1,000,000), BENCH_PAGES=P (default 200)
import { randomUUID } from 'node:crypto';
import { JobState, type HubClients, type ListJobsRequest } from '@muster/api';
import { HubProcess, type HubEnd } from '../../tests/support/hub-process';
import {
  createTestDatabase,
  createTestRedis,
  type TestDatabase,
} from '../../tests/support/services';
import {
  fig,
  percentilesMs,
  positiveInteger,
  printTable,
  runBench,
  timedPool,
} from '../support/figures';

class BenchFailure extends Error {}

const JOBS = positiveInteger('BENCH_JOBS', process.env.BENCH_JOBS, 100_000);
const EVENTS = positiveInteger('BENCH_EVENTS', process.env.BENCH_EVENTS, 1_000_000);
const PAGES = positiveInteger('BENCH_PAGES', process.env.BENCH_PAGES, 200);
const QUEUES = 10;
const QUEUED = Math.max(1, Math.floor(JOBS / 50));
const PAGE_SIZE = 100;
/** The deep page read: this many pages from the newest (20, or fewer in a small run). */
const DEEP = Math.max(1, Math.min(20, Math.floor(JOBS / QUEUES / PAGE_SIZE) - 1));
const SMALL_QUEUE = `q${QUEUES - 1}`;

/** Columns of `table`, in order. */
async function columns(db: TestDatabase, table: string): Promise<string[]> {
  const rows = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.column_name);
}

/** One INSERT … SELECT copying `template` rows, with some columns given by expressions. */
function copyRows(
  table: string,
  cols: string[],
  given: Record<string, string>,
  from: string,
  template: string,
): string {
  const exprs = cols.map((c) => given[c] ?? `${template}.${c}`);
  return `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${exprs.join(', ')} FROM ${from}`;
}

/**
 * Fills the database from one stored job and its events: JOBS jobs a second apart over QUEUES
 * queues, the last of them small (1 % of the jobs); the oldest QUEUED still Queued (a backlog
 * behind the whole history: the worst case for a page of Queued jobs), the rest Succeeded; and
 * EVENTS events spread over them.
 */
async function seed(db: TestDatabase, templateId: string): Promise<void> {
  const jobCols = await columns(db, 'jobs');
  const started = performance.now();
  await db.query(
    copyRows(
      'jobs',
      jobCols,
      {
        id: 'gen_random_uuid()',
        client_request_id: `'seed-' || g`,
        name: `'seed-' || (g % 1000)`,
        // The last queue is small (1 % of the jobs): its pages are the ones an index must find.
        queue: `CASE WHEN g % 100 = 0 THEN 'q${QUEUES - 1}' ELSE 'q' || (g % ${QUEUES - 1}) END`,
        state: `CASE WHEN g > ${JOBS - QUEUED} THEN 'Queued' ELSE 'Succeeded' END`,
        reason: `CASE WHEN g > ${JOBS - QUEUED} THEN t.reason ELSE 'Completed' END`,
        created_at: `now() - make_interval(secs => g)`,
        updated_at: `now() - make_interval(secs => g) + interval '10 minutes'`,
      },
      `jobs t, generate_series(1, ${JOBS - 1}) AS g`,
      't',
    ) + ` WHERE t.id = $1`,
    [templateId],
  );
  const eventCols = (await columns(db, 'job_events')).filter((c) => c !== 'seq');
  // Every job gets EVENTS / JOBS events (the remainder goes to the newest jobs), in order.
  const per = Math.floor(EVENTS / JOBS);
  const extra = EVENTS - per * JOBS;
  await db.query(
    copyRows(
      'job_events',
      eventCols,
      { job_id: 'j.id', queue: 'j.queue', state: 'j.state', created_at: 'j.created_at' },
      `(SELECT id, queue, state, created_at, row_number() OVER (ORDER BY created_at DESC) AS r FROM jobs) j
         CROSS JOIN LATERAL generate_series(1, ${per} + CASE WHEN j.r <= ${extra} THEN 1 ELSE 0 END) AS n,
         (SELECT * FROM job_events WHERE job_id = $1 ORDER BY seq LIMIT 1) t`,
      't',
    ),
    [templateId],
  );
  // What autovacuum would have done long before a restart.
  await db.query('VACUUM ANALYZE jobs');
  await db.query('VACUUM ANALYZE job_events');
  process.stdout.write(
    `seeded ${JOBS} jobs and ${EVENTS} events in ${fig((performance.now() - started) / 1000)} s\n`,
  );
}

/** The plain SQL of a ListJobs page (what the hub's query does, without the hub around it). */
async function rawPage(
  db: TestDatabase,
  filter: { queue?: string; state?: string },
  before?: { createdAt: Date; id: string },
): Promise<{ created_at: Date; id: string }[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (filter.queue) where.push(`queue = $${args.push(filter.queue)}`);
  if (filter.state) where.push(`state = $${args.push(filter.state)}`);
  if (before)
    where.push(`(created_at, id) < ($${args.push(before.createdAt)}, $${args.push(before.id)})`);
  return db.query(
    `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT ${PAGE_SIZE}`,
    args,
  );
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const options = { databaseUrl: db.url, redisPrefix: redis.prefix };
  let hub: HubProcess | undefined;
  let api: HubClients | undefined;
  let hubEnd: HubEnd | undefined;
  try {
    // A first hub creates the schema, the queues and the job every seeded row is copied from.
    hub = await HubProcess.start(options);
    api = hub.connect();
    for (let q = 0; q < QUEUES; q++)
      await api.inventory.createQueue({
        queue: { name: `q${q}`, description: '', weight: 1, allowedNamespaces: [] },
      });
    const { job } = await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: {
        name: 'template',
        queue: 'q0',
        priority: 0,
        onClusterLost: 0,
        labels: { team: 'bench' },
        namespace: 'default',
        maxRestarts: 0,
        resourceClaimTemplates: [],
        matchDeviceAttribute: '',
        podSets: [
          {
            name: 'w',
            count: 4,
            topology: undefined,
            podTemplateJson: JSON.stringify({
              spec: {
                containers: [
                  {
                    name: 'main',
                    image: 'registry.example/train:1',
                    resources: { requests: { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' } },
                  },
                ],
              },
            }),
          },
        ],
        podSetGroups: [],
      },
    });
    api.close();
    api = undefined;
    hubEnd = await hub.stop();
    if (hubEnd !== 0) throw new BenchFailure(`the seeding hub did not stop cleanly: ${hubEnd}`);
    hub = undefined;
    await seed(db, job!.id);
    const counts = await db.query<{ jobs: number; events: number; bytes: string }>(
      `SELECT (SELECT count(*) FROM jobs)::int AS jobs, (SELECT count(*) FROM job_events)::int AS events,
              pg_size_pretty(pg_database_size(current_database())) AS bytes`,
    );
    const { jobs, events, bytes } = counts[0]!;
    if (jobs !== JOBS || events < EVENTS)
      throw new BenchFailure(`seeded ${jobs} jobs and ${events} events, not ${JOBS} and ${EVENTS}`);

    // The restart.
    const spawned = performance.now();
    hub = await HubProcess.start(options);
    const serving = performance.now() - spawned;
    const first = hub;
    const firstCycle = await new Promise<{ ms: number; line: Record<string, unknown> }>(
      (resolve, reject) => {
        const deadline = spawned + 10 * 60_000;
        const poll = setInterval(() => {
          const line = first.logs.find((l) => l.includes('first scheduling cycle since becoming'));
          if (line) {
            clearInterval(poll);
            resolve({
              ms: performance.now() - spawned,
              line: JSON.parse(line) as Record<string, unknown>,
            });
          } else if (performance.now() > deadline) {
            clearInterval(poll);
            reject(new BenchFailure('no scheduling cycle within 10 minutes of the restart'));
          }
        }, 5);
      },
    );
    if (firstCycle.line.considered !== Math.min(QUEUED, 2000))
      throw new BenchFailure(
        `the first cycle considered ${String(firstCycle.line.considered)} gangs, not the ${QUEUED} queued`,
      );

    // ListJobs pages, through the hub and by plain SQL.
    api = hub.connect();
    const client = api;
    const deepCursor = async (): Promise<{
      token: string;
      before: { createdAt: Date; id: string };
    }> => {
      let token = '';
      for (let i = 0; i < DEEP; i++)
        token = (
          await client.jobs.listJobs({
            queue: 'q3',
            states: [],
            pageSize: PAGE_SIZE,
            pageToken: token,
          })
        ).nextPageToken;
      let rows = await rawPage(db, { queue: 'q3' });
      for (let i = 1; i < DEEP; i++) {
        const last = rows[rows.length - 1]!;
        rows = await rawPage(db, { queue: 'q3' }, { createdAt: last.created_at, id: last.id });
      }
      const last = rows[rows.length - 1]!;
      return { token, before: { createdAt: last.created_at, id: last.id } };
    };
    const deep = await deepCursor();
    const cases: {
      name: string;
      request: ListJobsRequest;
      raw: () => Promise<unknown>;
      expect: number;
    }[] = [
      {
        name: 'every queue, first page',
        request: { queue: '', states: [], pageSize: PAGE_SIZE, pageToken: '' },
        raw: () => rawPage(db, {}),
        expect: PAGE_SIZE,
      },
      {
        name: 'one queue, first page',
        request: { queue: 'q3', states: [], pageSize: PAGE_SIZE, pageToken: '' },
        raw: () => rawPage(db, { queue: 'q3' }),
        expect: PAGE_SIZE,
      },
      {
        name: 'the small queue, first page',
        request: { queue: SMALL_QUEUE, states: [], pageSize: PAGE_SIZE, pageToken: '' },
        raw: () => rawPage(db, { queue: SMALL_QUEUE }),
        // The seeded copies are jobs 1..JOBS-1 (the template is the other one, in q0).
        expect: Math.min(PAGE_SIZE, Math.floor((JOBS - 1) / 100)),
      },
      {
        name: `one queue, page ${DEEP + 1}`,
        request: { queue: 'q3', states: [], pageSize: PAGE_SIZE, pageToken: deep.token },
        raw: () => rawPage(db, { queue: 'q3' }, deep.before),
        expect: PAGE_SIZE,
      },
      {
        name: 'Queued only, first page',
        request: {
          queue: '',
          states: [JobState.JOB_STATE_QUEUED],
          pageSize: PAGE_SIZE,
          pageToken: '',
        },
        raw: () => rawPage(db, { state: 'Queued' }),
        expect: Math.min(PAGE_SIZE, QUEUED),
      },
    ];
    const rows: [string, string][] = [
      ['jobs / events in Postgres', `${jobs} / ${events} (database ${bytes})`],
      ['spawn to serving gRPC', `${fig(serving, 0)} ms`],
      ['spawn to first scheduling cycle', `${fig(firstCycle.ms, 0)} ms`],
      [
        '  that cycle: gangs considered, cycle ms',
        `${String(firstCycle.line.considered)}, ${String(firstCycle.line.durationMs)} ms`,
      ],
      [
        '  its phases',
        Object.entries(firstCycle.line)
          .filter(([k]) => k.endsWith('Ms') && k !== 'durationMs' && k !== 'afterMs')
          .map(([k, v]) => `${k.slice(0, -2)} ${String(v)}`)
          .join(', ') + ' ms',
      ],
    ];
    for (const c of cases) {
      const got = (await client.jobs.listJobs(c.request)).jobs.length;
      if (got !== c.expect) throw new BenchFailure(`${c.name}: ${got} jobs, not ${c.expect}`);
      const viaHub = await timedPool(PAGES, 1, async () => {
        await client.jobs.listJobs(c.request);
      });
      const viaSql = await timedPool(PAGES, 1, async () => {
        await c.raw();
      });
      rows.push([`ListJobs ${c.name}: p50 / p95 / p99`, percentilesMs(viaHub.latencies)]);
      rows.push([`  plain SQL, same page, same run`, percentilesMs(viaSql.latencies)]);
    }
    printTable(
      `restart bench: ${JOBS} jobs (${QUEUED} queued) over ${QUEUES} queues, ${EVENTS} events, pages of ${PAGE_SIZE}`,
      rows,
    );
  } finally {
    api?.close();
    hubEnd = await hub?.stop();
    await redis.cleanup();
    await db.drop();
  }
  if (hubEnd !== undefined && hubEnd !== 0)
    throw new BenchFailure(`the hub did not stop cleanly: ${hubEnd}`);
}

runBench(main);
