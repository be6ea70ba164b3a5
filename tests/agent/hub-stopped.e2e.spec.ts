// The agent's lease against a hub that is SIGSTOPped: the process is frozen, its sockets stay open,
// so the agent's stream looks up (gRPC keepalive takes 20 s + 10 s to notice) while nothing at all
// arrives. The agent must self-fence its `requeue` gang from the last message it received, before
// the hub's worker-lost timeout would run out, and leave its `wait` gang running. Real hub process,
// real agent, a real kube-apiserver (testbed), Postgres and Redis.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JobState, OnClusterLost, type HubClients, type JobSpec } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { registerWorker, untilReporting } from '../support/clusters';
import { eventually } from '../support/fake-agent';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { testLogDir, type HubProcess } from '../support/hub-process';
import { jobSpec, podSet } from '../support/fixtures';
import { workerTopology } from './support/fixtures';
import { Kube } from './support/kube';

jest.setTimeout(10 * 60_000);

const SETUP_TIMEOUT = 45 * 60_000;
const CLUSTER = 'w1';
const NS = 'default';
const HEARTBEAT_MS = 500;
const SELF_FENCE_MS = 3000;
const FENCE_GRACE_S = 1;
/** Above selfFence + grace + 2 heartbeats (the hub refuses anything less). */
const LOST_MS = 8000;

const logs = testLogDir('agent-hub-stopped');
let tb: Testbed;
let cluster: TestbedCluster;
let kube: Kube;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
let agent: AgentProcess;
let stopped = false;

function spec(name: string, onClusterLost: OnClusterLost): JobSpec {
  // namespace '': the agent's default, NS
  return jobSpec('q', { name, onClusterLost, podSets: [podSet('w', 2, { cpu: '100m' })] });
}

async function submit(name: string, onClusterLost: OnClusterLost): Promise<string> {
  const r = await api.jobs.submitJob({
    clientRequestId: randomUUID(),
    spec: spec(name, onClusterLost),
  });
  return r.job!.id;
}

async function running(jobId: string): Promise<void> {
  await eventually(
    `job ${jobId} Running with both pods Running\n${agent.tail()}`,
    async () => {
      const job = (await api.jobs.getJob({ jobId })).job!;
      const pods = await kube.gangPods(NS, jobId);
      return (
        (job.state === JobState.JOB_STATE_RUNNING &&
          pods.length === 2 &&
          pods.every((p) => p.status?.phase === 'Running')) ||
        undefined
      );
    },
    90_000,
  );
}

beforeAll(async () => {
  tb = await startTestbed(workerTopology(CLUSTER, 2), { log: () => undefined });
  cluster = tb.cluster(CLUSTER);
  kube = new Kube(cluster);
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_WORKER_LOST_TIMEOUT_MS: String(LOST_MS),
      MUSTER_SELF_FENCE_TIMEOUT_MS: String(SELF_FENCE_MS),
      MUSTER_FENCE_DELETE_GRACE_S: String(FENCE_GRACE_S),
      MUSTER_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '1',
      MUSTER_RECONCILE_INTERVAL_MS: '1000',
    },
    queues: ['q'],
  });
  ({ hub, api } = env);
  await registerWorker(api, CLUSTER);
  agent = AgentProcess.start({
    cluster: CLUSTER,
    hub: hub.grpcAddress,
    kubeconfig: cluster.kubeconfigPath,
    logFile: join(logs, 'agent.log'),
  });
  await untilReporting(api, CLUSTER, 90_000, agent.tail());
}, SETUP_TIMEOUT);

afterAll(async () => {
  if (stopped) process.kill(hub.pid, 'SIGCONT');
  await agent?.stop();
  try {
    await env?.stop();
  } finally {
    kube?.close();
    await tb?.stop();
  }
});

it('self-fences the requeue gang of a SIGSTOPped hub from its last message, keeps the wait gang', async () => {
  const requeue = await submit('fence-me', OnClusterLost.ON_CLUSTER_LOST_REQUEUE);
  const wait = await submit('keep-me', OnClusterLost.ON_CLUSTER_LOST_WAIT);
  await running(requeue);
  await running(wait);
  const ack = agent.logs('hello acknowledged').at(-1);
  expect([ack?.selfFenceTimeoutMs, ack?.fenceDeleteGraceSeconds]).toEqual([
    SELF_FENCE_MS,
    FENCE_GRACE_S,
  ]);

  // Frozen, not gone: the kernel keeps its sockets open and answers TCP, nothing more.
  const t0 = Date.now();
  process.kill(hub.pid, 'SIGSTOP');
  stopped = true;
  // The promise the hub's configuration check makes: fenced, grace included, before the hub
  // would call the cluster lost. The agent of old only noticed the stream down after keepalive.
  await eventually(
    `the requeue gang's pods gone within the worker-lost timeout (${LOST_MS} ms)\n${agent.tail()}`,
    async () => (await kube.gangPods(NS, requeue)).length === 0 || undefined,
    LOST_MS,
  );
  const goneMs = Date.now() - t0;
  const fenced = agent.logs(
    'no word from the hub within the self-fence timeout; deleting requeue gang',
  );
  console.log(
    `hub SIGSTOPped: requeue gang gone after ${goneMs} ms (self-fence ${SELF_FENCE_MS} ms + ` +
      `grace ${FENCE_GRACE_S} s; the agent decided ${Date.parse(fenced[0]?.time ?? '') - t0} ms ` +
      `after the stop, ${String(fenced[0]?.silentForMs)} ms after its last message from the hub)`,
  );
  expect(fenced.map((l) => [l.gang, l.streamUp])).toEqual([[requeue, true]]);
  // The delete was bounded by the grace the hub told (the pod's own is the API default, 30 s);
  // logged when the delete returns, which may be after the pods are seen gone.
  const graces = await eventually('the SelfFenced delete logged', () => {
    const g = agent
      .logs('member pods deleted')
      .filter((l) => l.gang === requeue && l.reason === 'SelfFenced')
      .map((l) => l.gracePeriodSeconds);
    return g.length > 0 ? g : undefined;
  });
  expect([...new Set(graces)]).toEqual([FENCE_GRACE_S]);
  const kept = await kube.gangPods(NS, wait);
  expect(
    kept.map((p) => [p.status?.phase, p.metadata.deletionTimestamp === undefined]).sort(),
  ).toEqual([
    ['Running', true],
    ['Running', true],
  ]);

  // The hub resumes: it hears the LOST SelfFenced members and places the requeue gang again with
  // a new token; the wait gang keeps its first placement.
  process.kill(hub.pid, 'SIGCONT');
  stopped = false;
  const again = await eventually(
    `the requeue gang placed again\n${agent.tail()}`,
    async () => {
      const job = (await api.jobs.getJob({ jobId: requeue })).job!;
      return job.dispatchGeneration > 1 ? job : undefined;
    },
    60_000,
  );
  expect(again.dispatchGeneration).toBe(2);
  const waitJob = (await api.jobs.getJob({ jobId: wait })).job!;
  expect([waitJob.state, waitJob.dispatchGeneration]).toEqual([JobState.JOB_STATE_RUNNING, 1]);
});
