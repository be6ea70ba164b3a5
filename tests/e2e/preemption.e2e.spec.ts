// Preemption and drains with notice, over real processes: the hub, one agent per worker cluster,
// two testbed clusters of 3 nodes × 8 GPUs in all. A watch on every cluster's pods records when
// each member got its eviction notice and when it was deleted; the cluster observer checks the
// whole time that no gang is ever half-run or in two clusters.
//  - Within a queue: a high-priority gang needing a whole node takes the fewest lower-priority
//    gangs of ONE cluster; the victims carry the notice (annotation and Event) for at least their
//    grace period before deletion, are requeued (not failed) and run again later.
//  - Across a cohort: a queue within its nominal quota takes back what another queue borrowed.
//  - A drain: every gang on the cluster gets its notice, goes after the grace period, runs on
//    the other cluster, and the drained cluster takes nothing new until uncordoned.
//  - A budget: once a queue's GPU-hours for the period are spent, its next gang waits and
//    `explain` says why.
// Seeded fault, run once: with the hub's Cancel sent as soon as the agent confirmed the notice
// (no grace), the first test failed on the victim's member: notice held 36 ms, not ≥ 4000.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import {
  BudgetPeriod,
  JobState,
  OnClusterLost,
  PreemptionPolicy,
  type HubClients,
  type Job,
  type JobSpec,
} from '@muster/api';
import { kubeJSON, startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { startWorkers, stopFleet } from '../support/clusters';
import { ClusterObserver, GANG_LABEL } from '../support/cluster-observer';
import { eventually } from '../support/eventually';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { testLogDir, type HubProcess } from '../support/hub-process';

jest.setTimeout(5 * 60_000);

const WORKERS = ['pa', 'pb'];
const GPU = 'nvidia.com/gpu';
const NOTICE = 'muster.dev/eviction-notice';
const GRACE_S = 4;

const logs = testLogDir('e2e-preemption');
let testbed: Testbed;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents: AgentProcess[] = [];
const sizes = new Map<string, number>();
let observer: ClusterObserver;
const watches: { abort(): void }[] = [];

/** What the pod watch saw of one member pod. */
interface PodSeen {
  cluster: string;
  name: string;
  gang: string;
  node: string;
  /** The notice annotation when first seen on the pod, parsed. */
  notice?: { reason: string; graceSeconds: number; noticedAt: string };
  /** When the watch first saw the pod deleted or terminating (ms since the epoch). */
  deletedAt?: number;
}
const pods = new Map<string, PodSeen>();

interface Pod {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: unknown;
  };
  spec?: { nodeName?: string };
}

async function watchPods(cluster: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(testbed.cluster(cluster).kubeconfig);
  const onEvent = (type: string, pod: Pod) => {
    const key = `${cluster}/${pod.metadata.namespace}/${pod.metadata.name}`;
    const seen = pods.get(key) ?? {
      cluster,
      name: pod.metadata.name,
      gang: pod.metadata.labels?.[GANG_LABEL] ?? '',
      node: '',
    };
    seen.node = pod.spec?.nodeName || seen.node;
    const raw = pod.metadata.annotations?.[NOTICE];
    if (raw && !seen.notice) seen.notice = JSON.parse(raw) as PodSeen['notice'];
    if ((type === 'DELETED' || pod.metadata.deletionTimestamp) && seen.deletedAt === undefined)
      seen.deletedAt = Date.now();
    pods.set(key, seen);
  };
  const start = async (): Promise<void> => {
    const ctl = await new Watch(kc).watch(
      '/api/v1/pods',
      { labelSelector: GANG_LABEL },
      (type, obj) => onEvent(type, obj as Pod),
      () => {
        // The server ends a watch now and then; start again unless the suite is over.
        if (watches.length > 0) void start().catch(() => undefined);
      },
    );
    watches.push(ctl);
  };
  await start();
}

