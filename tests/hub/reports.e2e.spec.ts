// Agent answers and member reports the hub must get right even when they come late, twice or in
// odd batches: real hub process, real Postgres and Redis, scripted agents.
import { randomUUID } from 'node:crypto';
import {
  JobState,
  MemberPhase,
  OnClusterLost,
  type Dispatch,
  type HubClients,
  type MemberState,
} from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { TestDatabase } from '../support/services';
import { jobSpec, podSet } from '../support/fixtures';
import {
  connectFakeCluster,
  eventually,
  type FakeAgent,
  type FakeCluster,
} from '../support/fake-agent';

const MAX_ATTEMPTS = 3;

let env: HubEnvironment;
let db: TestDatabase;
let api: HubClients;
let east: FakeCluster;
let agent: FakeAgent;

async function submit(
  name: string,
  onClusterLost = OnClusterLost.ON_CLUSTER_LOST_WAIT,
  maxRestarts = 0,
): Promise<string> {
  return (
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('q', {
        name,
        onClusterLost,
        maxRestarts,
        podSets: [podSet('w', 2, { 'nvidia.com/gpu': '1' })],
      }),
    })
  ).job!.id;
}

/** One member's report for dispatch `d`, for any pod set and index (the hub must check them). */
function report(
  d: Dispatch,
  podSet: string,
  index: number,
  phase: MemberPhase,
  over: Partial<MemberState> = {},
): MemberState {
  return {
    gangId: d.gangId,
    fencingToken: d.fencingToken,
    podSet,
    index,
    phase,
    reason: '',
    exitCode: 0,
    nodeName: '',
    podName: `${podSet}-${index}`,
    ...over,
  };
}

function dispatches(jobId: string): Dispatch[] {
  return agent.dispatches().filter((d) => d.gangId === jobId);
}

async function nthDispatch(jobId: string, n: number): Promise<Dispatch> {
  return eventually(`dispatch #${n} of ${jobId}`, () => dispatches(jobId)[n - 1]);
}

async function stateOf(jobId: string): Promise<JobState> {
  return (await api.jobs.getJob({ jobId })).job!.state;
}

beforeAll(async () => {
  env = await startHubEnvironment({
    env: {
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '1',
      MUSTER_RECONCILE_INTERVAL_MS: '1000',
      MUSTER_MAX_DISPATCH_ATTEMPTS: String(MAX_ATTEMPTS),
    },
    queues: ['q'],
  });
  ({ db, api } = env);
  east = await connectFakeCluster(api, env.hub.grpcAddress, 'east', [
    { name: 'east-n0', allocatable: { cpu: '64', memory: '256Gi', 'nvidia.com/gpu': '8' } },
  ]);
  agent = east.agent;
});

afterAll(async () => {
  east?.close();
  await env?.stop();
});

describe('rejections', () => {
  it('fail a gang rejected MUSTER_MAX_DISPATCH_ATTEMPTS times instead of placing it forever', async () => {
    const id = await submit('never-creatable');
    for (let n = 1; n <= MAX_ATTEMPTS; n++) {
      agent.answer(await nthDispatch(id, n), false, 'CreateFailed');
    }
    await eventually(
      'Failed',
      async () => (await stateOf(id)) === JobState.JOB_STATE_FAILED || undefined,
    );
    const job = (await api.jobs.getJob({ jobId: id })).job!;
    expect(job.reason).toBe('TooManyAttempts');
    expect(job.message).toMatch(/^rejected 3 times .*the last time east said: CreateFailed/);
    await new Promise((r) => setTimeout(r, 1500)); // longer than the 1 s backoff
    expect(dispatches(id)).toHaveLength(MAX_ATTEMPTS);
    const held = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM reservations WHERE job_id = $1',
      [id],
    );
    expect(Number(held[0]!.n)).toBe(0);
  });
});

