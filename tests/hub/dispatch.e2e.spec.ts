// The hub's scheduling and dispatch path against scripted agents: real hub process, real
// Postgres and Redis, no Kubernetes (the agent's side is tested in tests/agent and tests/e2e).
import { randomUUID } from 'node:crypto';
import {
  AgentState,
  JobState,
  MemberPhase,
  OnClusterLost,
  TopologyMode,
  type Dispatch,
  type HubClients,
} from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase, TestRedis } from '../support/services';
import { jobSpec, podSet } from '../support/fixtures';
import { eventually, FakeAgent, type FakeNode } from '../support/fake-agent';

let env: HubEnvironment;
let db: TestDatabase;
let redis: TestRedis;
let hub: HubProcess;
let api: HubClients;
const agents: FakeAgent[] = [];
const heartbeats: NodeJS.Timeout[] = [];

const LOST_MS = 2500;

function gpuNodes(prefix: string, count: number, gpus: number, rackSize = 2): FakeNode[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-n${i}`,
    labels: {
      'topology.kubernetes.io/zone': 'z1',
      'cloud.provider.com/topology-block': 'b1',
      'cloud.provider.com/topology-rack': `${prefix}-r${Math.floor(i / rackSize)}`,
    },
    allocatable: { cpu: '32', memory: '256Gi', 'nvidia.com/gpu': String(gpus) },
  }));
}

async function agentFor(cluster: string, nodes: FakeNode[]): Promise<FakeAgent> {
  const agent = new FakeAgent(hub.grpcAddress, cluster).connect(nodes);
  agents.push(agent);
  heartbeats.push(setInterval(() => !agent.ended && agent.heartbeat(), 200));
  await eventually(
    `${cluster} connected`,
    async () =>
      (await api.inventory.getCluster({ name: cluster })).cluster!.agentState ===
        AgentState.AGENT_STATE_CONNECTED || undefined,
  );
  return agent;
}

async function register(name: string): Promise<void> {
  await api.inventory.registerCluster({
    name,
    displayName: '',
    clusterSet: '',
    topologyLevels: [],
    accessProviders: [],
    labels: {},
  });
}

async function state(jobId: string): Promise<JobState> {
  return (await api.jobs.getJob({ jobId })).job!.state;
}

/** Every dispatch of the gang the agent received, in order (a duplicate shows as two). */
function dispatchesOf(agent: FakeAgent, jobId: string): Dispatch[] {
  return agent.dispatches().filter((d) => d.gangId === jobId);
}

/** The latest dispatch of the gang, for waiting on one; count with dispatchesOf(). */
function dispatchOf(agent: FakeAgent, jobId: string): Dispatch | undefined {
  return agent
    .dispatches()
    .filter((d) => d.gangId === jobId)
    .pop();
}

async function submit(spec: Parameters<typeof jobSpec>[1], queue = 'q'): Promise<string> {
  return (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec: jobSpec(queue, spec) }))
    .job!.id;
}

beforeAll(async () => {
  env = await startHubEnvironment({
    env: {
      MUSTER_WORKER_LOST_TIMEOUT_MS: String(LOST_MS),
      MUSTER_SELF_FENCE_TIMEOUT_MS: '800',
      MUSTER_FENCE_DELETE_GRACE_S: '1',
      MUSTER_HEARTBEAT_INTERVAL_MS: '300',
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '1',
      MUSTER_RECONCILE_INTERVAL_MS: '1000',
    },
    queues: ['q'],
  });
  ({ db, redis, hub, api } = env);
});

afterAll(async () => {
  if (process.env.MUSTER_TEST_HUB_LOGS === '1') console.log(hub?.logs.join('\n'));
  heartbeats.forEach(clearInterval);
  agents.forEach((a) => a.close());
  await env?.stop();
});

describe('one gang, whole, to one cluster', () => {
  let alpha: FakeAgent;

  beforeAll(async () => {
    await register('alpha');
    alpha = await agentFor('alpha', gpuNodes('alpha', 4, 8));
  });

  it('is reserved, dispatched with a node for every member, runs and succeeds, releasing its reservation', async () => {
    const id = await submit({
      podSets: [podSet('workers', 4, { cpu: '4', 'nvidia.com/gpu': '4' })],
    });
    const d = await eventually('dispatch', () => dispatchOf(alpha, id));
    expect(d.fencingToken).toBe(1);
    expect(d.podSets).toHaveLength(1);
    expect(d.podSets[0]!.members.map((m) => m.index)).toEqual([0, 1, 2, 3]);
    const perNode = new Map<string, number>();
    for (const m of d.podSets[0]!.members)
      perNode.set(m.nodeName, (perNode.get(m.nodeName) ?? 0) + 4);
    for (const gpus of perNode.values()) expect(gpus).toBeLessThanOrEqual(8);
    expect(await state(id)).toBe(JobState.JOB_STATE_RESERVED);

    alpha.answer(d, true);
    await eventually(
      'Dispatched',
      async () => (await state(id)) === JobState.JOB_STATE_DISPATCHED || undefined,
    );
    alpha.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running',
      async () => (await state(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
    expect((await api.jobs.getJob({ jobId: id })).job!.members).toMatchObject({
      total: 4,
      running: 4,
    });
    alpha.members(d, MemberPhase.MEMBER_PHASE_SUCCEEDED);
    await eventually(
      'Succeeded',
      async () => (await state(id)) === JobState.JOB_STATE_SUCCEEDED || undefined,
    );
    expect(await db.query('SELECT * FROM reservations WHERE job_id = $1', [id])).toEqual([]);
    const events = await db.query<{ state: string }>(
      'SELECT state FROM job_events WHERE job_id = $1 ORDER BY seq',
      [id],
    );
    expect(events.map((e) => e.state)).toEqual([
      'Queued',
      'Reserved',
      'Dispatched',
      'Running',
      'Succeeded',
    ]);
    expect(dispatchesOf(alpha, id)).toHaveLength(1);
  });

  it('keeps a gang that fits nowhere queued, and explains why per cluster', async () => {
    const id = await submit({
      podSets: [
        {
          ...podSet('workers', 8, { 'nvidia.com/gpu': '4' }),
          topology: {
            mode: TopologyMode.TOPOLOGY_MODE_REQUIRED,
            level: 'cloud.provider.com/topology-rack',
          },
        },
      ],
    });
    const explained = await eventually('explanation', async () => {
      const e = await api.jobs.explainJob({ jobId: id });
      // Before the first cycle the hub only says it has not evaluated the gang yet.
      return e.clusters.some((c) => c.reasonCode !== 'AwaitingCycle') ? e : undefined;
    });
    expect(await state(id)).toBe(JobState.JOB_STATE_QUEUED);
    const alphaFit = explained.clusters.find((c) => c.cluster === 'alpha')!;
    expect(alphaFit.fits).toBe(false);
    expect(alphaFit.reasonCode).toBe('TopologyDomainTooSmall');
    expect(alphaFit.message).toMatch(/rack/);
    expect(alpha.dispatches().some((d) => d.gangId === id)).toBe(false);
    await api.jobs.cancelJob({ jobId: id, reason: '' });
  });

  it('never books more than the reported free capacity while reports lag behind dispatches', async () => {
    // alpha: 4 nodes × 8 GPUs; the agent keeps reporting the same free capacity throughout.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(
        await submit({ name: `fill-${i}`, podSets: [podSet('w', 2, { 'nvidia.com/gpu': '4' })] }),
      );
    await eventually('four dispatches', () =>
      ids.filter((id) => dispatchOf(alpha, id)).length === 4 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1000)); // several more cycles run meanwhile
    const dispatched = ids.filter((id) => dispatchOf(alpha, id));
    expect(dispatched).toHaveLength(4);
    const perNode = new Map<string, number>();
    for (const id of dispatched)
      for (const m of dispatchOf(alpha, id)!.podSets[0]!.members)
        perNode.set(m.nodeName, (perNode.get(m.nodeName) ?? 0) + 4);
    for (const [node, gpus] of perNode) expect([node, gpus <= 8]).toEqual([node, true]);
    // Two finish: exactly two more fit.
    for (const id of dispatched.slice(0, 2)) {
      const d = dispatchOf(alpha, id)!;
      alpha.answer(d, true);
      alpha.members(d, MemberPhase.MEMBER_PHASE_SUCCEEDED);
    }
    await eventually('two more dispatches', () =>
      ids.filter((id) => dispatchOf(alpha, id)).length === 6 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 700));
    expect(ids.filter((id) => dispatchOf(alpha, id))).toHaveLength(6);
    for (const id of ids.filter((id) => dispatchOf(alpha, id)))
      expect([id, dispatchesOf(alpha, id).length]).toEqual([id, 1]);
    for (const id of ids)
      await api.jobs.cancelJob({ jobId: id, reason: 'cleanup' }).catch(() => undefined);
  });

  it('requeues a rejected gang with backoff and dispatches it again with a new fencing token', async () => {
    const id = await submit({ podSets: [podSet('w', 1, { 'nvidia.com/gpu': '1' })] });
    const first = await eventually('dispatch', () => dispatchOf(alpha, id));
    alpha.answer(first, false, 'CreateFailed');
    await eventually('requeued', async () => {
      const events = await db.query<{ reason: string }>(
        `SELECT reason FROM job_events WHERE job_id = $1 AND state = 'Queued'`,
        [id],
      );
      return events.some((e) => e.reason === 'CreateFailed') || undefined;
    });
    const second = await eventually('second dispatch', () =>
      alpha.dispatches().find((d) => d.gangId === id && d.fencingToken === 2),
    );
    expect(second.fencingToken).toBe(first.fencingToken + 1);
    // A late answer about the old token changes nothing.
    alpha.answer(first, true);
    alpha.answer(second, true);
    await eventually(
      'Dispatched',
      async () => (await state(id)) === JobState.JOB_STATE_DISPATCHED || undefined,
    );
    expect((await api.jobs.getJob({ jobId: id })).job!.dispatchGeneration).toBe(2);
    await api.jobs.cancelJob({ jobId: id, reason: '' });
  });

  it('cancels a running gang: the agent is told to delete it and the reservation is released', async () => {
    const id = await submit({ podSets: [podSet('w', 2, { 'nvidia.com/gpu': '1' })] });
    const d = await eventually('dispatch', () => dispatchOf(alpha, id));
    alpha.answer(d, true);
    alpha.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running',
      async () => (await state(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
    const cancelled = await api.jobs.cancelJob({ jobId: id, reason: 'not needed' });
    expect(cancelled.job!.state).toBe(JobState.JOB_STATE_CANCELLED);
    await eventually('cancel sent', () =>
      alpha.cancels().find((c) => c.gangId === id && c.fencingToken === d.fencingToken),
    );
    expect(await db.query('SELECT * FROM reservations WHERE job_id = $1', [id])).toEqual([]);
  });

  it('fails the gang when a member fails', async () => {
    const id = await submit({ podSets: [podSet('w', 2, { 'nvidia.com/gpu': '1' })] });
    const d = await eventually('dispatch', () => dispatchOf(alpha, id));
    alpha.answer(d, true);
    alpha.members(d, MemberPhase.MEMBER_PHASE_FAILED, 3);
    await eventually(
      'Failed',
      async () => (await state(id)) === JobState.JOB_STATE_FAILED || undefined,
    );
    expect((await api.jobs.getJob({ jobId: id })).job!.message).toMatch(/exit code 3/);
    await eventually('cancel sent for the rest', () =>
      alpha.cancels().find((c) => c.gangId === id),
    );
  });
});

describe('lost clusters and recovery', () => {
  it('moves `requeue` gangs of a lost cluster once confirmed gone, exactly once, and keeps `wait` gangs', async () => {
    await register('beta');
    await register('gamma');
    const beta = await agentFor('beta', gpuNodes('beta', 2, 8));
    const requeueId = await submit({
      name: 'elastic',
      onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
      podSets: [podSet('w', 2, { 'nvidia.com/gpu': '8' })],
    });
    const waitId = await submit({
      name: 'patient',
      onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
      podSets: [podSet('w', 1, { cpu: '1' })],
    });
    // alpha is full of GPUs? It has 4×8; cordon it so both land on beta.
    await api.inventory.cordonCluster({ name: 'alpha', reason: 'test' });
    const d1 = await eventually('requeue gang on beta', () => dispatchOf(beta, requeueId));
    const d2 = await eventually('wait gang on beta', () => dispatchOf(beta, waitId));
    for (const d of [d1, d2]) {
      beta.answer(d, true);
      beta.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    }
    await eventually(
      'both running',
      async () =>
        ((await state(requeueId)) === JobState.JOB_STATE_RUNNING &&
          (await state(waitId)) === JobState.JOB_STATE_RUNNING) ||
        undefined,
    );

    // beta's agent goes silent; gamma comes up with room.
    beta.disconnect();
    beta.ended = true;
    const gamma = await agentFor('gamma', gpuNodes('gamma', 2, 8));
    // Silence proves nothing (the agent may be dead with its pods running): unconfirmed, the
    // requeue gang stays on beta and says why, however long the wait.
    await eventually(
      'requeue gang awaiting a fence',
      async () => (await api.jobs.getJob({ jobId: requeueId })).job!.reason === 'AwaitingFence',
      15_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    const held = (await api.jobs.getJob({ jobId: requeueId })).job!;
    expect([held.state, held.cluster]).toEqual([JobState.JOB_STATE_RUNNING, 'beta']);
    expect(held.message).toMatch(/cannot be confirmed gone: .*muster clusters fence beta/);
    expect(dispatchesOf(gamma, requeueId)).toHaveLength(0);
    // An operator who knows beta is down confirms it.
    const fenced = await api.inventory.fenceCluster({
      name: 'beta',
      reason: 'agent gone for good',
    });
    expect(fenced.requeuedJobIds).toEqual([requeueId]);
    const moved = await eventually(
      'requeue gang on gamma',
      () => dispatchOf(gamma, requeueId),
      15_000,
    );
    expect(moved.fencingToken).toBe(d1.fencingToken + 1);
    const alpha = agents.find((a) => a.cluster === 'alpha')!;
    // Each gang went to beta exactly once; only the requeue gang moved, once, to gamma.
    expect(dispatchesOf(beta, requeueId)).toHaveLength(1);
    expect(dispatchesOf(beta, waitId)).toHaveLength(1);
    expect(dispatchesOf(gamma, requeueId)).toHaveLength(1);
    expect(dispatchesOf(gamma, waitId)).toHaveLength(0);
    expect(dispatchesOf(alpha, requeueId)).toHaveLength(0);
    expect(dispatchesOf(alpha, waitId)).toHaveLength(0);
    expect((await api.inventory.getCluster({ name: 'beta' })).cluster!.agentState).toBe(
      AgentState.AGENT_STATE_LOST,
    );
    expect(await state(waitId)).toBe(JobState.JOB_STATE_RUNNING);
    expect((await api.jobs.getJob({ jobId: waitId })).job!.cluster).toBe('beta');
    const health = (await api.inventory.getCluster({ name: 'beta' })).cluster!.conditions.find(
      (c) => c.type === 'ControlPlaneHealthy',
    );
    expect(health?.status).toBe('False');

    // beta comes back: its authoritative list keeps the wait gang and drops the moved one.
    const betaAgain = await agentFor('beta', gpuNodes('beta', 2, 8));
    const list = await eventually('gang list', () => betaAgain.gangLists()[0]);
    expect(list.gangs.map((g) => g.gangId)).toContain(waitId);
    expect(list.gangs.map((g) => g.gangId)).not.toContain(requeueId);
    gamma.answer(moved, true);
    await eventually(
      'moved gang Dispatched',
      async () => (await state(requeueId)) === JobState.JOB_STATE_DISPATCHED || undefined,
    );
    // Still exactly once everywhere, the returned beta included (it is told, not re-sent).
    for (const [agent, id, n] of [
      [beta, requeueId, 1],
      [beta, waitId, 1],
      [gamma, requeueId, 1],
      [gamma, waitId, 0],
      [betaAgain, requeueId, 0],
      [betaAgain, waitId, 0],
      [alpha, requeueId, 0],
      [alpha, waitId, 0],
    ] as const)
      expect([agent.cluster, id, dispatchesOf(agent, id).length]).toEqual([agent.cluster, id, n]);
    expect(dispatchesOf(gamma, requeueId)[0]!.fencingToken).toBe(d1.fencingToken + 1);
    await api.inventory.uncordonCluster({ name: 'alpha' });
    for (const id of [requeueId, waitId]) await api.jobs.cancelJob({ jobId: id, reason: '' });
  });

  it('after a SIGKILL of the hub, reserved gangs are delivered once with their token and nothing is lost', async () => {
    await register('delta');
    const deltaAgent = await agentFor('delta', gpuNodes('delta', 4, 8));
    await api.inventory.cordonCluster({ name: 'alpha', reason: 'test' });
    await api.inventory.cordonCluster({ name: 'gamma', reason: 'test' });
    await api.inventory.cordonCluster({ name: 'beta', reason: 'test' });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push(
        await submit({ name: `crash-${i}`, podSets: [podSet('w', 1, { 'nvidia.com/gpu': '2' })] }),
      );
    await eventually('all dispatched', () =>
      ids.every((id) => dispatchOf(deltaAgent, id)) ? true : undefined,
    );
    api.close();
    await hub.kill();
    await redis.flush(); // Redis lost too: work must be rebuilt from Postgres
    deltaAgent.close();
    await env.startHub();
    ({ hub, api } = env);
    const again = new FakeAgent(hub.grpcAddress, 'delta').connect(gpuNodes('delta', 4, 8));
    agents.push(again);
    heartbeats.push(setInterval(() => !again.ended && again.heartbeat(), 200));
    await eventually('redelivered', () =>
      ids.every((id) => dispatchOf(again, id)) ? true : undefined,
    );
    for (const id of ids) {
      expect(dispatchOf(again, id)!.fencingToken).toBe(dispatchOf(deltaAgent, id)!.fencingToken);
      expect((await api.jobs.getJob({ jobId: id })).job!.state).toBe(JobState.JOB_STATE_RESERVED);
    }
    for (const id of ids) again.answer(dispatchOf(again, id)!, true);
    await eventually('dispatched', async () => {
      for (const id of ids)
        if ((await state(id)) !== JobState.JOB_STATE_DISPATCHED) return undefined;
      return true;
    });
    await new Promise((r) => setTimeout(r, 1500)); // a late duplicate would arrive by now
    // Once before the crash, once after it, with the same token; nowhere else.
    for (const id of ids) {
      expect([id, dispatchesOf(deltaAgent, id).length]).toEqual([id, 1]);
      expect([id, dispatchesOf(again, id).map((d) => d.fencingToken)]).toEqual([
        id,
        [dispatchesOf(deltaAgent, id)[0]!.fencingToken],
      ]);
      for (const other of agents.filter((a) => a !== deltaAgent && a !== again))
        expect([other.cluster, id, dispatchesOf(other, id).length]).toEqual([other.cluster, id, 0]);
    }
  });
});