function spec(
  name: string,
  queue: string,
  members: number,
  gpus: number,
  opts: { priority?: number; priorityClass?: string; runFor: string; grace?: number },
): JobSpec {
  return {
    name,
    queue,
    priority: opts.priority ?? 0,
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: {},
    namespace: '',
    podSetGroups: [],
    maxRestarts: 0,
    resourceClaimTemplates: [],
    matchDeviceAttribute: '',
    evictionGraceSeconds: opts.grace ?? GRACE_S,
    ...(opts.priorityClass ? { priorityClass: opts.priorityClass } : {}),
    podSets: [
      {
        name: 'workers',
        count: members,
        topology: undefined,
        podTemplateJson: JSON.stringify({
          metadata: { annotations: { 'testbed.muster.dev/succeed-after': opts.runFor } },
          spec: {
            containers: [
              {
                name: 'main',
                image: 'registry.example/train:1',
                resources: {
                  requests: { cpu: '100m', memory: '64Mi', [GPU]: String(gpus) },
                  limits: { [GPU]: String(gpus) },
                },
              },
            ],
          },
        }),
      },
    ],
  };
}

async function submit(s: JobSpec): Promise<string> {
  const id = (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec: s })).job!.id;
  sizes.set(
    id,
    s.podSets.reduce((n, p) => n + p.count, 0),
  );
  return id;
}

async function job(id: string): Promise<Job> {
  return (await api.jobs.getJob({ jobId: id })).job!;
}

async function untilState(ids: string[], state: JobState, timeoutMs = 90_000): Promise<void> {
  await eventually(
    `${ids.length} gangs ${JobState[state]}`,
    async () => (await Promise.all(ids.map(job))).every((j) => j.state === state),
    {
      timeoutMs,
      intervalMs: 200,
      describe: async () =>
        (await Promise.all(ids.map(job)))
          .map((j) => `${j.spec?.name}: ${JobState[j.state]} ${j.reason} ${j.message}`)
          .join('\n'),
    },
  );
}

async function eventReasons(id: string): Promise<string[]> {
  const rows = await env.db.query<{ reason: string }>(
    'SELECT reason FROM job_events WHERE job_id = $1 ORDER BY seq',
    [id],
  );
  return rows.map((r) => r.reason);
}

/** The members of `gang` the watch saw, by pod name. */
function membersOf(gang: string): PodSeen[] {
  return [...pods.values()].filter((p) => p.gang === gang);
}

/** Every victim member carried its notice at least its grace period before it was deleted. */
function expectNoticeKept(victims: string[]): string[] {
  const figures: string[] = [];
  for (const v of victims) {
    const members = membersOf(v).filter((p) => p.deletedAt !== undefined);
    expect(members.length).toBeGreaterThan(0);
    for (const m of members) {
      expect(m.notice).toBeDefined();
      const heldMs = m.deletedAt! - Date.parse(m.notice!.noticedAt);
      expect(heldMs).toBeGreaterThanOrEqual(m.notice!.graceSeconds * 1000);
      figures.push(`${(heldMs / 1000).toFixed(1)} s`);
    }
  }
  return figures;
}

async function noticeEvents(cluster: string): Promise<{ reason: string; name: string }[]> {
  const list = await kubeJSON<{
    items: { reason: string; involvedObject: { name: string }; source?: { component?: string } }[];
  }>(testbed.cluster(cluster), 'GET', '/api/v1/namespaces/default/events');
  return list.items
    .filter((e) => e.source?.component === 'muster-agent')
    .map((e) => ({ reason: e.reason, name: e.involvedObject.name }));
}

