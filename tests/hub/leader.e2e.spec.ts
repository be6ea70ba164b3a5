// One scheduling leader among hub replicas, fenced by an epoch: a frozen leader loses the lead
// (its Postgres session is a lease), another replica takes over, and a cycle of an outdated
// leader can never commit. Real hub processes, real Postgres and Redis, a scripted agent.
import { randomUUID } from 'node:crypto';
import { JobState, type HubClients } from '@muster/api';
import { createDataSource, migrate } from '../../apps/hub/src/database/data-source';
import { CycleRepository, LeadershipLost } from '../../apps/hub/src/scheduling/cycle.repository';
import { JobsRepository } from '../../apps/hub/src/jobs/jobs.repository';
import { HubProcess } from '../support/hub-process';
import {
  createTestDatabase,
  createTestRedis,
  type TestDatabase,
  type TestRedis,
} from '../support/services';
import { jobSpec, podSet } from '../support/fixtures';
import { connectFakeCluster, eventually } from '../support/fake-agent';

let db: TestDatabase;
let redis: TestRedis;
const hubs: HubProcess[] = [];

async function leader(): Promise<{ epoch: number; pid: number }> {
  const [row] = await db.query<{ epoch: string; holder: string }>(
    'SELECT epoch, holder FROM scheduler_leader WHERE id = 1',
  );
  return { epoch: Number(row!.epoch), pid: Number(row!.holder.split(':').pop()) };
}

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await createTestRedis();
});

afterAll(async () => {
  for (const h of hubs) process.kill(h.pid, 'SIGCONT');
  const ends = await Promise.all(hubs.map((h) => h.stop()));
  await redis?.cleanup();
  await db?.drop();
  expect(ends).toEqual(hubs.map(() => 0));
});

describe('scheduling leader', () => {
  it('a frozen leader loses the lead within its lease; the other replica schedules; no gang is booked twice', async () => {
    for (let i = 0; i < 2; i++)
      hubs.push(
        await HubProcess.start({
          databaseUrl: db.url,
          redisPrefix: redis.prefix,
          env: { MUSTER_CYCLE_PERIOD_MS: '300', MUSTER_RECONCILE_INTERVAL_MS: '1000' },
        }),
      );
    const first = await eventually('a leader', async () =>
      (await leader()).epoch > 0 ? leader() : undefined,
    );
    const frozen = hubs.find((h) => h.pid === first.pid)!;
    const other = hubs.find((h) => h !== frozen)!;
    expect(frozen).toBeDefined();
    const api: HubClients = other.connect();
    await api.inventory.createQueue({
      queue: { name: 'q', description: '', weight: 1, allowedNamespaces: [] },
    });
    const east = await connectFakeCluster(api, other.grpcAddress, 'east', [
      { name: 'east-n0', allocatable: { cpu: '64', memory: '256Gi', 'nvidia.com/gpu': '8' } },
    ]);
    const agent = east.agent;
    try {
      process.kill(frozen.pid, 'SIGSTOP');
      const frozenAt = Date.now();
      const next = await eventually(
        'the other replica leading',
        async () => {
          const l = await leader();
          return l.epoch > first.epoch ? l : undefined;
        },
        40_000,
      );
      expect(next.pid).toBe(other.pid);
      // The lease is 15 s of silence; allow the check interval and a loaded machine.
      expect(Date.now() - frozenAt).toBeLessThan(30_000);
      const { job } = await api.jobs.submitJob({
        clientRequestId: randomUUID(),
        spec: jobSpec('q', { podSets: [podSet('w', 2, { 'nvidia.com/gpu': '1' })] }),
      });
      await eventually(
        'reserved by the new leader',
        async () =>
          (await api.jobs.getJob({ jobId: job!.id })).job!.state === JobState.JOB_STATE_RESERVED ||
          undefined,
      );
      // The new leader says when it decided again, for the operator timing a failover.
      const firstCycle = other.logs
        .filter((l) => l.includes('"first scheduling cycle since becoming leader"'))
        .map((l) => JSON.parse(l) as { epoch?: number; afterMs?: number })[0];
      expect(firstCycle).toMatchObject({ epoch: next.epoch, afterMs: expect.any(Number) });
      process.kill(frozen.pid, 'SIGCONT');
      await new Promise((r) => setTimeout(r, 3000)); // the old leader wakes up and runs its timers
      expect((await leader()).pid).toBe(other.pid);
      const reservations = await db.query<{ n: string }>('SELECT count(*) AS n FROM reservations');
      expect(Number(reservations[0]!.n)).toBe(1);
      const events = await db.query<{ state: string }>(
        `SELECT state FROM job_events WHERE job_id = $1 ORDER BY seq`,
        [job!.id],
      );
      expect(events.map((e) => e.state)).toEqual(['Queued', 'Reserved']);
      expect(agent.dispatches().filter((d) => d.gangId === job!.id)).toHaveLength(1);
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
      east.close();
      api.close();
    }
  });

  it('a cycle of an outdated leader commits nothing', async () => {
    const ds = createDataSource(db.url);
    await ds.initialize();
    try {
      await migrate(ds);
      const repo = new CycleRepository(ds, new JobsRepository(ds));
      const api = hubs[0]!.connect();
      const { job } = await api.jobs.submitJob({
        clientRequestId: randomUUID(),
        spec: jobSpec('q', { podSets: [podSet('w', 1, { 'nvidia.com/gpu': '100' })] }), // placeable nowhere
      });
      api.close();
      const stale = (await leader()).epoch - 1;
      const placed = [
        { jobId: job!.id, cluster: 'east', placement: {}, nodeRequests: {}, message: 'stale' },
      ];
      await expect(repo.commitCycle(placed, [], stale)).rejects.toBeInstanceOf(LeadershipLost);
      const rows = await db.query<{ state: string }>('SELECT state FROM jobs WHERE id = $1', [
        job!.id,
      ]);
      expect(rows[0]!.state).toBe('Queued');
    } finally {
      await ds.destroy();
    }
  });
});
