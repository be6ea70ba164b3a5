// A worker that could not run a gang keeps that gang away: real hub process, real Postgres and
// Redis, scripted agents (the real agent's BindTimeout is tested in tests/agent).
import { randomUUID } from 'node:crypto';
import { JobState, MemberPhase, type HubClients } from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import { jobSpec, podSet } from '../support/fixtures';
import {
  connectFakeCluster,
  eventually,
  type FakeAgent,
  type FakeCluster,
  type FakeNode,
} from '../support/fake-agent';

let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
let api: HubClients;
const agents = new Map<string, FakeAgent>();
const clusters: FakeCluster[] = [];

const nodes = (prefix: string): FakeNode[] => [
  { name: `${prefix}-n0`, allocatable: { cpu: '32', memory: '256Gi', 'nvidia.com/gpu': '8' } },
];

async function connect(cluster: string): Promise<void> {
  const c = await connectFakeCluster(api, hub.grpcAddress, cluster, nodes(cluster));
  clusters.push(c);
  agents.set(cluster, c.agent);
}

async function submit(name: string): Promise<string> {
  return (
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('q', { name, podSets: [podSet('w', 2, { 'nvidia.com/gpu': '1' })] }),
    })
  ).job!.id;
}

/** The one cluster that has received a dispatch of the job (and was not yet answered). */
async function dispatchedTo(jobId: string, answered: Set<string>): Promise<string> {
  return eventually(`a dispatch of ${jobId}`, () => {
    for (const [cluster, agent] of agents) {
      const d = agent.dispatches().filter((x) => x.gangId === jobId);
      if (d.length > 0 && !answered.has(cluster)) return cluster;
    }
    return undefined;
  });
}

beforeAll(async () => {
  env = await startHubEnvironment({
    env: {
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '1',
      MUSTER_RECONCILE_INTERVAL_MS: '1000',
    },
    queues: ['q'],
  });
  ({ db, hub, api } = env);
  await connect('east');
  await connect('west');
});

afterAll(async () => {
  clusters.forEach((c) => c.close());
  await env?.stop();
});

describe('a cluster that could not run a gang', () => {
  it('is avoided by that gang; when every cluster failed, the gang stays Queued saying why', async () => {
    const id = await submit('unbindable');
    const answered = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const cluster = await dispatchedTo(id, answered);
      const d = agents
        .get(cluster)!
        .dispatches()
        .find((x) => x.gangId === id)!;
      agents.get(cluster)!.send({
        $case: 'dispatchAnswer',
        dispatchAnswer: {
          gangId: id,
          fencingToken: d.fencingToken,
          outcome: 2,
          reason: 'BindTimeout',
          message: `1 of 2 members bound within 30000 ms; worker scheduler: 0/1 nodes are available: 1 Too many pods (${cluster})`,
        },
      });
      answered.add(cluster);
    }
    const explained = await eventually('both exclusions explained', async () => {
      const e = await api.jobs.explainJob({ jobId: id });
      return e.clusters.length === 2 && e.clusters.every((c) => c.reasonCode === 'ExcludedForGang')
        ? e
        : undefined;
    });
    expect(explained.job!.state).toBe(JobState.JOB_STATE_QUEUED);
    expect(explained.summary).toMatch(/^every ready cluster failed to run all 2 members/);
    for (const c of explained.clusters) {
      expect(c.message).toMatch(
        new RegExp(
          `^excluded for this gang until .+: ${c.cluster} could not run it \\(BindTimeout: 1 of 2 members bound .*Too many pods \\(${c.cluster}\\)\\)$`,
        ),
      );
    }
    // Several cycles later: still no third dispatch anywhere, still Queued.
    await new Promise((r) => setTimeout(r, 2000));
    for (const agent of agents.values()) {
      expect(agent.dispatches().filter((x) => x.gangId === id)).toHaveLength(1);
    }
    expect((await api.jobs.getJob({ jobId: id })).job!.state).toBe(JobState.JOB_STATE_QUEUED);
    // Another gang is not affected by this gang's exclusions.
    const other = await submit('other');
    const cluster = await dispatchedTo(other, new Set());
    expect(['east', 'west']).toContain(cluster);
  });

  it('a rejection that says nothing about the cluster (Fenced) excludes nothing', async () => {
    const id = await submit('fenced-once');
    const first = await dispatchedTo(id, new Set());
    const d = agents
      .get(first)!
      .dispatches()
      .find((x) => x.gangId === id)!;
    agents.get(first)!.answer(d, false, 'Fenced');
    await eventually('requeued and dispatched again', () =>
      [...agents.values()].reduce(
        (n, a) => n + a.dispatches().filter((x) => x.gangId === id).length,
        0,
      ) >= 2
        ? true
        : undefined,
    );
    const rows = await db.query<{ excluded_clusters: Record<string, unknown> }>(
      'SELECT excluded_clusters FROM jobs WHERE id = $1',
      [id],
    );
    expect(rows[0]!.excluded_clusters).toEqual({});
  });
});

describe('created, bound, running', () => {
  it('says when the worker bound every member, apart from Dispatched and Running', async () => {
    const id = await submit('three-steps');
    const cluster = await dispatchedTo(id, new Set());
    const agent = agents.get(cluster)!;
    const d = agent.dispatches().find((x) => x.gangId === id)!;
    agent.answer(d, true);
    await eventually(
      'Dispatched',
      async () =>
        (await api.jobs.getJob({ jobId: id })).job!.state === JobState.JOB_STATE_DISPATCHED ||
        undefined,
    );
    // Created but not yet bound: no node name in the report.
    const unbound = {
      ...d,
      podSets: d.podSets.map((ps) => ({
        ...ps,
        members: ps.members.map((m) => ({ ...m, nodeName: '' })),
      })),
    };
    agent.members(unbound, MemberPhase.MEMBER_PHASE_PENDING);
    await eventually('0 bound', async () => {
      const m = (await api.jobs.getJob({ jobId: id })).job!.members!;
      return m.pending === 2 && m.bound === 0 ? true : undefined;
    });
    agent.members(d, MemberPhase.MEMBER_PHASE_PENDING);
    const bound = await eventually('AllBound', async () => {
      const m = (await api.jobs.getJob({ jobId: id })).job!.members!;
      return m.bound === 2 ? m : undefined;
    });
    expect(bound.running).toBe(0);
    expect((await api.jobs.getJob({ jobId: id })).job!.state).toBe(JobState.JOB_STATE_DISPATCHED);
    agent.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running',
      async () =>
        (await api.jobs.getJob({ jobId: id })).job!.state === JobState.JOB_STATE_RUNNING ||
        undefined,
    );
    const events = await db.query<{ state: string; reason: string }>(
      'SELECT state, reason FROM job_events WHERE job_id = $1 ORDER BY seq',
      [id],
    );
    expect(events.map((e) => `${e.state}:${e.reason}`)).toEqual([
      'Queued:Submitted',
      'Reserved:Reserved',
      'Dispatched:Dispatched',
      'Dispatched:MembersChanged',
      'Dispatched:AllBound',
      'Running:Running',
    ]);
  });
});
