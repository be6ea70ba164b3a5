// The hub's fit follows the worker scheduler's filters. Real hub, real agents, real worker
// clusters (testbed: kube-apiserver + kube-scheduler + kwok nodes). Each gang is sized so that
// a placement ignoring one filter — pod slots, cpu, memory, ephemeral-storage, an extended
// resource, taints, nodeSelector, required node affinity — pins members where the worker's
// kube-scheduler cannot bind them; the gang must reach Running with every member bound by that
// scheduler on exactly the node the hub chose (the agent's metadata.name pin).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { AgentState, JobState, OnClusterLost, type HubClients, type Job } from '@muster/api';
import { startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { registerWorker, stopFleet } from '../support/clusters';
import { ClusterObserver, GANG_LABEL, pinnedNode } from '../support/cluster-observer';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { testLogDir, type HubProcess } from '../support/hub-process';
import { eventually } from '../support/eventually';

jest.setTimeout(5 * 60_000);

const WORKERS = ['f1', 'f2', 'f3'];
/** The agents give up on a gang not bound in this long; a test waits a little more for Running. */
const BIND_TIMEOUT_MS = 10_000;
const RUNNING_WITHIN_MS = BIND_TIMEOUT_MS + 15_000;
const GROUP = 'fit.muster.dev/group';

const logs = testLogDir('e2e-fit');
let testbed: Testbed;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents: AgentProcess[] = [];
const kube = new Map<string, CoreV1Api>();
const sizes = new Map<string, number>();
let observer: ClusterObserver;

interface GangOpts {
  members: number;
  requests?: Record<string, string>;
  /** Limits; an extended resource must have its limit equal to its request. */
  limits?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, unknown>[];
  affinity?: Record<string, unknown>;
}

function spec(name: string, o: GangOpts) {
  return {
    name,
    queue: 'fit',
    priority: 0,
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: {},
    namespace: '',
    podSetGroups: [],
    resourceClaimTemplates: [],
    matchDeviceAttribute: '',
    maxRestarts: 0,
    podSets: [
      {
        name: 'workers',
        count: o.members,
        topology: undefined,
        podTemplateJson: JSON.stringify({
          spec: {
            ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
            ...(o.tolerations ? { tolerations: o.tolerations } : {}),
            ...(o.affinity ? { affinity: o.affinity } : {}),
            containers: [
              {
                name: 'main',
                image: 'registry.example/train:1',
                resources: {
                  requests: o.requests ?? { cpu: '10m', memory: '16Mi' },
                  ...(o.limits ? { limits: o.limits } : {}),
                },
              },
            ],
          },
        }),
      },
    ],
  };
}

async function submit(name: string, o: GangOpts): Promise<string> {
  const { job } = await api.jobs.submitJob({ clientRequestId: randomUUID(), spec: spec(name, o) });
  sizes.set(job!.id, o.members);
  return job!.id;
}

async function podsOf(cluster: string, id: string): Promise<V1Pod[]> {
  return (
    await kube.get(cluster)!.listPodForAllNamespaces({ labelSelector: `${GANG_LABEL}=${id}` })
  ).items;
}

/** One line per distinct pod state, with the scheduler's reason for Pending ones. */
function describePods(pods: V1Pod[]): string {
  const counts = new Map<string, number>();
  for (const p of pods) {
    const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
    const key = [
      p.status?.phase ?? '?',
      p.spec?.nodeName ? `bound ${p.spec.nodeName}` : `pinned ${pinnedNode(p) ?? '-'}`,
      (p.spec?.schedulingGates ?? []).length ? 'gated' : '',
      sched?.status === 'False' ? `${sched.reason}: ${sched.message}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join('; ') || 'no pods';
}

async function describeJob(id: string): Promise<string> {
  const j = (await api.jobs.getJob({ jobId: id })).job!;
  const pods = j.cluster ? await podsOf(j.cluster, id) : [];
  return `job ${JobState[j.state]} ${j.reason}: ${j.message} on ${j.cluster || '-'} (token ${j.dispatchGeneration}); pods: ${describePods(pods)}`;
}

/** Polls every 200 ms; on a timeout, says what the job and its pods looked like. */
const until = <T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  describe: () => Promise<string>,
): Promise<T> => eventually(what, probe, { timeoutMs, intervalMs: 200, describe });

/**
 * Waits until the hub reports the gang Running, then checks the worker's own view: exactly
 * `members` pods, each Running and bound by the kube-scheduler to the node the hub pinned it
 * to. Returns the job and the node of each pod.
 */
async function runsWhere(id: string, members: number): Promise<{ job: Job; nodes: string[] }> {
  const job = await until(
    `gang ${id} Running`,
    async () => {
      const j = (await api.jobs.getJob({ jobId: id })).job!;
      return j.state === JobState.JOB_STATE_RUNNING ? j : undefined;
    },
    RUNNING_WITHIN_MS,
    () => describeJob(id),
  );
  const pods = await until(
    `every member of ${id} Running in ${job.cluster}`,
    async () => {
      const ps = await podsOf(job.cluster, id);
      return ps.length === members && ps.every((p) => p.status?.phase === 'Running')
        ? ps
        : undefined;
    },
    10_000,
    async () => describePods(await podsOf(job.cluster, id)),
  );
  for (const p of pods) {
    const pin = pinnedNode(p);
    expect([p.metadata!.name, pin]).toEqual([p.metadata!.name, expect.any(String)]);
    expect([p.metadata!.name, p.spec!.nodeName]).toEqual([p.metadata!.name, pin]);
  }
  // The hub moved on only once: no BindTimeout, no second placement.
  expect(job.dispatchGeneration).toBe(1);
  return { job, nodes: pods.map((p) => p.spec!.nodeName!).sort() };
}

async function finish(id: string): Promise<void> {
  const cluster = (await api.jobs.getJob({ jobId: id })).job!.cluster;
  // The sampler must see the gang as whole as the test did before it goes.
  await observer.caughtUp();
  await api.jobs.cancelJob({ jobId: id, reason: 'test done' });
  if (cluster)
    await until(
      `pods of ${id} gone`,
      async () => ((await podsOf(cluster, id)).length === 0 ? true : undefined),
      30_000,
      async () => describePods(await podsOf(cluster, id)),
    );
}

function countBy(nodes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of nodes) out[n] = (out[n] ?? 0) + 1;
  return out;
}

beforeAll(async () => {
  testbed = await startTestbed(join(__dirname, 'fit-topology.yaml'), { log: () => undefined });
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '2',
    },
    queues: ['fit'],
  });
  ({ hub, api } = env);
  for (const name of WORKERS) {
    await registerWorker(api, name, { clusterSet: 'fit' });
    agents.push(
      AgentProcess.start({
        cluster: name,
        hub: hub.grpcAddress,
        kubeconfig: testbed.cluster(name).kubeconfigPath,
        logFile: join(logs, `agent-${name}.log`),
        env: { MUSTER_BIND_TIMEOUT_MS: String(BIND_TIMEOUT_MS), MUSTER_LOG_LEVEL: 'info' },
      }),
    );
    const kc = new KubeConfig();
    kc.loadFromString(testbed.cluster(name).kubeconfig);
    kube.set(name, kc.makeApiClient(CoreV1Api));
  }
  await until(
    'three agents connected with capacity',
    async () => {
      const { clusters } = await api.inventory.listClusters({});
      return clusters.length === 3 &&
        clusters.every(
          (c) =>
            c.agentState === AgentState.AGENT_STATE_CONNECTED && (c.capacity?.nodeCount ?? 0) > 0,
        )
        ? true
        : undefined;
    },
    60_000,
    async () => JSON.stringify((await api.inventory.listClusters({})).clusters),
  );
  observer = new ClusterObserver(
    WORKERS.map((w) => testbed.cluster(w)),
    sizes,
  );
  observer.start(250);
}, 10 * 60_000);

afterAll(async () => {
  await observer?.stop();
  const agentEnds = await stopFleet(agents, env, testbed);
  if (env) expect(agentEnds).toEqual(agents.map(() => 0));
});

describe('the hub places a gang only where the kube-scheduler binds it', () => {
  it('pod slots: 6 tiny members on nodes of 3 pods each go 3 and 3', async () => {
    // Ignoring pods, 6 × 10m fit one 64-CPU node; the scheduler binds 3 and leaves 3 Pending.
    const id = await submit('slots', { members: 6, nodeSelector: { [GROUP]: 'slots' } });
    const { job, nodes } = await runsWhere(id, 6);
    expect(job.cluster).toBe('f1');
    expect(countBy(nodes)).toEqual({ 'slots-0': 3, 'slots-1': 3 });
    await finish(id);
  });

  it('cpu: 4 members of 2 CPUs on nodes of 4 CPUs go 2 and 2', async () => {
    const id = await submit('cpu', {
      members: 4,
      requests: { cpu: '2', memory: '16Mi' },
      nodeSelector: { [GROUP]: 'cpu' },
    });
    const { nodes } = await runsWhere(id, 4);
    expect(countBy(nodes)).toEqual({ 'cpu-0': 2, 'cpu-1': 2 });
    await finish(id);
  });

  it('memory: 4 members of 2Gi on nodes of 4Gi go 2 and 2', async () => {
    const id = await submit('mem', {
      members: 4,
      requests: { cpu: '10m', memory: '2Gi' },
      nodeSelector: { [GROUP]: 'mem' },
    });
    const { nodes } = await runsWhere(id, 4);
    expect(countBy(nodes)).toEqual({ 'mem-0': 2, 'mem-1': 2 });
    await finish(id);
  });

  it('ephemeral-storage: 4 members of 5Gi on nodes of 10Gi go 2 and 2', async () => {
    const id = await submit('disk', {
      members: 4,
      requests: { cpu: '10m', memory: '16Mi', 'ephemeral-storage': '5Gi' },
      nodeSelector: { [GROUP]: 'disk' },
    });
    const { nodes } = await runsWhere(id, 4);
    expect(countBy(nodes)).toEqual({ 'disk-0': 2, 'disk-1': 2 });
    await finish(id);
  });

  it('extended resource: 4 members of 1 example.com/gpu on nodes of 2 go 2 and 2', async () => {
    const id = await submit('gpu', {
      members: 4,
      requests: { cpu: '10m', memory: '16Mi', 'example.com/gpu': '1' },
      limits: { 'example.com/gpu': '1' },
      nodeSelector: { [GROUP]: 'gpu' },
    });
    const { nodes } = await runsWhere(id, 4);
    expect(countBy(nodes)).toEqual({ 'gpu-0': 2, 'gpu-1': 2 });
    await finish(id);
  });

  it('taints: an intolerant gang gets the small untainted node, a tolerating one the tainted ones', async () => {
    const intolerant = await submit('intolerant', {
      members: 2,
      requests: { cpu: '1', memory: '16Mi' },
      nodeSelector: { [GROUP]: 'taint' },
    });
    const a = await runsWhere(intolerant, 2);
    expect(countBy(a.nodes)).toEqual({ 'taint-b-0': 2 });
    // taint-b-0 is full now: only a toleration lets the next gang in.
    const tolerant = await submit('tolerant', {
      members: 4,
      requests: { cpu: '1', memory: '16Mi' },
      nodeSelector: { [GROUP]: 'taint' },
      tolerations: [
        { key: 'fit.muster.dev/dedicated', operator: 'Equal', value: 'fit', effect: 'NoSchedule' },
      ],
    });
    const b = await runsWhere(tolerant, 4);
    expect(b.nodes.every((n) => n.startsWith('taint-a-'))).toBe(true);
    await finish(intolerant);
    await finish(tolerant);
  });

  it('nodeSelector: a gang selecting blue gets the big blue node, not the tighter red ones', async () => {
    const id = await submit('blue', {
      members: 2,
      requests: { cpu: '1', memory: '16Mi' },
      nodeSelector: { [GROUP]: 'sel', 'fit.muster.dev/color': 'blue' },
    });
    const { nodes } = await runsWhere(id, 2);
    expect(countBy(nodes)).toEqual({ 'sel-blue-0': 2 });
    await finish(id);
  });

  it('required node affinity: In, NotIn and Exists leave only aff-a, not the tighter nodes', async () => {
    const id = await submit('affinity', {
      members: 2,
      requests: { cpu: '1', memory: '16Mi' },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: GROUP, operator: 'In', values: ['aff'] },
                  { key: 'fit.muster.dev/tier', operator: 'In', values: ['gold', 'bronze'] },
                  { key: 'fit.muster.dev/tier', operator: 'NotIn', values: ['bronze'] },
                  { key: 'fit.muster.dev/fast', operator: 'Exists' },
                ],
              },
            ],
          },
        },
      },
    });
    const { nodes } = await runsWhere(id, 2);
    expect(countBy(nodes)).toEqual({ 'aff-a-0': 2 });
    await finish(id);
  });
});

describe('pod slots decide the cluster', () => {
  it('a gang larger than all of one cluster’s pod slots goes to the cluster that has them', async () => {
    // f2: 8 pod slots and 8 CPUs, the tighter fit by CPU and memory (which `pack` prefers);
    // f3: 220 pod slots and 128 CPUs. 12 × 10m fit either by CPU; only f3 has the slots.
    const id = await submit('spill', { members: 12, nodeSelector: { [GROUP]: 'spill' } });
    const { job, nodes } = await runsWhere(id, 12);
    expect(job.cluster).toBe('f3');
    expect(nodes.every((n) => n.startsWith('many-slots-'))).toBe(true);
    await finish(id);
  });

  it('a gang that fits no cluster’s pod slots stays Queued, and explain names pods', async () => {
    // 300 × 1m/1Mi fit f3's CPUs and memory but not its 220 pod slots, nor f2's 8.
    const id = await submit('too-many', {
      members: 300,
      requests: { cpu: '1m', memory: '1Mi' },
      nodeSelector: { [GROUP]: 'spill' },
    });
    const explained = await until(
      'an explanation from a scheduling cycle',
      async () => {
        const e = await api.jobs.explainJob({ jobId: id });
        // Placed after all (the state check below then fails), or explained by a cycle.
        if (e.job && e.job.state !== JobState.JOB_STATE_QUEUED) return e;
        return e.clusters.length === 3 && e.clusters.every((c) => c.reasonCode !== 'AwaitingCycle')
          ? e
          : undefined;
      },
      20_000,
      async () => JSON.stringify(await api.jobs.explainJob({ jobId: id })),
    );
    await new Promise((r) => setTimeout(r, 2000)); // several more cycles
    const job = (await api.jobs.getJob({ jobId: id })).job!;
    expect([JobState[job.state], job.cluster, job.dispatchGeneration]).toEqual([
      'JOB_STATE_QUEUED',
      '',
      0,
    ]);
    for (const cluster of ['f2', 'f3']) {
      const fit = explained.clusters.find((c) => c.cluster === cluster)!;
      expect(fit).toMatchObject({ cluster, fits: false, reasonCode: 'InsufficientCapacity' });
      expect(fit.message).toMatch(/\bpods\b/);
    }
    expect(explained.clusters.find((c) => c.cluster === 'f1')!.fits).toBe(false);
    for (const w of WORKERS) expect(await podsOf(w, id)).toEqual([]);
    await api.jobs.cancelJob({ jobId: id, reason: 'test done' });
  });

  it('the observer saw no over-booked node, no partial gang and no failed sample', async () => {
    await observer.stop();
    expect({ failed: observer.failedSamples, errors: observer.errors }).toEqual({
      failed: 0,
      errors: [],
    });
    const duration = observer.stoppedAt - observer.startedAt;
    expect(observer.samples).toBeGreaterThanOrEqual(ClusterObserver.floor(duration, 250));
    expect({
      violationCount: observer.violations.length,
      firstViolations: observer.violations.slice(0, 8),
      stillPartial: observer.ledger.openPartials(),
      partialLongerThanBindTimeout:
        observer.ledger.maxPartialMs >= BIND_TIMEOUT_MS ? observer.summary() : false,
    }).toEqual({
      violationCount: 0,
      firstViolations: [],
      stillPartial: [],
      partialLongerThanBindTimeout: false,
    });
  });
});
