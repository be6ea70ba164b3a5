// A small fleet under more work than it can hold at once: ten clusters of a hundred nodes, each a
// scripted agent on the real agent protocol that accepts every dispatch and runs the gang for a
// second or two. A sampler reads the live reservations from Postgres all along and counts every node
// ever booked past its capacity; at the end every gang must have been placed exactly once (one
// reservation, one cluster, one token) and have succeeded. Real hub process, Postgres and Redis.
import { randomUUID } from 'node:crypto';
import { JobState, MemberPhase, type Dispatch, type HubClients } from '@muster/api';
import { overbooked, type LiveReservation } from '../support/booking';
import {
  connectFakeCluster,
  eventually,
  nodeState,
  type FakeCluster,
  type FakeNode,
} from '../support/fake-agent';
import { jobSpec, podSet } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';

jest.setTimeout(10 * 60_000);

const CLUSTERS = 10;
const NODES = 100;
const GANGS = 400;

let env: HubEnvironment;
let api: HubClients;
const fleet: FakeCluster[] = [];
const nodesOf = new Map<string, Map<string, Record<string, string>>>();

/** A deterministic spread of gang shapes: 1–32 members of 1–8 GPUs (seeded, so runs compare). */
function shape(i: number): { members: number; gpus: number } {
  const x = (i * 2654435761) >>> 0;
  return { members: 1 + (x % 32), gpus: 1 + ((x >>> 8) % 8) };
}

beforeAll(async () => {
  env = await startHubEnvironment({
    env: { MUSTER_CYCLE_PERIOD_MS: '200', MUSTER_RECONCILE_INTERVAL_MS: '2000' },
    queues: ['a', 'b'],
  });
  api = env.api;
  for (let c = 0; c < CLUSTERS; c++) {
    const name = `f${c}`;
    const nodes: FakeNode[] = Array.from({ length: NODES }, (_, n) => ({
      name: `${name}-n${n}`,
      allocatable: { cpu: '64', memory: '512Gi', 'nvidia.com/gpu': '8' },
    }));
    nodesOf.set(name, new Map(nodes.map((n) => [n.name, nodeState(n).allocatable!.quantities])));
    fleet.push(await connectFakeCluster(api, env.hub.grpcAddress, name, nodes, 500));
  }
});

afterAll(async () => {
  for (const f of fleet) f.close();
  await env?.stop();
});

describe('the double-booking check', () => {
  it('finds a node booked past its capacity (a seeded violation), and passes one that is not', () => {
    const capacity = () => ({ 'nvidia.com/gpu': '8', pods: '110' });
    const r = (jobId: string, gpus: string): LiveReservation => ({
      jobId,
      cluster: 'f0',
      nodeRequests: { 'f0-n0': { 'nvidia.com/gpu': gpus, pods: '1' } },
    });
    expect(overbooked([r('j1', '4'), r('j2', '4')], capacity)).toEqual([]);
    expect(overbooked([r('j1', '4'), r('j2', '5')], capacity)).toEqual([
      'f0/f0-n0 nvidia.com/gpu: 9000m reserved of 8000m by j1, j2',
    ]);
    expect(overbooked([r('j1', '1')], () => undefined)).toEqual([
      'f0/f0-n0: reserved by j1 but no such node',
    ]);
  });
});

