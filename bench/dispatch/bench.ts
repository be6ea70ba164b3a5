// Dispatch benchmark (not a test): prints figures. A gang counts as done only when the hub
// reports it Running AND all its members are Running in the worker cluster (read from the
// worker API servers). It fails — exit code 1 and one line saying why — when the hub's event
// stream errors, the hub or an agent exits, or the run ends with gangs not done.
//   BENCH_GANGS=N (or --gangs N), BENCH_MEMBERS=M, BENCH_TIMEOUT_S=S
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { JobState, type HubClients, type JobEvent } from '@muster/api';
import { startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../../tests/support/agent-process';
import { HubProcess, REPO_ROOT } from '../../tests/support/hub-process';
import { createTestDatabase, createTestRedis } from '../../tests/support/services';
import { fig, pct } from '../support/figures';
import { rawInserts } from '../support/raw-inserts';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function positive(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new BenchFailure(`${name} must be a positive integer`);
  return n;
}

/** A reason the run is not valid; printed as the one line of the failure. */
class BenchFailure extends Error {}

function settings(): { GANGS: number; MEMBERS: number; TIMEOUT_S: number } {
  try {
    return {
      GANGS: positive('BENCH_GANGS / --gangs', flag('gangs') ?? process.env.BENCH_GANGS, 1000),
      MEMBERS: positive('BENCH_MEMBERS', process.env.BENCH_MEMBERS, 4),
      TIMEOUT_S: positive('BENCH_TIMEOUT_S', process.env.BENCH_TIMEOUT_S, 15 * 60),
    };
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

const { GANGS, MEMBERS, TIMEOUT_S } = settings();
const CONCURRENCY = 32;
const WORKERS = ['b1', 'b2', 'b3'];
const RAW_LABEL = 'bench.muster.dev/raw';
const GANG_LABEL = 'muster.dev/gang-id';
const TOKEN_LABEL = 'muster.dev/fencing-token';

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

/** Anything that makes the run invalid, recorded once; every wait checks it. */
class Watchdog {
  failure: string | undefined;
  fail(reason: string): void {
    this.failure ??= reason;
  }
  check(): void {
    if (this.failure) throw new BenchFailure(this.failure);
  }
  async sleep(ms: number): Promise<void> {
    this.check();
    await new Promise((r) => setTimeout(r, ms));
    this.check();
  }
}

function apisOf(testbed: Testbed): Map<string, CoreV1Api> {
  return new Map(
    WORKERS.map((w) => {
      const kc = new KubeConfig();
      kc.loadFromString(testbed.cluster(w).kubeconfig);
      return [w, kc.makeApiClient(CoreV1Api)];
    }),
  );
}

async function listAll(apis: Map<string, CoreV1Api>, labelSelector: string): Promise<V1Pod[]> {
  const lists = await Promise.all(
    [...apis.values()].map((api) => api.listPodForAllNamespaces({ labelSelector })),
  );
  return lists.flatMap((l) => l.items);
}

/** Why a pod is not scheduled, when the kube-scheduler says so. */
function unschedulable(p: V1Pod): string | undefined {
  const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
  // Held by Muster's scheduling gate: not the scheduler's refusal.
  if (c?.status !== 'False' || c.reason === 'SchedulingGated') return undefined;
  return `${c.reason ?? ''}: ${c.message ?? ''}`;
}

/**
 * The physical limit, in the same run: a plain client-node loop creating ungated pods in all
 * three clusters at once, timed until every one is Running; then they are deleted.
 */
async function rawLimit(
  apis: Map<string, CoreV1Api>,
  pods: number,
  dog: Watchdog,
): Promise<{ createSeconds: number; runningSeconds: number }> {
  const clients = [...apis.values()];
  const names = Array.from({ length: pods }, (_, i) => ({
    api: clients[i % clients.length]!,
    name: `raw-${i}`,
  }));
  const started = performance.now();
  await pool(names, CONCURRENCY * clients.length, async ({ api, name }) => {
    await api.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name, labels: { [RAW_LABEL]: '1' } }, spec: template() },
    });
  });
  const createSeconds = (performance.now() - started) / 1000;
  const deadline = Date.now() + TIMEOUT_S * 1000;
  let running = 0;
  for (;;) {
    const listed = await listAll(apis, RAW_LABEL);
    running = listed.filter((p) => p.status?.phase === 'Running').length;
    if (running === pods) break;
    if (Date.now() > deadline)
      throw new BenchFailure(
        `raw loop: only ${running} of ${pods} plain pods Running after ${TIMEOUT_S} s`,
      );
    await dog.sleep(250);
  }
  const runningSeconds = (performance.now() - started) / 1000;
  await Promise.all(
    clients.map((api) =>
      api.deleteCollectionNamespacedPod({
        namespace: 'default',
        labelSelector: RAW_LABEL,
        gracePeriodSeconds: 0,
      }),
    ),
  );
  while ((await listAll(apis, RAW_LABEL)).length > 0) await dog.sleep(250);
  return { createSeconds, runningSeconds };
}

