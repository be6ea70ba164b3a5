// Submit benchmark (not a test): prints figures. Concurrent clients submit small gangs to one
// hub process; a submit counts when its reply arrives, and the hub replies only after the job
// and its first event are committed. Beside it, in the same run and on the same Postgres, the
// raw limit: a plain loop of single-row INSERT transactions from as many connections, each
// row the size of a job row. At the end every acknowledged job is counted in Postgres; a missing
// one fails the run (exit 1, one line). Then the same number of jobs again through SubmitJobs,
// BENCH_BATCH jobs per call from the same clients, each job counted when its call's reply arrives.
//   BENCH_SUBMITS=N (default 10,000), BENCH_CLIENTS=C (default 50), BENCH_BATCH=B (default 20)
import { randomUUID } from 'node:crypto';
import type { HubClients, JobSpec } from '@muster/api';
import { HubProcess, type HubEnd } from '../../tests/support/hub-process';
import { createTestDatabase, createTestRedis } from '../../tests/support/services';
import {
  fig,
  percentilesMs,
  positiveInteger,
  printTable,
  runBench,
  timedPool,
} from '../support/figures';
import { rawInserts } from '../support/raw-inserts';

class BenchFailure extends Error {}

const SUBMITS = positiveInteger('BENCH_SUBMITS', process.env.BENCH_SUBMITS, 10_000);
const CLIENTS = positiveInteger('BENCH_CLIENTS', process.env.BENCH_CLIENTS, 50);
const BATCH = positiveInteger('BENCH_BATCH', process.env.BENCH_BATCH, 20);

const SPEC: JobSpec = {
  name: 'bench',
  queue: 'bench',
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
              resources: { requests: { cpu: '100m', memory: '128Mi' } },
            },
          ],
        },
      }),
    },
  ],
  podSetGroups: [],
};

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  let hub: HubProcess | undefined;
  let hubEnd: HubEnd | undefined;
  const clients: HubClients[] = [];
  try {
    hub = await HubProcess.start({ databaseUrl: db.url, redisPrefix: redis.prefix });
    for (let i = 0; i < CLIENTS; i++) clients.push(hub.connect());
    await clients[0]!.inventory.createQueue({
      queue: { name: 'bench', description: '', weight: 1, allowedNamespaces: [] },
    });
    // Warm-up: connections, the hub's JIT and Postgres's caches.
    await timedPool(CLIENTS * 4, CLIENTS, async (_i, w) => {
      await clients[w]!.jobs.submitJob({ clientRequestId: randomUUID(), spec: SPEC });
    });
    const acknowledged: string[] = [];
    const muster = await timedPool(SUBMITS, CLIENTS, async (_i, w) => {
      const id = randomUUID();
      const { created } = await clients[w]!.jobs.submitJob({ clientRequestId: id, spec: SPEC });
      if (!created) throw new BenchFailure(`submit ${id} answered created=false`);
      acknowledged.push(id);
    });
    const stored = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE client_request_id = ANY($1::text[])',
      [acknowledged],
    );
    if (stored[0]!.n !== SUBMITS)
      throw new BenchFailure(`${SUBMITS} submits acknowledged, ${stored[0]!.n} stored`);
    // The same number of jobs through SubmitJobs, BATCH per call (the last call may be smaller).
    const bulkIds: string[] = [];
    const calls = Math.ceil(SUBMITS / BATCH);
    const bulk = await timedPool(calls, CLIENTS, async (c, w) => {
      const n = Math.min(BATCH, SUBMITS - c * BATCH);
      const jobs = Array.from({ length: n }, () => ({ clientRequestId: randomUUID(), spec: SPEC }));
      const { results } = await clients[w]!.jobs.submitJobs({ jobs });
      results.forEach((r, i) => {
        if (r.result?.$case !== 'submitted' || !r.result.submitted.created)
          throw new BenchFailure(`SubmitJobs did not create ${jobs[i]!.clientRequestId}`);
        bulkIds.push(jobs[i]!.clientRequestId);
      });
    });
    const bulkStored = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE client_request_id = ANY($1::text[])',
      [bulkIds],
    );
    if (bulkStored[0]!.n !== SUBMITS)
      throw new BenchFailure(`${SUBMITS} bulk submits acknowledged, ${bulkStored[0]!.n} stored`);
    const raw = await rawInserts(db.url, SUBMITS, CLIENTS, { podSets: SPEC.podSets, groups: [] });

    printTable(`submit bench: ${SUBMITS} submits of a 4-member gang, ${CLIENTS} clients`, [
      ['submits acknowledged and stored', `${SUBMITS} of ${SUBMITS}`],
      ['submits/s through the hub', fig(SUBMITS / muster.seconds, 0)],
      ['p50 / p95 / p99 submit latency', percentilesMs(muster.latencies)],
      [`jobs/s through SubmitJobs, ${BATCH} per call`, fig(SUBMITS / bulk.seconds, 0)],
      ['p50 / p95 / p99 SubmitJobs call latency', percentilesMs(bulk.latencies)],
      ['raw INSERT transactions/s, same Postgres, same run', fig(SUBMITS / raw.seconds, 0)],
      ['p50 / p95 / p99 raw INSERT latency', percentilesMs(raw.latencies)],
      ['hub / raw', `${fig((100 * raw.seconds) / muster.seconds, 0)} %`],
    ]);
  } finally {
    for (const c of clients) c.close();
    hubEnd = await hub?.stop();
    await redis.cleanup();
    await db.drop();
  }
  if (hubEnd !== undefined && hubEnd !== 0)
    throw new BenchFailure(`the hub did not stop cleanly: ${hubEnd}`);
}

runBench(main);
