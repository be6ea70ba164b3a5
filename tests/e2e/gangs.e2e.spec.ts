// Muster's main job over real processes: the hub, three agents, three real kube-apiservers
// (testbed), Postgres and Redis. Checks the invariants from the clusters' own API servers.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AgentState, JobState, OnClusterLost, type HubClients } from '@muster/api';
import { startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { writeClusterAccess, type ClusterAccess } from '../support/cluster-access';
import { registerWorker } from '../support/clusters';
import { jobSpec, podSet, succeedsAfter } from '../support/fixtures';
import { ClusterObserver } from '../support/cluster-observer';
import { eventually } from '../support/fake-agent';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { freePort, testLogDir, type HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';

jest.setTimeout(15 * 60_000);

const WORKERS = ['w1', 'w2', 'w3'];
const LOST_MS = 8000;
const SELF_FENCE_MS = 5000;
/** The agents' bind timeout: no gang may stay partly bound this long. */
const BIND_TIMEOUT_MS = 30_000;

const logs = testLogDir('e2e-gangs');
let testbed: Testbed;
let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
let hubPort: number;
let api: HubClients;
let access: ClusterAccess;
const agents = new Map<string, AgentProcess>();
const proxies = new Map<string, TcpProxy>();

function startAgent(cluster: string): void {
  const proxy = proxies.get(cluster)!;
  agents.set(
    cluster,
    AgentProcess.start({
      cluster,
      hub: `127.0.0.1:${proxy.port}`,
      kubeconfig: testbed.cluster(cluster).kubeconfigPath,
      logFile: join(logs, `agent-${cluster}.log`),
      env: {
        MUSTER_SELF_FENCE_TIMEOUT_MS: String(SELF_FENCE_MS),
        MUSTER_BIND_TIMEOUT_MS: String(BIND_TIMEOUT_MS),
        MUSTER_LOG_LEVEL: 'info',
      },
    }),
  );
}

function gangSpec(
  name: string,
  members: number,
  opts: { succeedAfter?: string; onClusterLost?: OnClusterLost } = {},
) {
  return jobSpec('e2e', {
    name,
    onClusterLost: opts.onClusterLost ?? OnClusterLost.ON_CLUSTER_LOST_WAIT,
    podSets: [
      podSet(
        'workers',
        members,
        { cpu: '1', memory: '1Gi' },
        opts.succeedAfter ? succeedsAfter(opts.succeedAfter) : undefined,
      ),
    ],
  });
}

beforeAll(async () => {
  testbed = await startTestbed(join(__dirname, 'topology.yaml'), { log: () => undefined });
  access = writeClusterAccess(WORKERS.map((w) => testbed.cluster(w)));
  hubPort = await freePort();
  env = await startHubEnvironment({
    grpcPort: hubPort,
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_WORKER_LOST_TIMEOUT_MS: String(LOST_MS),
      MUSTER_SELF_FENCE_TIMEOUT_MS: String(SELF_FENCE_MS),
      MUSTER_FENCE_DELETE_GRACE_S: '1',
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '500',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '2',
      MUSTER_RECONCILE_INTERVAL_MS: '2000',
      MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE: access.providerFile,
    },
    queues: ['e2e'],
  });
  ({ db, hub, api } = env);
  for (const name of WORKERS) {
    await registerWorker(api, name, {
      accessProviders: access.accessProvidersFor(name),
      clusterSet: 'e2e',
    });
    const proxy = new TcpProxy({ host: '127.0.0.1', port: hubPort });
    await proxy.open();
    proxies.set(name, proxy);
    startAgent(name);
  }
  await eventually(
    'three agents connected with capacity',
    async () => {
      const { clusters } = await api.inventory.listClusters({});
      return (
        clusters.every(
          (c) =>
            c.agentState === AgentState.AGENT_STATE_CONNECTED && (c.capacity?.nodeCount ?? 0) > 0,
        ) || undefined
      );
    },
    60_000,
  );
});

afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await Promise.all([...proxies.values()].map((p) => p.cut()));
  try {
    // The hub serving the suite ran until now and shut down cleanly (not killed by a timer).
    await env?.stop();
  } finally {
    await testbed?.stop();
    access?.cleanup();
  }
});