describe('answers for a dispatch that is no longer current', () => {
  it('an ACCEPTED for an outdated token cancels that copy, and leaves the current one alone', async () => {
    const id = await submit('late-accept');
    const first = await nthDispatch(id, 1);
    agent.answer(first, false, 'Fenced'); // requeued with a new token, excluded nowhere
    const second = await nthDispatch(id, 2);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    agent.answer(first, true); // the old copy turns out to exist after all
    const cancel = await eventually('a cancel of the old token', () =>
      agent.cancels().find((c) => c.gangId === id && c.fencingToken === first.fencingToken),
    );
    expect(cancel).toBeDefined();
    agent.answer(second, true);
    await eventually(
      'the current copy Dispatched',
      async () => (await stateOf(id)) === JobState.JOB_STATE_DISPATCHED || undefined,
    );
    agent.answer(second, true); // a repeated answer for the current copy cancels nothing
    await new Promise((r) => setTimeout(r, 500));
    expect(
      agent
        .cancels()
        .filter((c) => c.gangId === id)
        .map((c) => c.fencingToken),
    ).toEqual([first.fencingToken]);
  });
});

describe('member reports', () => {
  it('applies a batch that reports one member twice (the last report wins)', async () => {
    const id = await submit('twice');
    const d = await nthDispatch(id, 1);
    agent.answer(d, true);
    await eventually(
      'Dispatched',
      async () => (await stateOf(id)) === JobState.JOB_STATE_DISPATCHED || undefined,
    );
    const state = (index: number, phase: MemberPhase) =>
      report(d, 'w', index, phase, { nodeName: d.podSets[0]!.members[index]!.nodeName });
    agent.send({
      $case: 'memberStates',
      memberStates: {
        batchId: 0,
        members: [
          state(0, MemberPhase.MEMBER_PHASE_PENDING),
          state(1, MemberPhase.MEMBER_PHASE_RUNNING),
          state(0, MemberPhase.MEMBER_PHASE_RUNNING),
        ],
      },
    });
    await eventually(
      'Running',
      async () => (await stateOf(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
  });

  it('ignores reports of members the gang does not have (another pod set, an index past its count)', async () => {
    const id = await submit('forged');
    const d = await nthDispatch(id, 1);
    agent.answer(d, true);
    agent.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running',
      async () => (await stateOf(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
    // A pod that copied a member's labels, with a pod set or an index of its own, exits 1.
    const forged = (podSet: string, index: number) =>
      report(d, podSet, index, MemberPhase.MEMBER_PHASE_FAILED, { reason: 'Error', exitCode: 1 });
    agent.send({
      $case: 'memberStates',
      memberStates: { batchId: 0, members: [forged('w', 99), forged('w', -1), forged('other', 0)] },
    });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stateOf(id)).toBe(JobState.JOB_STATE_RUNNING);
    const rows = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM job_members WHERE job_id = $1',
      [id],
    );
    expect(Number(rows[0]!.n)).toBe(2);
    agent.members(d, MemberPhase.MEMBER_PHASE_SUCCEEDED);
    await eventually(
      'Succeeded',
      async () => (await stateOf(id)) === JobState.JOB_STATE_SUCCEEDED || undefined,
    );
  });

  it('requeues (not fails) a requeue gang its agent fenced itself, once every member is gone', async () => {
    const id = await submit('self-fenced', OnClusterLost.ON_CLUSTER_LOST_REQUEUE);
    const d = await nthDispatch(id, 1);
    agent.answer(d, true);
    agent.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running',
      async () => (await stateOf(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
    const lost = (index: number) => ({
      gangId: id,
      fencingToken: d.fencingToken,
      podSet: 'w',
      index,
      phase: MemberPhase.MEMBER_PHASE_LOST,
      reason: 'SelfFenced',
      exitCode: 0,
      nodeName: d.podSets[0]!.members[index]!.nodeName,
      podName: `p-${index}`,
    });
    agent.send({ $case: 'memberStates', memberStates: { batchId: 0, members: [lost(0)] } });
    await eventually('Fencing noted', async () => {
      const e = await db.query<{ reason: string }>(
        `SELECT reason FROM job_events WHERE job_id = $1 ORDER BY seq DESC LIMIT 1`,
        [id],
      );
      return e[0]?.reason === 'Fencing' || undefined;
    });
    expect(await stateOf(id)).toBe(JobState.JOB_STATE_RUNNING);
    expect(dispatches(id)).toHaveLength(1); // one member may still run: not moved yet
    agent.send({ $case: 'memberStates', memberStates: { batchId: 0, members: [lost(1)] } });
    const again = await nthDispatch(id, 2);
    expect(again.fencingToken).toBeGreaterThan(d.fencingToken);
    const states = await db.query<{ state: string; reason: string }>(
      'SELECT state, reason FROM job_events WHERE job_id = $1 ORDER BY seq',
      [id],
    );
    expect(states.map((s) => s.state)).not.toContain('Failed');
    expect(states.map((s) => `${s.state}:${s.reason}`)).toContain('Queued:SelfFenced');
  });
});

describe('gangs the cluster no longer holds', () => {
  it('are settled by the snapshot of a reconnecting agent: failed, or placed again, never left Running', async () => {
    // Room for three gangs: earlier tests' gangs that still hold GPUs are cancelled.
    const { jobs } = await api.jobs.listJobs({
      queue: 'q',
      states: [],
      pageSize: 100,
      pageToken: '',
    });
    for (const j of jobs)
      if (j.state <= JobState.JOB_STATE_RUNNING)
        await api.jobs.cancelJob({ jobId: j.id, reason: 'make room' });
    const gone = await submit('vanished-wait');
    const moved = await submit('vanished-requeue', OnClusterLost.ON_CLUSTER_LOST_REQUEUE);
    const kept = await submit('still-held');
    const first = new Map<string, Dispatch>();
    for (const id of [gone, moved, kept]) {
      const d = await nthDispatch(id, 1);
      first.set(id, d);
      agent.answer(d, true);
      agent.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    }
    for (const id of [gone, moved, kept])
      await eventually(
        `${id} Running`,
        async () => (await stateOf(id)) === JobState.JOB_STATE_RUNNING || undefined,
      );
    // Two gangs' pods are deleted while the agent is away; it comes back without them.
    agent.disconnect();
    agent.lose(gone);
    agent.lose(moved);
    agent.connect([
      { name: 'east-n0', allocatable: { cpu: '64', memory: '256Gi', 'nvidia.com/gpu': '8' } },
    ]);
    await eventually(
      'the vanished wait gang Failed',
      async () => (await stateOf(gone)) === JobState.JOB_STATE_FAILED || undefined,
    );
    const failed = (await api.jobs.getJob({ jobId: gone })).job!;
    expect([failed.reason, failed.message]).toEqual([
      'Vanished',
      "no pod of the gang is left in east (its agent's snapshot holds none)",
    ]);
    const again = await nthDispatch(moved, 2);
    expect(again.fencingToken).toBe(first.get(moved)!.fencingToken + 1);
    expect(await stateOf(kept)).toBe(JobState.JOB_STATE_RUNNING);
    const reserved = await db.query<{ job_id: string }>(
      'SELECT job_id FROM reservations WHERE job_id = ANY($1::uuid[])',
      [[gone, moved, kept]],
    );
    expect(reserved.map((r) => r.job_id).sort()).toEqual([moved, kept].sort());
    for (const id of [moved, kept]) await api.jobs.cancelJob({ jobId: id, reason: 'done' });
  });
});

describe('restarts', () => {
  it('tears the whole gang down when a member fails, starts it again with a new token, and fails once restarts are used up', async () => {
    const id = await submit('restartable', OnClusterLost.ON_CLUSTER_LOST_WAIT, 1);
    const first = await nthDispatch(id, 1);
    agent.answer(first, true);
    agent.members(first, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running',
      async () => (await stateOf(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
    const member = (d: Dispatch, index: number, phase: MemberPhase, reason = '') => ({
      gangId: id,
      fencingToken: d.fencingToken,
      podSet: 'w',
      index,
      phase,
      reason,
      exitCode: phase === MemberPhase.MEMBER_PHASE_FAILED ? 1 : 0,
      nodeName: d.podSets[0]!.members[index]!.nodeName,
      podName: `p-${index}`,
    });
    agent.send({
      $case: 'memberStates',
      memberStates: {
        batchId: 0,
        members: [member(first, 0, MemberPhase.MEMBER_PHASE_FAILED, 'Error')],
      },
    });
    // The other member still runs: the agent is told to delete the gang, and it is not moved yet.
    await eventually('a cancel of the failed copy', () =>
      agent.cancels().find((c) => c.gangId === id && c.fencingToken === first.fencingToken),
    );
    const restarting = (await api.jobs.getJob({ jobId: id })).job!;
    expect(restarting.state).toBe(JobState.JOB_STATE_RUNNING);
    expect(restarting.reason).toBe('Restarting');
    expect(restarting.message).toMatch(/restart 1 of 1/);
    expect(dispatches(id)).toHaveLength(1);
    // The agent reports the rest gone: now the gang starts again, whole, with a new token.
    agent.send({
      $case: 'memberStates',
      memberStates: {
        batchId: 0,
        members: [member(first, 1, MemberPhase.MEMBER_PHASE_LOST, 'Cancelled')],
      },
    });
    const second = await nthDispatch(id, 2);
    expect(second.fencingToken).toBe(first.fencingToken + 1);
    expect((await api.jobs.getJob({ jobId: id })).job!.restarts).toBe(1);
    agent.answer(second, true);
    agent.members(second, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running again',
      async () => (await stateOf(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
    agent.send({
      $case: 'memberStates',
      memberStates: {
        batchId: 0,
        members: [member(second, 1, MemberPhase.MEMBER_PHASE_FAILED, 'Error')],
      },
    });
    await eventually(
      'Failed: no restarts left',
      async () => (await stateOf(id)) === JobState.JOB_STATE_FAILED || undefined,
    );
    await eventually('a cancel of the second copy', () =>
      agent.cancels().find((c) => c.gangId === id && c.fencingToken === second.fencingToken),
    );
    expect(dispatches(id)).toHaveLength(2);
  });

  it('refuses a restart budget out of range, naming the field', async () => {
    await expect(
      api.jobs.submitJob({
        clientRequestId: randomUUID(),
        spec: jobSpec('q', { maxRestarts: 101, podSets: [podSet('w', 1, { cpu: '1' })] }),
      }),
    ).rejects.toMatchObject({ details: 'spec.max_restarts: must be between 0 and 100 (got 101)' });
  });
});

describe('metrics', () => {
  it('export how long gangs waited and were dispatched, and how many wait in each queue', async () => {
    // A gang no node can hold stays queued; the gangs above were reserved and accepted.
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('q', { name: 'too-big', podSets: [podSet('w', 2, { cpu: '100000' })] }),
    });
    const read = async () => {
      const [{ queued, accepted }] = await db.query<{ queued: number; accepted: number }>(
        `SELECT (SELECT count(*) FROM jobs WHERE queue = 'q' AND state = 'Queued')::int AS queued,
                (SELECT count(*) FROM job_events WHERE state = 'Dispatched')::int AS accepted`,
      );
      const metrics = await (await fetch(`${env.hub.httpUrl}/metrics`)).text();
      const value = (pattern: string): number => {
        const line = metrics.split('\n').find((l) => l.startsWith(pattern + ' '));
        return line ? Number(line.slice(pattern.length + 1)) : NaN;
      };
      return {
        queued,
        accepted,
        queuedGauge: value('muster_queued_gangs{queue="q"}'),
        dispatches: value('muster_dispatch_duration_seconds_count'),
        waits: value('muster_gang_queue_wait_seconds_count{queue="q"}'),
        enqueuePhases: value('muster_scheduling_cycle_phase_seconds_count{phase="enqueue"}'),
      };
    };
    // Postgres and /metrics are read one after the other: equal once nothing moves between them.
    let seen: Awaited<ReturnType<typeof read>> | undefined;
    await eventually(
      'the metrics to match Postgres',
      async () => {
        seen = await read();
        return (
          seen.queued > 0 && seen.queuedGauge === seen.queued && seen.dispatches === seen.accepted
        );
      },
      { describe: () => JSON.stringify(seen) },
    );
    // One dispatch observation per ACCEPTED of a current placement (each a Dispatched event);
    // a wait per reservation, and some gangs were reserved more than once.
    expect(seen!.accepted).toBeGreaterThan(0);
    expect(seen!.waits).toBeGreaterThanOrEqual(seen!.accepted);
    expect(seen!.enqueuePhases).toBeGreaterThan(0);
  });
});
