// Queue quotas and cohorts over real processes: the hub, one agent per worker cluster, two
// testbed clusters of 32 GPUs each. Four queues in two cohorts (and a fifth that only lends),
// with borrowing and lending limits, together hold less quota than the fleet has GPUs, so quota
// decides what runs. 200 gangs are submitted at once; a sampler reads the hub's queue usage and every cluster's pods
// and checks each queue and cohort against its limits at every sample.
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
const GPU = 'nvidia.com/gpu';
const GANGS = 200;

/** The queues' quotas on GPUs, as the test checks them (an oracle of its own). */
interface Limits {
  cohort: string;
  nominal: number;
  borrowing?: number;
  lending?: number;
  /** A queue no gang is submitted to: all it does is lend. */
  idle?: boolean;
}
const QUEUES: Record<string, Limits> = {
  // nlp borrows what idle lends, up to its limit of 8 more; vision may not borrow at all.
  nlp: { cohort: 'research', nominal: 16, borrowing: 8 },
  vision: { cohort: 'research', nominal: 8, lending: 4, borrowing: 0 },
  idle: { cohort: 'research', nominal: 8, idle: true },
  serve: { cohort: 'prod', nominal: 12 },
  batch: { cohort: 'prod', nominal: 4, borrowing: 4 },
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

/** Every violated limit of `used` (GPUs per queue), in words; empty when all hold. */
function violations(used: Record<string, number>, where: string): string[] {
  const out: string[] = [];
  const cohorts = new Map<string, { pool: number; drawn: number }>();
  for (const [q, l] of Object.entries(QUEUES)) {
    const u = used[q] ?? 0;
    const lendable = Math.min(l.lending ?? l.nominal, l.nominal);
    const guaranteed = l.nominal - lendable;
    const drawn = Math.max(0, u - guaranteed);
    if (l.borrowing !== undefined && u > l.nominal + l.borrowing)
      out.push(`${where}: ${q} uses ${u} > nominal ${l.nominal} + borrowing ${l.borrowing}`);
    const c = cohorts.get(l.cohort) ?? { pool: 0, drawn: 0 };
    c.pool += lendable;
    c.drawn += drawn;
    cohorts.set(l.cohort, c);
  }
  for (const [name, c] of cohorts)
    if (c.drawn > c.pool)
      out.push(`${where}: cohort ${name} draws ${c.drawn} > its pool ${c.pool}`);
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
        nominal: { [GPU]: String(l.nominal) },
        cohort: l.cohort,
        borrowingLimit: gpus(l.borrowing),
        lendingLimit: gpus(l.lending),
      },
    })),
  });
  ({ hub, api } = env);
  await startWorkers(api, {
    hub: hub.grpcAddress,
    workers: WORKERS,
    kubeconfigOf: (name) => testbed.cluster(name).kubeconfigPath,
    logs,
    agents,
    clusterSet: 'quota',
  });
}, 10 * 60_000);

afterAll(async () => {
  const agentEnds = await stopFleet(agents, env, testbed);
  if (env) expect(agentEnds).toEqual(agents.map(() => 0));
});

describe('queue quotas with cohorts, borrowing and lending limits', () => {
  it(`hold exactly at the hub and in the clusters under ${GANGS} gangs from 4 queues in 2 cohorts`, async () => {
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
    let heldExplained = '';
    const sample = async () => {
      // The hub: what its ledger says each queue holds.
      const { queues } = await api.inventory.listQueues({});
      const hubUsed: Record<string, number> = {};
      for (const q of queues) hubUsed[q.name] = Number(q.usage?.used?.[GPU] ?? '0');
      found.push(...violations(hubUsed, 'hub'));
      // The clusters: GPUs of the members that exist and have not ended, by their gang's queue.
      const podUsed: Record<string, number> = {};
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
        }
      }
      found.push(...violations(podUsed, 'clusters'));
      for (const [q, n] of Object.entries(podUsed)) peak[q] = Math.max(peak[q] ?? 0, n);
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
      `quota.e2e: ${samples} samples; peak GPUs in the clusters per queue ${JSON.stringify(peak)}; held: ${heldExplained}`,
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
