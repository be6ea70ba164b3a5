// Front-door benchmark (not a test): prints figures. BENCH_OBJECTS Jobs (default 200), each a gang
// of 2 small pods, are created on a real management cluster (testbed) from BENCH_CLIENTS clients
// (default 10), as `kubectl create` sends them; the hub's front door takes each and a real agent
// runs it on one worker. Measured per object, from its create's reply: until the hub's job id
// is on the object (taken), and until the object says Running (the user's view that it runs),
// read from one LIST of the namespace every 50 ms. Beside them, in the same run, the raw
// limits: the API server's create latency for the same objects (with no queue label, so the
// front door leaves them alone) and the hub's gRPC SubmitJob latency for the same gangs.
// Every object must end with exactly one Muster job, or the run fails.
//   BENCH_OBJECTS=N BENCH_CLIENTS=C bench/front-door/run.sh
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JobState, type JobSpec } from '@muster/api';
import { kubeJSON, startTestbed, type KubeEndpoint } from '@muster/testbed';
import { ManagementCluster } from '../../tests/cluster-profiles/management-cluster';
import { AgentProcess } from '../../tests/support/agent-process';
import { registerWorker } from '../../tests/support/clusters';
import { HubProcess, testLogDir } from '../../tests/support/hub-process';
import { createTestDatabase, createTestRedis } from '../../tests/support/services';
import {
  fig,
  percentilesMs,
  positiveInteger,
  printTable,
  runBench,
  timedPool,
} from '../support/figures';

const OBJECTS = positiveInteger('BENCH_OBJECTS', process.env.BENCH_OBJECTS, 200);
const CLIENTS = positiveInteger('BENCH_CLIENTS', process.env.BENCH_CLIENTS, 10);
const NS = 'bench';
const QUEUE = 'bench';
const WORKER = 'fd-bench-worker';
const JOBS = `/apis/batch/v1/namespaces/${NS}/jobs`;

const TEMPLATE = {
  spec: {
    containers: [
      {
        name: 'main',
        image: 'registry.example/train:1',
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
      },
    ],
    restartPolicy: 'Never',
  },
};

function job(name: string, labelled: boolean) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: NS,
      labels: labelled ? { 'kueue.x-k8s.io/queue-name': QUEUE } : { bench: 'raw' },
    },
    spec: { parallelism: 2, completions: 2, suspend: true, template: TEMPLATE },
  };
}

const SPEC: JobSpec = {
  name: 'grpc',
  queue: QUEUE,
  priority: 0,
  onClusterLost: 0,
  labels: {},
  namespace: NS,
  maxRestarts: 0,
  resourceClaimTemplates: [],
  matchDeviceAttribute: '',
  podSets: [
    { name: 'main', count: 2, topology: undefined, podTemplateJson: JSON.stringify(TEMPLATE) },
  ],
  podSetGroups: [],
};

interface Listed {
  items: { metadata: { name: string; annotations?: Record<string, string> } }[];
}