it('places every gang once, never past any node, and runs them all to the end', async () => {
  // Each scripted agent accepts a dispatch, reports every member Running, then Succeeded a
  // moment later (so capacity comes back and queued gangs follow).
  const answered = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const respond = setInterval(() => {
    for (const { agent } of fleet) {
      for (const d of agent.dispatches()) {
        const key = `${d.gangId}/${d.fencingToken}`;
        if (answered.has(key)) continue;
        answered.add(key);
        agent.answer(d, true);
        agent.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
        const t = setTimeout(
          () => {
            timers.delete(t);
            if (!agent.ended) agent.members(d, MemberPhase.MEMBER_PHASE_SUCCEEDED);
          },
          1000 + (answered.size % 7) * 300,
        );
        timers.add(t);
      }
    }
  }, 50);

  // The sampler: every node's live reservations against its capacity, all along.
  let samples = 0;
  let peak = 0;
  let peakGpus = 0n;
  const violations: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rows = await env.db.query<{
        job_id: string;
        cluster: string;
        node_requests: LiveReservation['nodeRequests'];
      }>('SELECT job_id, cluster, node_requests FROM reservations');
      samples++;
      peak = Math.max(peak, rows.length);
      let gpus = 0n;
      for (const r of rows)
        for (const q of Object.values(r.node_requests)) gpus += BigInt(q['nvidia.com/gpu'] ?? '0');
      if (gpus > peakGpus) peakGpus = gpus;
      violations.push(
        ...overbooked(
          rows.map((r) => ({ jobId: r.job_id, cluster: r.cluster, nodeRequests: r.node_requests })),
          (cluster, node) => nodesOf.get(cluster)?.get(node),
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const started = Date.now();
  try {
    const ids: string[] = [];
    for (let i = 0; i < GANGS; i++) {
      const { members, gpus } = shape(i);
      const { job } = await api.jobs.submitJob({
        clientRequestId: randomUUID(),
        spec: jobSpec(i % 2 === 0 ? 'a' : 'b', {
          name: `fleet-${i}`,
          podSets: [podSet('w', members, { cpu: '1', 'nvidia.com/gpu': String(gpus) })],
        }),
      });
      ids.push(job!.id);
    }
    const demand = Array.from({ length: GANGS }, (_, i) => shape(i).members * shape(i).gpus);
    // More than the fleet holds at once: gangs must queue behind each other.
    expect(demand.reduce((a, b) => a + b, 0)).toBeGreaterThan(CLUSTERS * NODES * 8);

    await eventually(
      'every gang Succeeded',
      async () => {
        const [{ n }] = await env.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND state = 'Succeeded'`,
          [ids],
        );
        return n === GANGS;
      },
      {
        timeoutMs: 5 * 60_000,
        describe: async () =>
          JSON.stringify(
            await env.db.query(
              `SELECT state, count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) GROUP BY state`,
              [ids],
            ),
          ),
      },
    );
    sampling = false;
    await sampler;
    console.log(
      `${GANGS} gangs on ${CLUSTERS} × ${NODES} nodes in ${Date.now() - started} ms; ` +
        `${samples} samples, at most ${peak} gangs and ${peakGpus} of ${CLUSTERS * NODES * 8} GPUs ` +
        `reserved at once, ${violations.length} over-booked`,
    );

    expect(samples).toBeGreaterThan(10);
    expect(violations).toEqual([]);
    // Placed once: one reservation each (no requeue happened), so one token on one cluster.
    const reserved = await env.db.query<{ job_id: string; n: number }>(
      `SELECT job_id, count(*)::int AS n FROM job_events
        WHERE job_id = ANY($1::uuid[]) AND state = 'Reserved' GROUP BY job_id`,
      [ids],
    );
    expect(reserved).toHaveLength(GANGS);
    expect(reserved.filter((r) => r.n !== 1)).toEqual([]);
    const placements = new Map<string, Set<string>>();
    for (const { agent } of fleet)
      for (const d of agent.dispatches() as Dispatch[]) {
        const p = placements.get(d.gangId) ?? new Set<string>();
        p.add(`${agent.cluster}/${d.fencingToken}`);
        placements.set(d.gangId, p);
      }
    expect(ids.filter((id) => placements.get(id)?.size !== 1)).toEqual([]);
    const states = await Promise.all(
      ids.slice(0, 5).map(async (jobId) => (await api.jobs.getJob({ jobId })).job!.state),
    );
    expect(states).toEqual(ids.slice(0, 5).map(() => JobState.JOB_STATE_SUCCEEDED));
  } finally {
    sampling = false;
    clearInterval(respond);
    for (const t of timers) clearTimeout(t);
    await sampler.catch(() => undefined);
  }
});