/** Every check the observer makes, after a run of `intervalMs` samples, in one comparison. */
/** The fault run's counts, printed for the record (the assertions below decide). */
function printCounts(what: string, observer: ClusterObserver, lost: number): void {
  const count = (kind: string) => observer.violations.filter((v) => v.kind === kind).length;
  console.log(
    `${what}: ${observer.summary()}; in two clusters ${count('gang-in-two-clusters')}, ` +
      `two live tokens ${count('two-live-tokens')}, partial ${count('partial-gang-ungated') + count('partial-gang-abandoned')}, ` +
      `over-committed nodes ${count('node-over-committed')}, acknowledged jobs lost ${lost}`,
  );
}

function expectHonestRun(observer: ClusterObserver, intervalMs: number): void {
  const floor = ClusterObserver.floor(observer.stoppedAt - observer.startedAt, intervalMs);
  expect({
    failedSamples: observer.failedSamples,
    errors: observer.errors,
    // A sample floor proportional to the run: the sampler kept looking the whole time.
    belowSampleFloor: observer.samples < floor ? `${observer.summary()}; floor ${floor}` : false,
    violationCount: observer.violations.length,
    firstViolations: observer.violations.slice(0, 8),
    stillPartial: observer.ledger.openPartials(),
    partialLongerThanBindTimeout:
      observer.ledger.maxPartialMs >= BIND_TIMEOUT_MS ? observer.summary() : false,
  }).toEqual({
    failedSamples: 0,
    errors: [],
    belowSampleFloor: false,
    violationCount: 0,
    firstViolations: [],
    stillPartial: [],
    partialLongerThanBindTimeout: false,
  });
}

it('runs 200 gangs of 1–32 members whole, each in one cluster, across a hub SIGKILL', async () => {
  // Deterministic sizes: 1..32, cycling with a stride so sizes mix.
  const sizes = Array.from({ length: 200 }, (_, i) => ((i * 13) % 32) + 1);
  const byId = new Map<string, number>();
  const submitted: string[] = [];
  // Sampling starts before the first submit: a 1-member gang lives about 4 s, less than the
  // submit phase, so an observer started after it would never see the first gangs.
  const observer = new ClusterObserver(
    WORKERS.map((w) => testbed.cluster(w)),
    byId,
  );
  observer.start(300);
  for (let i = 0; i < sizes.length; i += 25) {
    const batch = await Promise.all(
      sizes.slice(i, i + 25).map((n, j) =>
        api.jobs.submitJob({
          clientRequestId: randomUUID(),
          spec: gangSpec(`gang-${i + j}`, n, { succeedAfter: '4s' }),
        }),
      ),
    );
    for (const r of batch) {
      byId.set(r.job!.id, r.job!.members!.total);
      submitted.push(r.job!.id);
    }
  }

  const counts = async () => {
    const states = new Map<JobState, number>();
    let token = '';
    do {
      const page = await api.jobs.listJobs({
        queue: 'e2e',
        states: [],
        pageSize: 500,
        pageToken: token,
      });
      for (const j of page.jobs) states.set(j.state, (states.get(j.state) ?? 0) + 1);
      token = page.nextPageToken;
    } while (token);
    return states;
  };

  await eventually(
    'a third of the gangs succeeded',
    async () => ((await counts()).get(JobState.JOB_STATE_SUCCEEDED) ?? 0) >= 60 || undefined,
    6 * 60_000,
  );
  api.close();
  await hub.kill();
  await env.startHub();
  ({ hub, api } = env);

  await eventually(
    'every gang succeeded',
    async () =>
      ((await counts()).get(JobState.JOB_STATE_SUCCEEDED) ?? 0) === submitted.length || undefined,
    10 * 60_000,
  );
  await observer.stop();
  const listed = [...(await counts()).values()].reduce((n, k) => n + k, 0);
  printCounts('hub SIGKILL run', observer, submitted.length - listed);

  expectHonestRun(observer, 300);
  // Every gang was seen, in exactly one cluster, and seen with all its members Running at once
  // or all bound at once with none finished.
  const unseen = submitted.filter((id) => observer.seen.get(id)?.size !== 1);
  expect(unseen.map((id) => [id, [...(observer.seen.get(id) ?? [])]])).toEqual([]);
  // (Each member succeeds 4 s after it starts: longer than the kube-scheduler takes to bind a
  // 32-member gang here, so a gang placed whole is seen whole.)
  const neverWhole = submitted.filter(
    (id) => !observer.ledger.wholeRunning.has(id) && !observer.ledger.wholeBound.has(id),
  );
  expect(neverWhole.map((id) => `${id} (${byId.get(id)} members)`)).toEqual([]);
  // Pod slots bind some of these gangs: w1 and w3 nodes have 6, and sizes go up to 32.
  expect(Math.max(...sizes)).toBeGreaterThan(6);
  // No gang was left partly bound until the agent gave up on it.
  const bindTimeouts = await db.query<{ job_id: string; message: string }>(
    `SELECT job_id, message FROM job_events WHERE queue = 'e2e' AND reason = 'BindTimeout'`,
  );
  expect(bindTimeouts).toEqual([]);
  const rows = await db.query<{ n: string }>(
    `SELECT COUNT(*) AS n FROM jobs WHERE queue = 'e2e' AND state = 'Succeeded'`,
  );
  expect(Number(rows[0]!.n)).toBe(200);
});