async function main(): Promise<void> {
  const logs = testLogDir('bench-front-door');
  const tb = await startTestbed(
    {
      clusters: [
        {
          name: 'mgmt',
          role: 'management',
          nodePools: [
            { name: 'system', count: 1, resources: { cpu: 1, memory: '1Gi', pods: 110 } },
          ],
        },
        {
          name: WORKER,
          role: 'worker',
          nodePools: [
            { name: 'cpu', count: 10, resources: { cpu: 64, memory: '256Gi', pods: 500 } },
          ],
        },
      ],
    },
    { log: () => undefined },
  );
  const m = tb.management!;
  const mgmt: KubeEndpoint = { server: m.server, token: m.token, ca: m.ca };
  const management = new ManagementCluster(mgmt);
  await management.installCrd();
  await management.createNamespace(NS);
  const w = tb.cluster(WORKER);
  await kubeJSON(
    { server: w.server, token: w.token, ca: w.ca },
    'POST',
    '/api/v1/namespaces',
    { metadata: { name: NS } },
    [409],
  );
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const hub = await HubProcess.start({
    databaseUrl: db.url,
    redisPrefix: redis.prefix,
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_INVENTORY_KUBECONFIG: m.kubeconfigPath,
      MUSTER_INVENTORY_POLL_MS: '1000',
      MUSTER_CYCLE_PERIOD_MS: '500',
    },
  });
  const api = hub.connect();
  let agent: AgentProcess | undefined;
  try {
    await api.inventory.createQueue({
      queue: { name: QUEUE, description: '', weight: 1, allowedNamespaces: [NS] },
    });
    await registerWorker(api, WORKER);
    agent = AgentProcess.start({
      cluster: WORKER,
      hub: hub.grpcAddress,
      kubeconfig: tb.cluster(WORKER).kubeconfigPath,
      logFile: join(logs, `agent-${WORKER}.log`),
      env: { MUSTER_LOG_LEVEL: 'warn' },
    });
    for (const deadline = Date.now() + 120_000; ;) {
      const { clusters } = await api.inventory.listClusters({});
      if (clusters.every((c) => c.agentState === 2 && (c.capacity?.nodeCount ?? 0) > 0)) break;
      if (Date.now() > deadline) throw new Error('the agent did not connect within 120 s');
      await new Promise((r) => setTimeout(r, 200));
    }

    // Raw limit 1: the API server creating the same objects, which the front door ignores.
    const raw = await timedPool(OBJECTS, CLIENTS, async (i) => {
      await kubeJSON(mgmt, 'POST', JOBS, job(`raw-${i}`, false));
    });
    // Raw limit 2: the hub committing the same gangs over gRPC.
    const grpc = await timedPool(OBJECTS, CLIENTS, async () => {
      await api.jobs.submitJob({ clientRequestId: randomUUID(), spec: SPEC });
    });

    // Those gangs run before the front door's objects come, so these do not wait behind them.
    const settled = Date.now() + 5 * 60_000;
    for (;;) {
      const page = await api.jobs.listJobs({
        queue: QUEUE,
        states: [JobState.JOB_STATE_RUNNING],
        pageSize: 1000,
        pageToken: '',
      });
      if (page.jobs.length >= OBJECTS) break;
      if (Date.now() > settled) throw new Error(`only ${page.jobs.length} gRPC gangs ran in 5 min`);
      await new Promise((r) => setTimeout(r, 500));
    }

    // The front door: create, then watch the namespace's list for each object's annotations.
    const createdAt = new Map<string, number>();
    const taken = new Map<string, number>();
    const running = new Map<string, number>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const list = await kubeJSON<Listed>(
          mgmt,
          'GET',
          `${JOBS}?labelSelector=kueue.x-k8s.io%2Fqueue-name`,
        );
        const now = performance.now();
        for (const o of list.items) {
          const a = o.metadata.annotations ?? {};
          if (a['muster.dev/job-id'] && !taken.has(o.metadata.name))
            taken.set(o.metadata.name, now);
          if (a['muster.dev/state'] === 'Running' && !running.has(o.metadata.name))
            running.set(o.metadata.name, now);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const started = performance.now();
    const creates = await timedPool(OBJECTS, CLIENTS, async (i) => {
      await kubeJSON(mgmt, 'POST', JOBS, job(`fd-${i}`, true));
      createdAt.set(`fd-${i}`, performance.now());
    });
    const deadline = Date.now() + 10 * 60_000;
    while (running.size < OBJECTS && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const allRunning = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    if (running.size < OBJECTS)
      throw new Error(`only ${running.size} of ${OBJECTS} objects said Running within 10 min`);

    const jobs = (
      await api.jobs.listJobs({ queue: QUEUE, states: [], pageSize: 1000, pageToken: '' })
    ).jobs;
    const perName = new Map<string, number>();
    for (const j of jobs) perName.set(j.spec!.name, (perName.get(j.spec!.name) ?? 0) + 1);
    const twice = [...createdAt.keys()].filter((n) => perName.get(n) !== 1);
    if (twice.length > 0)
      throw new Error(
        `${twice.length} objects do not have exactly one job: ${twice.slice(0, 5).join(', ')}`,
      );

    const since = (at: Map<string, number>) =>
      [...createdAt].map(([n, t]) => at.get(n)! - t).sort((a, b) => a - b);
    printTable(
      `front door: ${OBJECTS} Jobs of 2 pods from ${CLIENTS} clients (one management cluster, one worker)`,
      [
        [
          'raw: API server create',
          `${percentilesMs(raw.latencies)}  (${fig(OBJECTS / raw.seconds)} /s)`,
        ],
        [
          'raw: gRPC SubmitJob',
          `${percentilesMs(grpc.latencies)}  (${fig(OBJECTS / grpc.seconds)} /s)`,
        ],
        ['create (labelled)', `${percentilesMs(creates.latencies)}`],
        ['create → taken (job id on it)', percentilesMs(since(taken))],
        ['create → Running on it', percentilesMs(since(running))],
        ['all Running after', `${fig(allRunning)} s`],
        ['objects with exactly one job', `${OBJECTS - twice.length} of ${OBJECTS}`],
        ['sampling', 'one LIST of the namespace every 50 ms'],
      ],
    );
  } finally {
    await agent?.stop();
    api.close();
    await hub.stop();
    await tb.stop();
    await redis.cleanup();
    await db.drop();
  }
}

runBench(main);
