// Confirmed fencing over real processes: a `requeue` gang of a lost cluster is placed elsewhere
// only after its old copy is confirmed gone — by the hub through the worker's API server (with the
// cluster's registered access, as Argo CD and MultiKueue reach it), or by an operator
// (`muster clusters fence`). A killed agent alone proves nothing: its pods keep running.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { JobState, OnClusterLost, type HubClients } from '@muster/api';
import { LABEL_GANG_ID } from '@muster/k8s';
import { kubeJSON, startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { registerWorker, untilReporting } from '../support/clusters';
import { writeClusterAccess, type ClusterAccess } from '../support/cluster-access';
import { ClusterObserver } from '../support/cluster-observer';
import { eventually } from '../support/fake-agent';
import { grpcError, jobSpec, podSet } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { testLogDir, type HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';

jest.setTimeout(10 * 60_000);

const WORKERS = ['w1', 'w2'];
const LOST_MS = 6000;
const SELF_FENCE_MS = 3000;

const logs = testLogDir('e2e-fencing');
let testbed: Testbed;
let env: HubEnvironment;
let db: TestDatabase;
let access: ClusterAccess;
let hub: HubProcess;
let api: HubClients;
const agents = new Map<string, AgentProcess>();
const figures: string[] = [];

function startAgent(cluster: string): void {
  agents.set(
    cluster,
    AgentProcess.start({
      cluster,
      hub: hub.grpcAddress,
      kubeconfig: testbed.cluster(cluster).kubeconfigPath,
      logFile: join(logs, `agent-${cluster}.log`),
      env: { MUSTER_SELF_FENCE_TIMEOUT_MS: String(SELF_FENCE_MS), MUSTER_LOG_LEVEL: 'info' },
    }),
  );
}

/** Submits a gang and waits until it runs on `cluster` (the other worker cordoned meanwhile). */
async function runningOn(cluster: string, name: string, members: number, policy: OnClusterLost) {
  const others = WORKERS.filter((w) => w !== cluster);
  for (const w of others) await api.inventory.cordonCluster({ name: w, reason: 'e2e' });
  const id = (
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('fence', {
        name,
        onClusterLost: policy,
        podSets: [podSet('workers', members, { cpu: '1', memory: '1Gi' })],
      }),
    })
  ).job!.id;
  await eventually(
    `${name} running on ${cluster}`,
    async () => {
      const j = (await api.jobs.getJob({ jobId: id })).job!;
      return j.state === JobState.JOB_STATE_RUNNING && j.cluster === cluster;
    },
    90_000,
  );
  for (const w of others) await api.inventory.uncordonCluster({ name: w });
  return id;
}

async function job(id: string) {
  return (await api.jobs.getJob({ jobId: id })).job!;
}

/** Pods of a gang in a worker, terminating ones included. */
async function podsOf(cluster: string, gangId: string): Promise<number> {
  const c = testbed.cluster(cluster);
  const list = await kubeJSON<{ items: unknown[] }>(
    { server: c.server, token: c.token, ca: c.ca },
    'GET',
    `/api/v1/pods?labelSelector=${encodeURIComponent(`${LABEL_GANG_ID}=${gangId}`)}`,
  );
  return list.items.length;
}

async function eventsOf(id: string): Promise<{ reason: string; message: string }[]> {
  return db.query<{ reason: string; message: string }>(
    `SELECT reason, message FROM job_events WHERE job_id = $1 ORDER BY seq`,
    [id],
  );
}

function expectNoViolations(observer: ClusterObserver): void {
  expect({
    failedSamples: observer.failedSamples,
    errors: observer.errors,
    violations: observer.violations.slice(0, 8),
  }).toEqual({ failedSamples: 0, errors: [], violations: [] });
}

