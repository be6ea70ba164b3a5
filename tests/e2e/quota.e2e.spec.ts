// Queue quotas and cohorts over real processes: the hub, one agent per worker cluster, two
// testbed clusters of 32 GPUs each, in cluster sets east and west. Four queues in two cohorts
// (and a fifth that only lends), with borrowing and lending limits, the two cohorts nested in a
// third with a quota of its own, and one queue limited in east, together hold less quota than
// the fleet has GPUs, so quota decides what runs. 200 gangs are submitted at once; a sampler
// reads the hub's queue usage and every cluster's pods and checks each queue, each cohort at
// every level and the cluster set's limit at every sample.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JobState, OnClusterLost, type HubClients, type JobSpec } from '@muster/api';
import { kubeJSON, startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { startWorkers, stopFleet } from '../support/clusters';
import { GANG_LABEL } from '../support/cluster-observer';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { testLogDir, type HubProcess } from '../support/hub-process';

jest.setTimeout(6 * 60_000);

const WORKERS = ['qa', 'qb'];
/** Each worker's cluster set. */
const SET_OF: Record<string, string> = { qa: 'east', qb: 'west' };
const GPU = 'nvidia.com/gpu';
/** GPUs in the clusters of cluster set east, as a quota names them. */
const EAST_GPU = `east:${GPU}`;
const GANGS = 200;

/** The queues' quotas on GPUs, as the test checks them (an oracle of its own). */
interface Limits {
  cohort: string;
  nominal: number;
  borrowing?: number;
  lending?: number;
  /** A queue no gang is submitted to: all it does is lend. */
  idle?: boolean;
  /** Most it may hold in the clusters of cluster set east. */
  east?: number;
}
const QUEUES: Record<string, Limits> = {
  // nlp borrows what idle lends, up to its limit of 8 more; vision may not borrow at all.
  nlp: { cohort: 'research', nominal: 16, borrowing: 8 },
  vision: { cohort: 'research', nominal: 8, lending: 4, borrowing: 0 },
  idle: { cohort: 'research', nominal: 8, idle: true },
  // serve may hold at most 4 GPUs in east, whatever else it could take there.
  serve: { cohort: 'prod', nominal: 12, east: 4 },
  batch: { cohort: 'prod', nominal: 4, borrowing: 4 },
};
/**
 * The cohorts' own settings: research and prod share org's pool, which adds 4 GPUs of its own;
 * research lends its unused quota there but never borrows, prod keeps 12 of its 16 for itself and
 * may borrow the rest of org's pool. Without the tree, prod could never hold more than its 16.
 */
const COHORTS: Record<
  string,
  { parent?: string; nominal?: number; borrowing?: number; lending?: number }
> = {
  research: { parent: 'org', borrowing: 0 },
  prod: { parent: 'org', lending: 4 },
  org: { nominal: 4 },
};

const logs = testLogDir('e2e-quota');
let testbed: Testbed;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents: AgentProcess[] = [];

function gang(name: string, queue: string, members: number, gpus: number): JobSpec {
  return {
    name,
    queue,
    priority: 0,
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: {},
    namespace: '',
    podSetGroups: [],
    maxRestarts: 0,
    resourceClaimTemplates: [],
    matchDeviceAttribute: '',
    podSets: [
      {
        name: 'workers',
        count: members,
        topology: undefined,
        podTemplateJson: JSON.stringify({
          metadata: { annotations: { 'testbed.muster.dev/succeed-after': '2s' } },
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

/** `{ nvidia.com/gpu: n }`, or nothing when n is not set. */
function gpus(n: number | undefined): Record<string, string> {
  return n === undefined ? {} : { [GPU]: String(n) };
}

/**
 * Every violated limit of `used` (GPUs per queue; `inEast`: per queue in cluster set east), in
 * words; empty when all hold. Per node of the cohort tree, bottom up: its subtree quota S (own
 * nominal plus what its children lend), guaranteed part G (S less what it lends, 0 when it lends
 * all) and usage U (a cohort's: what its children use beyond their G); a node with a borrowing
 * limit B holds U <= S + B, the root U <= S.
 */
function violations(
  used: Record<string, number>,
  inEast: Record<string, number>,
  where: string,
): string[] {
  const out: string[] = [];
  const figures = new Map<string, { s: number; g: number; u: number }>();
  const guaranteedOf = (s: number, lending: number | undefined) =>
    lending === undefined ? 0 : s - Math.min(lending, s);
  for (const [q, l] of Object.entries(QUEUES)) {
    const u = used[q] ?? 0;
    if (l.borrowing !== undefined && u > l.nominal + l.borrowing)
      out.push(`${where}: ${q} uses ${u} > nominal ${l.nominal} + borrowing ${l.borrowing}`);
    if (l.east !== undefined && (inEast[q] ?? 0) > l.east)
      out.push(`${where}: ${q} uses ${inEast[q]} in east > its ${l.east} there`);
    const g = guaranteedOf(l.nominal, l.lending);
    const c = figures.get(l.cohort) ?? { s: 0, g: 0, u: 0 };
    c.s += l.nominal - g;
    c.u += Math.max(0, u - g);
    figures.set(l.cohort, c);
  }
  const org = { s: COHORTS.org!.nominal ?? 0, u: 0 };
  for (const name of ['research', 'prod']) {
    const c = figures.get(name)!;
    const cfg = COHORTS[name]!;
    c.g = guaranteedOf(c.s, cfg.lending);
    if (cfg.borrowing !== undefined && c.u > c.s + cfg.borrowing)
      out.push(`${where}: cohort ${name} uses ${c.u} > its ${c.s} + borrowing ${cfg.borrowing}`);
    org.s += c.s - c.g;
    org.u += Math.max(0, c.u - c.g);
  }
  if (org.u > org.s) out.push(`${where}: cohort org draws ${org.u} > its pool ${org.s}`);
  return out;
}

interface Pod {
  metadata: { labels?: Record<string, string> };
  spec: { containers: { resources?: { requests?: Record<string, string> } }[] };
  status?: { phase?: string };
}

beforeAll(async () => {
  testbed = await startTestbed(join(__dirname, 'quota-topology.yaml'), { log: () => undefined });
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: { MUSTER_HEARTBEAT_INTERVAL_MS: '500', MUSTER_CYCLE_PERIOD_MS: '300' },
    queues: Object.entries(QUEUES).map(([name, l]) => ({
      name,
      quota: {
        nominal: { [GPU]: String(l.nominal), ...(l.east ? { [EAST_GPU]: String(l.east) } : {}) },
        cohort: l.cohort,
        borrowingLimit: gpus(l.borrowing),
        lendingLimit: gpus(l.lending),
      },
    })),
  });
  ({ hub, api } = env);
  for (const [name, c] of Object.entries(COHORTS))
    await api.inventory.createCohort({
      cohort: {
        name,
        parent: c.parent ?? '',
        description: '',
        quota: {
          nominal: gpus(c.nominal),
          borrowingLimit: gpus(c.borrowing),
          lendingLimit: gpus(c.lending),
        },
        queues: [],
        children: [],
      },
    });
  await startWorkers(api, {
    hub: hub.grpcAddress,
    workers: WORKERS,
    kubeconfigOf: (name) => testbed.cluster(name).kubeconfigPath,
    logs,
    agents,
    clusterSet: (worker) => SET_OF[worker]!,
  });
}, 10 * 60_000);

afterAll(async () => {
  const agentEnds = await stopFleet(agents, env, testbed);
  if (env) expect(agentEnds).toEqual(agents.map(() => 0));
});

describe('queue quotas with nested cohorts, borrowing and lending limits, and a cluster set', () => {
  it(`hold exactly at the hub and in the clusters under ${GANGS} gangs from 4 queues in 2 cohorts of a third`, async () => {
    const names = Object.keys(QUEUES).filter((q) => !QUEUES[q]!.idle);
    const queueOf = new Map<string, string>();
    // Deterministic mix: 1–2 members of 1–4 GPUs, round robin over the queues.
    const specs = Array.from({ length: GANGS }, (_, i) =>
      gang(`g-${i}`, names[i % names.length]!, 1 + (i % 2), 1 + ((i * 7) % 4)),
    );
    const ids = await Promise.all(
      specs.map(async (s) => {
        const id = (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec: s })).job!.id;
        queueOf.set(id, s.queue);
        return id;
      }),
    );

    const found: string[] = [];
    let samples = 0;
    const peak: Record<string, number> = {};
    const peakEast: Record<string, number> = {};
    let peakProd = 0;
    let heldExplained = '';
    const sample = async () => {
      // The hub: what its ledger says each queue holds.
      const { queues } = await api.inventory.listQueues({});
      const hubUsed: Record<string, number> = {};
      const hubEast: Record<string, number> = {};
      for (const q of queues) {
        hubUsed[q.name] = Number(q.usage?.used?.[GPU] ?? '0');
        hubEast[q.name] = Number(q.usage?.used?.[EAST_GPU] ?? '0');
      }
      found.push(...violations(hubUsed, hubEast, 'hub'));
      // The clusters: GPUs of the members that exist and have not ended, by their gang's queue.
      const podUsed: Record<string, number> = {};
      const podEast: Record<string, number> = {};
      for (const c of WORKERS) {
        const pods = (
          await kubeJSON<{ items: Pod[] }>(
            testbed.cluster(c),
            'GET',
            `/api/v1/pods?labelSelector=${encodeURIComponent(GANG_LABEL)}`,
          )
        ).items;
        for (const p of pods) {
          if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
          const queue = queueOf.get(p.metadata.labels?.[GANG_LABEL] ?? '');
          if (!queue) continue;
          const gpus = p.spec.containers.reduce(
            (n, k) => n + Number(k.resources?.requests?.[GPU] ?? '0'),
            0,
          );
          podUsed[queue] = (podUsed[queue] ?? 0) + gpus;
          if (SET_OF[c] === 'east') podEast[queue] = (podEast[queue] ?? 0) + gpus;
        }
      }
      found.push(...violations(podUsed, podEast, 'clusters'));
      for (const [q, n] of Object.entries(podUsed)) peak[q] = Math.max(peak[q] ?? 0, n);
      peakProd = Math.max(peakProd, (podUsed.serve ?? 0) + (podUsed.batch ?? 0));
      for (const [q, n] of Object.entries(podEast)) peakEast[q] = Math.max(peakEast[q] ?? 0, n);
      samples++;
    };
    const done = async () => {
      const states = await Promise.all(ids.map((id) => api.jobs.getJob({ jobId: id })));
      return states.every((s) => s.job!.state === JobState.JOB_STATE_SUCCEEDED);
    };
    let finished = false;
    const started = Date.now();
    while (!finished && Date.now() - started < 4 * 60_000) {
      await sample();
      if (!heldExplained) {
        // Some gang waits on its quota while others run, and says so.
        for (const id of ids.slice(-20)) {
          const e = await api.jobs.explainJob({ jobId: id });
          if (e.job!.state === JobState.JOB_STATE_QUEUED && /quota/.test(e.summary)) {
            heldExplained = e.summary;
            break;
          }
        }
      }
      if (samples % 10 === 0) finished = await done();
    }
    console.log(
      `quota.e2e: ${samples} samples; peak GPUs in the clusters per queue ${JSON.stringify(peak)}, of prod ${peakProd}, in east ${JSON.stringify(peakEast)}; held: ${heldExplained}`,
    );
    expect(found.slice(0, 10)).toEqual([]);
    expect(samples).toBeGreaterThan(20);
    expect(await done()).toBe(true);
    // Not vacuous: the quota held gangs back, and a queue borrowed beyond its nominal quota.
    expect(heldExplained).toMatch(
      /held by its queue's quota: queue \w+: needs \d+ nvidia.com\/gpu/,
    );
    expect(peak.nlp ?? 0).toBeGreaterThan(QUEUES.nlp!.nominal);
    expect(peak.vision ?? 0).toBeLessThanOrEqual(QUEUES.vision!.nominal);
    // prod borrowed through org what research lent there, beyond its own 16.
    expect(peakProd).toBeGreaterThan(16);
    // serve ran in east, and beyond what east allowed it elsewhere.
    expect(peakEast.serve ?? 0).toBeGreaterThan(0);
    expect(peak.serve ?? 0).toBeGreaterThan(QUEUES.serve!.east!);
  });

  it('refuses a bad quota naming the field, and stores nothing', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ nominal: { [GPU]: 'lots' } }, `queue.quota.nominal["${GPU}"]`, /quantity/i],
      [{ nominal: {} }, 'queue.quota.nominal', /at least one resource/],
      [
        { nominal: { [GPU]: '4' }, borrowingLimit: { [GPU]: '2' } },
        'queue.quota.borrowing_limit',
        /needs a cohort/,
      ],
      [
        { nominal: { [GPU]: '4' }, cohort: 'c', lendingLimit: { cpu: '2' } },
        'queue.quota.lending_limit["cpu"]',
        /which the nominal quota does not/,
      ],
      [{ nominal: { [GPU]: '4' }, cohort: 'Bad_Cohort' }, 'queue.quota.cohort', /DNS-1123/],
      [
        { nominal: { 'East:nvidia.com/gpu': '4' } },
        'queue.quota.nominal["East:nvidia.com/gpu"]',
        /cluster set "East" must be a DNS-1123 label/,
      ],
    ];
    for (const [quota, field, message] of cases) {
      const e = await api.inventory
        .createQueue({
          queue: {
            name: 'bad-quota',
            description: '',
            weight: 1,
            allowedNamespaces: [],
            quota: { nominal: {}, cohort: '', borrowingLimit: {}, lendingLimit: {}, ...quota },
          },
        })
        .then(
          () => undefined,
          (err: { code: number; details: string; metadata: { get(k: string): unknown[] } }) => err,
        );
      expect([field, e?.details]).toEqual([field, expect.stringMatching(message)]);
      expect(e!.metadata.get('muster-field')).toEqual([field]);
    }
    const { queues } = await api.inventory.listQueues({});
    expect(queues.map((q) => q.name)).not.toContain('bad-quota');
  });
});