it('moves requeue gangs of a partitioned cluster elsewhere exactly once and keeps wait gangs', async () => {
  await api.inventory.cordonCluster({ name: 'w2', reason: 'e2e' });
  await api.inventory.cordonCluster({ name: 'w3', reason: 'e2e' });
  const elastic = (
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: gangSpec('elastic', 4, { onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE }),
    })
  ).job!.id;
  const patient = (
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: gangSpec('patient', 2, { onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT }),
    })
  ).job!.id;
  const running = async (id: string) => {
    const j = (await api.jobs.getJob({ jobId: id })).job!;
    return j.state === JobState.JOB_STATE_RUNNING ? j : undefined;
  };
  expect((await eventually('elastic running', () => running(elastic), 120_000)).cluster).toBe('w1');
  expect((await eventually('patient running', () => running(patient), 120_000)).cluster).toBe('w1');
  await api.inventory.uncordonCluster({ name: 'w2' });

  const observer = new ClusterObserver(
    WORKERS.map((w) => testbed.cluster(w)),
    new Map([
      [elastic, 4],
      [patient, 2],
    ]),
  );
  observer.start(250);

  await proxies.get('w1')!.cut(); // w1's agent loses the hub; it keeps running
  const moved = await eventually(
    'elastic running on another cluster',
    async () => {
      const j = await running(elastic);
      return j && j.cluster !== 'w1' ? j : undefined;
    },
    120_000,
  );
  expect(moved.cluster).toBe('w2');
  expect(moved.dispatchGeneration).toBe(2);
  const stay = (await api.jobs.getJob({ jobId: patient })).job!;
  expect(stay.cluster).toBe('w1');
  expect(stay.state).toBe(JobState.JOB_STATE_RUNNING);

  // w1 comes back: the wait gang is still there and the fenced copy does not return.
  await proxies.get('w1')!.open(proxies.get('w1')!.port);
  await eventually(
    'w1 connected again',
    async () =>
      (await api.inventory.getCluster({ name: 'w1' })).cluster!.agentState ===
        AgentState.AGENT_STATE_CONNECTED || undefined,
    60_000,
  );
  await new Promise((r) => setTimeout(r, 3000));
  await observer.stop();
  const found = await Promise.all(
    [elastic, patient].map((jobId) =>
      api.jobs.getJob({ jobId }).then(
        () => 1,
        () => 0,
      ),
    ),
  );
  printCounts('partition run', observer, 2 - found.reduce((n: number, k: number) => n + k, 0));
  expectHonestRun(observer, 250);
  expect([...(observer.seen.get(elastic) ?? [])].sort()).toEqual(['w1', 'w2']);
  expect([...(observer.seen.get(patient) ?? [])]).toEqual(['w1']);
  expect([...observer.ledger.wholeRunning].sort()).toEqual([elastic, patient].sort());
  expect((await api.jobs.getJob({ jobId: patient })).job!.state).toBe(JobState.JOB_STATE_RUNNING);
  for (const id of [elastic, patient]) await api.jobs.cancelJob({ jobId: id, reason: 'done' });
});