beforeAll(async () => {
  testbed = await startTestbed(join(__dirname, 'preemption-topology.yaml'), {
    log: () => undefined,
  });
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_RECONCILE_INTERVAL_MS: '1000',
      MUSTER_PRIORITY_CLASSES: 'batch=0,urgent=10',
    },
    queues: [
      {
        name: 'train',
        preemption: {
          withinQueue: PreemptionPolicy.PREEMPTION_POLICY_LOWER_PRIORITY,
          reclaimWithinCohort: PreemptionPolicy.PREEMPTION_POLICY_NEVER,
        },
      },
      {
        name: 'owner',
        quota: { nominal: { [GPU]: '16' }, cohort: 'co', borrowingLimit: {}, lendingLimit: {} },
        preemption: {
          withinQueue: PreemptionPolicy.PREEMPTION_POLICY_NEVER,
          reclaimWithinCohort: PreemptionPolicy.PREEMPTION_POLICY_ANY,
        },
      },
      {
        name: 'borrower',
        quota: { nominal: { [GPU]: '8' }, cohort: 'co', borrowingLimit: {}, lendingLimit: {} },
      },
      // 0.005 GPU-hours a day: 18 GPU-seconds, spent by one gang of 8 GPUs running 3 s.
      {
        name: 'metered',
        budget: { resource: GPU, hours: 0.005, period: BudgetPeriod.BUDGET_PERIOD_DAY },
      },
    ],
  });
  ({ hub, api } = env);
  await startWorkers(api, {
    hub: hub.grpcAddress,
    workers: WORKERS,
    kubeconfigOf: (name) => testbed.cluster(name).kubeconfigPath,
    logs,
    agents,
  });
  for (const name of WORKERS) await watchPods(name);
  observer = new ClusterObserver(
    WORKERS.map((w) => testbed.cluster(w)),
    sizes,
  );
  observer.start(250);
}, 10 * 60_000);

afterAll(async () => {
  const w = watches.splice(0);
  for (const c of w) c.abort();
  if (observer) {
    await observer.stop();
    // Never half a gang, never a gang in two clusters, through every preemption and the drain.
    expect({ errors: observer.errors, violations: observer.violations.slice(0, 8) }).toEqual({
      errors: [],
      violations: [],
    });
  }
  const agentEnds = await stopFleet(agents, env, testbed);
  if (env) expect(agentEnds).toEqual(agents.map(() => 0));
});