interface Progress {
  submittedAt: Map<string, number>;
  hubRunningAt: Map<string, number>;
  /** First Reserved event: the hub's decision committed. */
  hubReservedAt: Map<string, number>;
  /**
   * First Dispatched (or Running, when the members' states came before the agent's answer):
   * the reservation committed and every member created in the worker.
   */
  hubDispatchedAt: Map<string, number>;
  workerRunningAt: Map<string, number>;
  bindTimeouts: number;
  requeues: number;
  /** Pods ever seen Pending with "Too many pods" (no pod slot on the pinned node). */
  pendingForSlots: Set<string>;
  /** Other reasons pods were seen unschedulable, with how many pods. */
  otherUnschedulable: Map<string, Set<string>>;
}

function doneAt(p: Progress, id: string): number | undefined {
  const hub = p.hubRunningAt.get(id);
  const worker = p.workerRunningAt.get(id);
  return hub === undefined || worker === undefined ? undefined : Math.max(hub, worker);
}

/** Reads every Muster pod of the workers: gangs wholly Running, and why pods are Pending. */
async function observeWorkers(apis: Map<string, CoreV1Api>, p: Progress): Promise<void> {
  const pods = await listAll(apis, GANG_LABEL);
  const now = Date.now();
  const running = new Map<string, number>();
  for (const pod of pods) {
    const gang = pod.metadata?.labels?.[GANG_LABEL] ?? '';
    const token = pod.metadata?.labels?.[TOKEN_LABEL] ?? '';
    const why = unschedulable(pod);
    if (why) {
      const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      if (/Too many pods/.test(why)) p.pendingForSlots.add(podKey);
      else {
        const reason = why.slice(0, 160);
        const set = p.otherUnschedulable.get(reason) ?? new Set<string>();
        set.add(podKey);
        p.otherUnschedulable.set(reason, set);
      }
    }
    if (pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp) {
      const key = `${gang}/${token}`;
      running.set(key, (running.get(key) ?? 0) + 1);
    }
  }
  for (const [key, n] of running) {
    const gang = key.split('/')[0]!;
    if (n >= MEMBERS && p.submittedAt.has(gang) && !p.workerRunningAt.has(gang))
      p.workerRunningAt.set(gang, now);
  }
}

async function startHubAndAgents(
  testbed: Testbed,
  db: { url: string },
  redis: { prefix: string },
  dog: Watchdog,
): Promise<{ hub: HubProcess; agents: AgentProcess[]; api: HubClients }> {
  const hub = await HubProcess.start({ databaseUrl: db.url, redisPrefix: redis.prefix });
  void hub.whenExited().then((how) => dog.fail(`the hub exited during the run (${how})`));
  const api = hub.connect();
  await api.inventory.createQueue({
    queue: { name: 'bench', description: '', weight: 1, allowedNamespaces: [] },
  });
  const agents: AgentProcess[] = [];
  for (const w of WORKERS) {
    await api.inventory.registerCluster({
      name: w,
      displayName: '',
      clusterSet: '',
      topologyLevels: [],
      accessProviders: [],
      labels: {},
    });
    const agent = AgentProcess.start({
      cluster: w,
      hub: hub.grpcAddress,
      kubeconfig: testbed.cluster(w).kubeconfigPath,
      env: { MUSTER_LOG_LEVEL: 'warn' },
    });
    void agent.exited.then((code) =>
      dog.fail(
        `the agent of ${w} exited during the run (${code === null ? 'killed by a signal' : `exit code ${code}`})`,
      ),
    );
    agents.push(agent);
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { clusters } = await api.inventory.listClusters({});
    if (clusters.every((c) => c.agentState === 2 && (c.capacity?.nodeCount ?? 0) > 0)) break;
    if (Date.now() > deadline) throw new BenchFailure('agents not connected within 120 s');
    await dog.sleep(200);
  }
  return { hub, agents, api };
}

