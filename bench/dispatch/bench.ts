// Dispatch benchmark (not a test): prints figures, asserts nothing.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { JobState, type JobEvent } from '@muster/api';
import { startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../../tests/support/agent-process';
import { HubProcess, REPO_ROOT } from '../../tests/support/hub-process';
import { createTestDatabase, createTestRedis } from '../../tests/support/services';

const GANGS = Number(process.env.BENCH_GANGS ?? 1000);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 4);
const CONCURRENCY = 32;
const WORKERS = ['b1', 'b2', 'b3'];

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function template(): V1Pod['spec'] {
  return {
    containers: [
      {
        name: 'main',
        image: 'registry.example/train:1',
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
      },
    ],
  };
}

/** The physical limit: a plain client-node loop creating pods in all three clusters at once. */
async function rawCreateRate(testbed: Testbed, pods: number): Promise<number> {
  const apis = WORKERS.map((w) => {
    const kc = new KubeConfig();
    kc.loadFromString(testbed.cluster(w).kubeconfig);
    return kc.makeApiClient(CoreV1Api);
  });
  const names = Array.from({ length: pods }, (_, i) => ({
    api: apis[i % apis.length]!,
    name: `raw-${i}`,
  }));
  const started = performance.now();
  await pool(names, CONCURRENCY * apis.length, async ({ api, name }) => {
    await api.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name }, spec: template() },
    });
  });
  const seconds = (performance.now() - started) / 1000;
  await pool(names, CONCURRENCY * apis.length, async ({ api, name }) => {
    await api
      .deleteNamespacedPod({ namespace: 'default', name, gracePeriodSeconds: 0 })
      .catch(() => undefined);
  });
  return pods / seconds;
}

async function main(): Promise<void> {
  process.stdout.write(
    `dispatch benchmark: ${GANGS} gangs × ${MEMBERS} members, 1 hub + 3 agents + 3 kube-apiservers\n`,
  );
  const [testbed, db, redis] = await Promise.all([
    startTestbed(join(REPO_ROOT, 'bench/dispatch/topology.yaml'), {
      log: () => undefined,
    }),
    createTestDatabase(),
    createTestRedis(),
  ]);
  const agents: AgentProcess[] = [];
  let hub: HubProcess | undefined;
  try {
    const raw = await rawCreateRate(testbed, GANGS * MEMBERS);
    hub = await HubProcess.start({
      databaseUrl: db.url,
      redisPrefix: redis.prefix,
    });
    const api = hub.connect();
    await api.inventory.createQueue({
      queue: { name: 'bench', description: '', weight: 1, allowedNamespaces: [] },
    });
    for (const w of WORKERS) {
      await api.inventory.registerCluster({
        name: w,
        displayName: '',
        clusterSet: '',
        topologyLevels: [],
        accessProviders: [],
        labels: {},
      });
      agents.push(
        AgentProcess.start({
          cluster: w,
          hub: hub.grpcAddress,
          kubeconfig: testbed.cluster(w).kubeconfigPath,
          env: { MUSTER_LOG_LEVEL: 'warn' },
        }),
      );
    }
    for (;;) {
      const { clusters } = await api.inventory.listClusters({});
      if (clusters.every((c) => c.agentState === 2 && (c.capacity?.nodeCount ?? 0) > 0)) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    const submittedAt = new Map<string, number>();
    const dispatchedAt = new Map<string, number>();
    const stream = api.streams.watchJobs({ queue: 'bench', afterSequence: 0 });
    stream.on('data', (m: { event: JobEvent }) => {
      if (m.event.state === JobState.JOB_STATE_DISPATCHED && !dispatchedAt.has(m.event.jobId))
        dispatchedAt.set(m.event.jobId, performance.now());
    });
    stream.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));

    const spec = {
      name: 'bench',
      queue: 'bench',
      priority: 0,
      onClusterLost: 0,
      labels: {},
      namespace: '',
      podSetGroups: [],
      podSets: [
        {
          name: 'w',
          count: MEMBERS,
          topology: undefined,
          podTemplateJson: JSON.stringify({ spec: template() }),
        },
      ],
    };
    const started = performance.now();
    await pool(
      Array.from({ length: GANGS }, (_, i) => i),
      50,
      async () => {
        const t = performance.now();
        const { job } = await api.jobs.submitJob({ clientRequestId: randomUUID(), spec });
        submittedAt.set(job!.id, t);
      },
    );
    const submitSeconds = (performance.now() - started) / 1000;
    const deadline = Date.now() + 15 * 60_000;
    while (dispatchedAt.size < GANGS && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const lastDispatch = Math.max(...dispatchedAt.values());
    const total = (lastDispatch - started) / 1000;
    const latencies = [...dispatchedAt]
      .map(([id, at]) => at - (submittedAt.get(id) ?? at))
      .sort((a, b) => a - b);
    stream.cancel();
    api.close();

    const rows: [string, string][] = [
      ['gangs dispatched', `${dispatchedAt.size} of ${GANGS}`],
      [
        'submit phase',
        `${submitSeconds.toFixed(1)} s (${(GANGS / submitSeconds).toFixed(0)} submits/s)`,
      ],
      ['gangs/s, submit → dispatched', (dispatchedAt.size / total).toFixed(1)],
      [
        'p50 / p95 / p99 submit → dispatched',
        `${(pct(latencies, 50) / 1000).toFixed(2)} / ${(pct(latencies, 95) / 1000).toFixed(2)} / ${(pct(latencies, 99) / 1000).toFixed(2)} s`,
      ],
      ['pods/s materialised by Muster', ((dispatchedAt.size * MEMBERS) / total).toFixed(1)],
      ['pods/s raw client-node create loop', raw.toFixed(1)],
      ['Muster / raw', `${(((dispatchedAt.size * MEMBERS) / total / raw) * 100).toFixed(0)} %`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.stop();
    await testbed.stop();
    await redis.cleanup();
    await db.drop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