describe('preemption with notice', () => {
  it('a high-priority gang takes the fewest lower-priority gangs of one cluster; they get their notice, go after the grace period, and run again', async () => {
    // Fill all 24 GPUs: one gang of 8, two of 4, four of 2.
    const fill = [
      await submit(spec('eight', 'train', 1, 8, { runFor: '25s' })),
      ...(await Promise.all(
        [1, 2].map((i) => submit(spec(`four-${i}`, 'train', 1, 4, { runFor: '25s' }))),
      )),
      ...(await Promise.all(
        [1, 2, 3, 4].map((i) => submit(spec(`two-${i}`, 'train', 1, 2, { runFor: '25s' }))),
      )),
    ];
    await untilState(fill, JobState.JOB_STATE_RUNNING);
    // The oracle: on each node, the gangs there; the fewest a gang of 8 GPUs could take.
    const byNode = new Map<string, Set<string>>();
    for (const p of [...pods.values()].filter((x) => fill.includes(x.gang) && !x.deletedAt)) {
      const key = `${p.cluster}/${p.node}`;
      byNode.set(key, (byNode.get(key) ?? new Set()).add(p.gang));
    }
    const fewest = Math.min(...[...byNode.values()].map((s) => s.size));

    // Priority from an administrator's priority class (MUSTER_PRIORITY_CLASSES).
    const high = await submit(
      spec('urgent', 'train', 1, 8, { priorityClass: 'urgent', runFor: '3s' }),
    );
    expect((await job(high)).spec).toMatchObject({ priority: 10, priorityClass: 'urgent' });
    await eventually(
      'the urgent gang explained as preempting',
      // The cycle that chooses the victims says "preempting N gangs"; the cycles after it, until they
      // are gone, "waiting for N gangs it preempted": a slow poll may see only the second.
      async () =>
        /preempting \d+ gang|waiting for \d+ gangs? it preempted/.test(
          (await api.jobs.explainJob({ jobId: high })).summary,
        ),
      30_000,
    );
    const victims = (await Promise.all(fill.map(job)))
      .filter((j) => j.reason === 'Preempted' || j.reason === 'Evicting')
      .map((j) => j.id);
    expect(victims.length).toBe(fewest);
    // All in one cluster, and their members carry the notice before anything is deleted.
    const clusters = new Set(victims.flatMap((v) => membersOf(v).map((m) => m.cluster)));
    expect(clusters.size).toBe(1);
    await untilState([high], JobState.JOB_STATE_RUNNING);
    const held = expectNoticeKept(victims);
    // Nobody else was touched.
    for (const other of fill.filter((f) => !victims.includes(f)))
      expect(membersOf(other).some((m) => m.notice)).toBe(false);
    // An Event on each victim pod says so, as the scheduler says it of its own preemptions.
    const [cluster] = [...clusters];
    const events = await noticeEvents(cluster!);
    for (const v of victims)
      for (const m of membersOf(v))
        expect(events).toContainEqual({ reason: 'Preempted', name: m.name });
    // Requeued, not failed, and run to the end later.
    await untilState([high, ...fill], JobState.JOB_STATE_SUCCEEDED, 120_000);
    for (const v of victims) {
      const reasons = await eventReasons(v);
      // Given notice while Running, requeued (Queued, reason Preempted), then run again to the end.
      const after = reasons.slice(reasons.indexOf('Preempted'));
      expect(after).toEqual(
        expect.arrayContaining(['Preempted', 'Reserved', 'Running', 'Succeeded']),
      );
      expect(reasons).not.toContain('MemberFailed');
    }
    console.log(
      `preemption.e2e: ${victims.length} victim(s) of ${fill.length} (oracle: ${fewest}); notice held ${held.join(', ')} (grace ${GRACE_S} s)`,
    );
  });

  it('a queue within its nominal quota takes back what another queue of its cohort borrowed', async () => {
    // borrower (nominal 8) fills the fleet: 16 of it borrowed from owner's unused nominal 16.
    const borrowed = await Promise.all(
      [1, 2, 3].map((i) => submit(spec(`borrow-${i}`, 'borrower', 1, 8, { runFor: '20s' }))),
    );
    await untilState(borrowed, JobState.JOB_STATE_RUNNING);
    const mine = await submit(spec('mine', 'owner', 1, 8, { runFor: '3s' }));
    await untilState([mine], JobState.JOB_STATE_RUNNING, 60_000);
    const victims: string[] = [];
    for (const id of borrowed) if ((await eventReasons(id)).includes('Preempted')) victims.push(id);
    expect(victims).toHaveLength(1);
    expectNoticeKept(victims);
    // While owner holds its 8, borrower may hold only its own 8 and the 8 owner still lends: the
    // victim waits in the queue rather than taking the place back.
    const { queues } = await api.inventory.listQueues({});
    const used = (name: string) => Number(queues.find((q) => q.name === name)?.usage?.used?.[GPU]);
    if ((await job(mine)).state === JobState.JOB_STATE_RUNNING) {
      expect(used('owner')).toBe(8);
      expect(used('borrower')).toBeLessThanOrEqual(16);
    }
    // The two queues with work, of weight 1 each, are entitled to half the fleet each.
    const share = (name: string) => queues.find((q) => q.name === name)?.usage?.fairShare;
    expect([share('owner'), share('borrower'), share('train')]).toEqual([0.5, 0.5, 0]);
    await untilState([mine, ...borrowed], JobState.JOB_STATE_SUCCEEDED, 120_000);
  });
});

