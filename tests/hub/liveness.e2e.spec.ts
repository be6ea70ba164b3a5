// "Lost" means the agent is silent, not that the hub could not write to Postgres: a database
// outage longer than workerLostTimeout, with agents connected all along, loses no cluster and
// moves no gang. Real hub process, real Postgres behind a proxy the test cuts, real Redis.
import { randomUUID } from 'node:crypto';
import { AgentState, JobState, MemberPhase, OnClusterLost, type HubClients } from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import { jobSpec, podSet } from '../support/fixtures';
import {
  connectFakeCluster,
  eventually,
  type FakeAgent,
  type FakeCluster,
} from '../support/fake-agent';
import { TcpProxy } from '../support/tcp-proxy';

const LOST_MS = 3000;

let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
let api: HubClients;
let proxy: TcpProxy;
let east: FakeCluster;
let agent: FakeAgent;

beforeAll(async () => {
  env = await startHubEnvironment({
    // The hub reaches Postgres through a proxy the test can cut.
    databaseUrl: async (database) => {
      const url = new URL(database.url);
      proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      url.port = String(await proxy.open());
      return url.toString();
    },
    env: {
      MUSTER_WORKER_LOST_TIMEOUT_MS: String(LOST_MS),
      MUSTER_SELF_FENCE_TIMEOUT_MS: '1000',
      MUSTER_FENCE_DELETE_GRACE_S: '1',
      MUSTER_HEARTBEAT_INTERVAL_MS: '300',
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_RECONCILE_INTERVAL_MS: '1000',
    },
    queues: ['q'],
  });
  ({ db, hub, api } = env);
  // Heartbeats as far apart as the timeout allows: after the outage, the hub must not judge the
  // agent by the age of a heartbeat it could not record.
  east = await connectFakeCluster(
    api,
    hub.grpcAddress,
    'east',
    [{ name: 'east-n0', allocatable: { cpu: '64', memory: '256Gi', 'nvidia.com/gpu': '8' } }],
    2000,
  );
  agent = east.agent;
});

afterAll(async () => {
  east?.close();
  try {
    await env?.stop();
  } finally {
    await proxy?.cut();
  }
});

it('a Postgres outage longer than the lost timeout, agents connected, loses no cluster and moves no gang', async () => {
  const { job } = await api.jobs.submitJob({
    clientRequestId: randomUUID(),
    spec: jobSpec('q', {
      onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
      podSets: [podSet('w', 2, { 'nvidia.com/gpu': '1' })],
    }),
  });
  const id = job!.id;
  const d = await eventually('dispatched', () => agent.dispatches().find((x) => x.gangId === id));
  agent.answer(d, true);
  agent.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
  await eventually(
    'Running',
    async () =>
      (await api.jobs.getJob({ jobId: id })).job!.state === JobState.JOB_STATE_RUNNING || undefined,
  );

  const port = proxy.port;
  await proxy.cut(); // Postgres unreachable for the hub; the agent's stream stays up
  await new Promise((r) => setTimeout(r, LOST_MS + 2000));
  await proxy.open(port);
  await new Promise((r) => setTimeout(r, LOST_MS + 2000)); // a whole timeout after it is back

  const lostMarks = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM job_events WHERE job_id = $1 AND reason = 'ClusterLost'`,
    [id],
  );
  expect(Number(lostMarks[0]!.n)).toBe(0);
  const cluster = await eventually(
    'the hub serving again',
    async () => (await api.inventory.getCluster({ name: 'east' })).cluster,
  );
  expect(cluster.agentState).toBe(AgentState.AGENT_STATE_CONNECTED); // never Lost
  expect((await api.jobs.getJob({ jobId: id })).job!.state).toBe(JobState.JOB_STATE_RUNNING);
  expect(agent.dispatches().filter((x) => x.gangId === id)).toHaveLength(1);
  expect(agent.ended).toBe(false);
});