async function main(): Promise<void> {
  process.stdout.write(
    `dispatch benchmark: ${GANGS} gangs × ${MEMBERS} members, 1 hub + 3 agents + 3 kube-apiservers\n`,
  );
  const dog = new Watchdog();
  const [testbed, db, redis] = await Promise.all([
    startTestbed(join(REPO_ROOT, 'bench/dispatch/topology.yaml'), { log: () => undefined }),
    createTestDatabase(),
    createTestRedis(),
  ]);
  const apis = apisOf(testbed);
  let agents: AgentProcess[] = [];
  let hub: HubProcess | undefined;
  let cancelling = false;
  let failure: string | undefined;
  try {
    const raw = await rawLimit(apis, GANGS * MEMBERS, dog);
    let api: HubClients;
    ({ hub, agents, api } = await startHubAndAgents(testbed, db, redis, dog));

    const p: Progress = {
      submittedAt: new Map(),
      hubRunningAt: new Map(),
      hubReservedAt: new Map(),
      hubDispatchedAt: new Map(),
      workerRunningAt: new Map(),
      bindTimeouts: 0,
      requeues: 0,
      pendingForSlots: new Set(),
      otherUnschedulable: new Map(),
    };
    const stream = api.streams.watchJobs({ queue: 'bench', afterSequence: 0 });
    stream.on('data', (m: { event: JobEvent }) => {
      const e = m.event;
      if (e.state === JobState.JOB_STATE_RUNNING && !p.hubRunningAt.has(e.jobId))
        p.hubRunningAt.set(e.jobId, Date.now());
      if (e.state === JobState.JOB_STATE_RESERVED && !p.hubReservedAt.has(e.jobId))
        p.hubReservedAt.set(e.jobId, Date.now());
      if (
        (e.state === JobState.JOB_STATE_DISPATCHED || e.state === JobState.JOB_STATE_RUNNING) &&
        !p.hubDispatchedAt.has(e.jobId)
      )
        p.hubDispatchedAt.set(e.jobId, Date.now());
      if (e.state === JobState.JOB_STATE_QUEUED && e.fromState !== JobState.JOB_STATE_UNSPECIFIED) {
        p.requeues++;
        if (e.reason === 'BindTimeout') p.bindTimeouts++;
      }
    });
    stream.on('error', (err: Error & { code?: number }) => {
      if (!cancelling) dog.fail(`the hub's event stream failed: ${err.code ?? ''} ${err.message}`);
    });
    stream.on('end', () => {
      if (!cancelling) dog.fail("the hub's event stream ended before the run did");
    });
    await dog.sleep(300);

    const spec = {
      name: 'bench',
      queue: 'bench',
      priority: 0,
      onClusterLost: 0,
      labels: {},
      namespace: '',
      podSetGroups: [],
      resourceClaimTemplates: [],
      matchDeviceAttribute: '',
      maxRestarts: 0,
      podSets: [
        {
          name: 'w',
          count: MEMBERS,
          topology: undefined,
          podTemplateJson: JSON.stringify({ spec: template() }),
        },
      ],
    };
    const started = Date.now();
    await pool(
      Array.from({ length: GANGS }, (_, i) => i),
      50,
      async () => {
        dog.check();
        const t = Date.now();
        const { job } = await api.jobs.submitJob({ clientRequestId: randomUUID(), spec });
        p.submittedAt.set(job!.id, t);
      },
    );
    const submitSeconds = (Date.now() - started) / 1000;
    const deadline = Date.now() + TIMEOUT_S * 1000;
    const done = () => [...p.submittedAt.keys()].filter((id) => doneAt(p, id) !== undefined);
    while (done().length < GANGS && Date.now() < deadline) {
      await observeWorkers(apis, p);
      await dog.sleep(1000);
    }
    await observeWorkers(apis, p);
    dog.check();
    cancelling = true;
    stream.cancel();
    api.close();

    const finished = done();
    const doneTimes = finished.map((id) => doneAt(p, id)!);
    const total = doneTimes.length > 0 ? (Math.max(...doneTimes) - started) / 1000 : NaN;
    const latencies = finished
      .map((id) => doneAt(p, id)! - p.submittedAt.get(id)!)
      .sort((a, b) => a - b);
    const rawRunningRate = (GANGS * MEMBERS) / raw.runningSeconds;
    // Per second from the first submit: gangs reserved (the hub's decision committed) and gangs
    // admitted, MultiKueue's figure: reserved, and every member created in the worker (the hub's
    // Dispatched, or Running when the members' states came first). MultiKueue creates one Job in
    // the worker per workload; Muster creates (and ungates) every pod, so its figure is bounded by
    // the worker API servers' pod create rate.
    const s = (ms: number) => fig(ms / 1000, 2);
    const since = (at: Map<string, number>) => {
      const ids = [...p.submittedAt.keys()].filter((id) => at.has(id));
      const seconds =
        ids.length > 0 ? (Math.max(...ids.map((id) => at.get(id)!)) - started) / 1000 : NaN;
      const latencies = ids.map((id) => at.get(id)! - p.submittedAt.get(id)!).sort((a, b) => a - b);
      return { n: ids.length, rate: ids.length / seconds, latencies };
    };
    const admitted = since(p.hubDispatchedAt);
    const reserved = since(p.hubReservedAt);
    const pcts = (l: number[]) => `${s(pct(l, 50))} / ${s(pct(l, 95))} / ${s(pct(l, 99))} s`;
    const inserts = await rawInserts(db.url, GANGS, 50, { podSets: spec.podSets, groups: [] });
    const musterRate = (finished.length * MEMBERS) / total;
    const rows: [string, string][] = [
      [
        'gangs Running (hub Running and every member Running in the worker)',
        `${finished.length} of ${GANGS}`,
      ],
      ['submit phase', `${fig(submitSeconds)} s (${fig(GANGS / submitSeconds, 0)} submits/s)`],
      ['gangs/s, submit → Running', fig(finished.length / total)],
      [
        'p50 / p95 / p99 submit → Running',
        `${s(pct(latencies, 50))} / ${s(pct(latencies, 95))} / ${s(pct(latencies, 99))} s`,
      ],
      [
        "gangs/s reserved (the hub's decision committed)",
        `${fig(reserved.rate)} (${reserved.n} of ${GANGS})`,
      ],
      ['p50 / p95 / p99 submit → reserved', pcts(reserved.latencies)],
      [
        'gangs/s admitted (reserved, every member created in the worker)',
        `${fig(admitted.rate)} (${admitted.n} of ${GANGS})`,
      ],
      ['p50 / p95 / p99 submit → admitted', pcts(admitted.latencies)],
      [
        'plain INSERT transactions/s of a job row, 50 connections, same Postgres, same run',
        fig(GANGS / inserts.seconds, 0),
      ],
      ['pods/s Running through Muster', fig(musterRate)],
      [
        'pods/s Running, plain `@kubernetes/client-node` create loop, same servers, same run',
        `${fig(rawRunningRate)} (create calls alone: ${fig((GANGS * MEMBERS) / raw.createSeconds)})`,
      ],
      ['Muster / raw', `${fig((musterRate / rawRunningRate) * 100, 0)} %`],
      ['BindTimeout requeues (requeues of any reason)', `${p.bindTimeouts} (${p.requeues})`],
      ['pods seen Pending for lack of a pod slot ("Too many pods")', `${p.pendingForSlots.size}`],
      [
        'pods seen unschedulable for other reasons',
        `${[...p.otherUnschedulable.values()].reduce((n, x) => n + x.size, 0)}`,
      ],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    const vwidth = Math.max(...rows.map(([, v]) => v.length));
    process.stdout.write(`\n| ${'measure'.padEnd(width)} | ${'figure'.padEnd(vwidth)} |\n`);
    process.stdout.write(`| ${'-'.repeat(width)} | ${'-'.repeat(vwidth)} |\n`);
    for (const [k, v] of rows)
      process.stdout.write(`| ${k.padEnd(width)} | ${v.padEnd(vwidth)} |\n`);
    for (const [reason, pods] of p.otherUnschedulable)
      process.stdout.write(`  unschedulable (${pods.size} pods): ${reason}\n`);
    if (finished.length < GANGS) {
      const hubOnly = [...p.hubRunningAt.keys()].filter((id) => !p.workerRunningAt.has(id)).length;
      failure =
        `incomplete: ${finished.length} of ${GANGS} gangs Running after ${TIMEOUT_S} s ` +
        `(${p.hubRunningAt.size} Running per the hub, ${p.workerRunningAt.size} wholly Running in the workers, ` +
        `${hubOnly} Running per the hub only; ${p.bindTimeouts} BindTimeout requeues; ` +
        `${p.pendingForSlots.size} pods Pending for pod slots)`;
    }
  } catch (err) {
    if (!(err instanceof BenchFailure)) {
      // A call failing because a process died: the exit is the reason (its event may lag).
      await new Promise((r) => setTimeout(r, 1000));
      if (!dog.failure) throw err;
    }
    failure = dog.failure ?? (err as Error).message;
  } finally {
    cancelling = true;
    const agentCodes = await Promise.all(agents.map((a) => a.stop()));
    const hubEnd = await hub?.stop();
    await testbed.stop();
    await redis.cleanup();
    await db.drop();
    if (!failure && hub && hubEnd !== 0) failure = `the hub did not stop cleanly: ${hubEnd}`;
    if (!failure && agentCodes.some((c) => c !== 0))
      failure = `an agent did not stop cleanly: exit codes ${agentCodes.join(', ')}`;
  }
  if (failure) {
    process.stderr.write(`bench failed: ${failure}\n`);
    process.exit(1);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message.split('\n')[0]}\n${err.stack ?? ''}\n`);
  process.exit(1);
});