describe('draining a cluster', () => {
  it('gives every gang there its notice, deletes them after the grace period, and runs them on the other cluster', async () => {
    const ids = await Promise.all(
      [1, 2].map((i) => submit(spec(`drained-${i}`, 'train', 1, 4, { runFor: '20s', grace: 60 }))),
    );
    await untilState(ids, JobState.JOB_STATE_RUNNING);
    const where = new Set((await Promise.all(ids.map(job))).map((j) => j.cluster));
    const target = [...where][0]!;
    const onTarget = (await Promise.all(ids.map(job))).filter((j) => j.cluster === target);
    const drained = await api.inventory.drainCluster({
      name: target,
      graceSeconds: 3,
      reason: 'upgrade',
    });
    // The drain's notice counts, not the jobs' own longer one.
    expect(drained.noticedJobIds.sort()).toEqual(onTarget.map((j) => j.id).sort());
    expect(drained.cluster?.cordoned).toBe(true);
    expect(drained.cluster?.drain).toMatchObject({ graceSeconds: 3, reason: 'upgrade' });
    await eventually(
      'the drained gangs running elsewhere',
      async () =>
        (await Promise.all(onTarget.map((j) => job(j.id)))).every(
          (j) => j.state === JobState.JOB_STATE_RUNNING && j.cluster !== target,
        ),
      60_000,
    );
    const held = expectNoticeKept(onTarget.map((j) => j.id));
    for (const m of onTarget.flatMap((j) => membersOf(j.id)).filter((m) => m.notice))
      expect(m.notice!.graceSeconds).toBe(3);
    const after = (await api.inventory.getCluster({ name: target })).cluster!;
    expect(after.drain?.gangsLeft).toBe(0);
    // Nothing new goes to a drained cluster; uncordoning ends the drain.
    const cleared = (await api.inventory.uncordonCluster({ name: target })).cluster!;
    expect(cleared.cordoned).toBe(false);
    expect(cleared.drain).toBeUndefined();
    await untilState(ids, JobState.JOB_STATE_SUCCEEDED, 90_000);
    console.log(`preemption.e2e: drain of ${target}: notice held ${held.join(', ')} (grace 3 s)`);
  });

  it('refuses a bad grace naming the field', async () => {
    await expect(
      api.inventory.drainCluster({ name: 'pa', graceSeconds: -1, reason: '' }),
    ).rejects.toThrow(/grace_seconds/);
    expect((await api.inventory.getCluster({ name: 'pa' })).cluster?.cordoned).toBe(false);
  });
});

describe('a GPU-hour budget', () => {
  it('stops admission once spent: running gangs finish, the next one waits and says why', async () => {
    const first = await submit(spec('metered-1', 'metered', 1, 8, { runFor: '3s' }));
    await untilState([first], JobState.JOB_STATE_SUCCEEDED, 60_000);
    // The leader books usage every few seconds; the hub then reports the budget spent.
    const spent = await eventually(
      'the metered budget spent',
      async () => {
        const q = (await api.inventory.getQueue({ name: 'metered' })).queue!;
        return q.usage && q.usage.budgetLeftHours === 0 ? q.usage : undefined;
      },
      30_000,
    );
    const second = await submit(spec('metered-2', 'metered', 1, 1, { runFor: '1s' }));
    const why = await eventually(
      'the second gang held by its budget',
      async () => {
        const e = await api.jobs.explainJob({ jobId: second });
        return /held by its queue's budget/.test(e.summary) ? e.summary : undefined;
      },
      30_000,
    );
    expect(why).toMatch(/queue metered has used [\d.]+ of its 0\.005 nvidia\.com\/gpu-hours today/);
    // It stays queued over many cycles (the fleet is otherwise idle).
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await job(second)).state).toBe(JobState.JOB_STATE_QUEUED);
    // 8 GPUs for about 3 s of run (plus dispatch and deletion): what was booked, against that.
    console.log(
      `preemption.e2e: budget booked ${(spent.budgetUsedHours * 3600).toFixed(1)} GPU-seconds for one gang of 8 GPUs running 3 s; held: ${why}`,
    );
    await api.jobs.cancelJob({ jobId: second, reason: 'budget test over' });
  });
});