beforeAll(async () => {
  testbed = await startTestbed(join(__dirname, 'fencing-topology.yaml'), { log: () => undefined });
  access = writeClusterAccess(WORKERS.map((w) => testbed.cluster(w)));
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: access.providerFile,
      MUSTER_WORKER_LOST_TIMEOUT_MS: String(LOST_MS),
      MUSTER_SELF_FENCE_TIMEOUT_MS: String(SELF_FENCE_MS),
      MUSTER_FENCE_DELETE_GRACE_S: '1',
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '500',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '1',
    },
    queues: ['fence'],
  });
  ({ db, hub, api } = env);
  for (const name of WORKERS) {
    await registerWorker(api, name, { accessProviders: access.accessProvidersFor(name) });
    startAgent(name);
  }
  for (const name of WORKERS) await untilReporting(api, name, 60_000);
}, 15 * 60_000);

afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => a.kill()));
  try {
    await env?.stop();
  } finally {
    await testbed?.stop();
    access?.cleanup();
  }
  if (figures.length > 0) process.stdout.write(`\nFencing figures:\n  ${figures.join('\n  ')}\n`);
});

it('agent SIGKILLed, API server reachable: the hub deletes the old copy, then moves the gang', async () => {
  const elastic = await runningOn('w1', 'elastic', 4, OnClusterLost.ON_CLUSTER_LOST_REQUEUE);
  const patient = await runningOn('w1', 'patient', 2, OnClusterLost.ON_CLUSTER_LOST_WAIT);
  const observer = new ClusterObserver(
    WORKERS.map((w) => testbed.cluster(w)),
    new Map([
      [elastic, 4],
      [patient, 2],
    ]),
  );
  observer.start(250);

  const killedAt = Date.now();
  await agents.get('w1')!.kill(); // its pods keep running: nothing in w1 deletes them now
  await eventually(
    'elastic running on w2',
    async () => {
      const j = await job(elastic);
      return j.state === JobState.JOB_STATE_RUNNING && j.cluster === 'w2';
    },
    90_000,
  );
  const movedMs = Date.now() - killedAt;
  // The sampler must have seen what the hub reports (the gang on w2) before it stops.
  await observer.caughtUp();
  await observer.stop();
  figures.push(
    `agent SIGKILL, API reachable: running again on w2 ${movedMs} ms after the kill ` +
      `(lost timeout ${LOST_MS} ms); ${observer.summary()}`,
  );
  // The wait gang stayed where it was, pods and all, while w1 had no agent.
  expect(await podsOf('w1', patient)).toBe(2);
  // Back before the checks, so the suite's next tests find w1 whole whatever they say.
  startAgent('w1');
  await untilReporting(api, 'w1', 60_000);

  expectNoViolations(observer);
  expect([...(observer.seen.get(elastic) ?? [])].sort()).toEqual(['w1', 'w2']);
  expect((await job(elastic)).dispatchGeneration).toBe(2);
  expect(await podsOf('w1', elastic)).toBe(0);
  const lost = (await eventsOf(elastic)).find((e) => e.reason === 'ClusterLost');
  expect(lost?.message).toMatch(/through the cluster's API server .* confirmed none remain/);
  // The returned agent keeps the wait gang and does not bring the moved one back.
  const stay = await job(patient);
  expect([stay.state, stay.cluster]).toEqual([JobState.JOB_STATE_RUNNING, 'w1']);
  expect(await podsOf('w1', patient)).toBe(2);
  for (const id of [elastic, patient]) await api.jobs.cancelJob({ jobId: id, reason: 'done' });
});

it('agent SIGKILLed, API server unreachable: the gang stays, says why, and moves once it answers', async () => {
  const elastic = await runningOn('w1', 'elastic-2', 4, OnClusterLost.ON_CLUSTER_LOST_REQUEUE);
  const w1 = testbed.cluster('w1');
  await agents.get('w1')!.kill();
  process.kill(-w1.pid, 'SIGSTOP'); // the API server, etcd and kwok of w1 all freeze
  let resumed = false;
  try {
    await eventually(
      'elastic-2 awaiting a fence',
      async () => (await job(elastic)).reason === 'AwaitingFence',
      60_000,
    );
    const explain = await api.jobs.explainJob({ jobId: elastic });
    expect(explain.summary).toMatch(/job is Running on cluster w1; AwaitingFence: /);
    expect(explain.summary).toMatch(/cannot be confirmed gone/);
    expect(explain.summary).toMatch(/muster clusters fence w1/);
    // It does not move while unconfirmed, however long the wait.
    await new Promise((r) => setTimeout(r, 2 * LOST_MS));
    const held = await job(elastic);
    expect([held.state, held.cluster, held.dispatchGeneration]).toEqual([
      JobState.JOB_STATE_RUNNING,
      'w1',
      1,
    ]);
    expect(await podsOf('w2', elastic)).toBe(0);

    const observer = new ClusterObserver(
      WORKERS.map((w) => testbed.cluster(w)),
      new Map([[elastic, 4]]),
    );
    const resumedAt = Date.now();
    process.kill(-w1.pid, 'SIGCONT');
    resumed = true;
    observer.start(250);
    await eventually(
      'elastic-2 running on w2',
      async () => {
        const j = await job(elastic);
        return j.state === JobState.JOB_STATE_RUNNING && j.cluster === 'w2';
      },
      90_000,
    );
    const movedMs = Date.now() - resumedAt;
    await observer.caughtUp();
    await observer.stop();
    figures.push(
      `agent SIGKILL + API server stopped: held ${2 * LOST_MS} ms+ as AwaitingFence; running on ` +
        `w2 ${movedMs} ms after the API server answered again; ${observer.summary()}`,
    );
    expectNoViolations(observer);
    expect(await podsOf('w1', elastic)).toBe(0);
  } finally {
    if (!resumed) process.kill(-w1.pid, 'SIGCONT');
  }
  startAgent('w1');
  await untilReporting(api, 'w1', 60_000);
  await api.jobs.cancelJob({ jobId: elastic, reason: 'done' });
});

it('refuses a manual fence of a cluster that is not Lost, and bad input, storing nothing', async () => {
  const connected = await grpcError(api.inventory.fenceCluster({ name: 'w1', reason: '' }));
  expect(connected.code).toBe(status.FAILED_PRECONDITION);
  expect(connected.details).toMatch(/cluster "w1" is Connected, not Lost/);
  const missing = await grpcError(api.inventory.fenceCluster({ name: 'nowhere', reason: '' }));
  expect(missing.code).toBe(5);
  const bad = await grpcError(api.inventory.fenceCluster({ name: 'W 1', reason: '' }));
  expect([bad.code, bad.details]).toEqual([3, expect.stringMatching(/^name: /)]);
  const long = await grpcError(
    api.inventory.fenceCluster({ name: 'w1', reason: 'x'.repeat(2000) }),
  );
  expect([long.code, long.details]).toEqual([3, expect.stringMatching(/^reason: /)]);
  const rows = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM job_events WHERE message LIKE '%confirmed by hand%'`,
  );
  expect(Number(rows[0]!.n)).toBe(0);
});

it('agent and API server gone for good: an operator fences by hand and the gang moves', async () => {
  const elastic = await runningOn('w1', 'elastic-3', 2, OnClusterLost.ON_CLUSTER_LOST_REQUEUE);
  const w1 = testbed.cluster('w1');
  await agents.get('w1')!.kill();
  process.kill(-w1.pid, 'SIGSTOP');
  await eventually(
    'elastic-3 awaiting a fence',
    async () => (await job(elastic)).reason === 'AwaitingFence',
    60_000,
  );
  // The operator powers w1 off (its pods die with it), then says so.
  process.kill(-w1.pid, 'SIGKILL');
  const fencedAt = Date.now();
  const res = await api.inventory.fenceCluster({ name: 'w1', reason: 'powered off' });
  expect(res.requeuedJobIds).toEqual([elastic]);
  await eventually(
    'elastic-3 running on w2',
    async () => {
      const j = await job(elastic);
      return j.state === JobState.JOB_STATE_RUNNING && j.cluster === 'w2';
    },
    90_000,
  );
  figures.push(`manual fence: running on w2 ${Date.now() - fencedAt} ms after the fence`);
  const lost = (await eventsOf(elastic)).find((e) => e.reason === 'ClusterLost');
  expect(lost?.message).toMatch(/confirmed by hand .*\(muster clusters fence\): powered off/);
  await api.jobs.cancelJob({ jobId: elastic, reason: 'done' });
});
