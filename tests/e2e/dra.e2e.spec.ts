// DRA end to end: real hub, real agents, real worker clusters whose kube-scheduler allocates the
// testbed's simulated devices. A gang goes to the only cluster whose devices can hold it and the
// worker's allocations agree with the hub's plan (node, count, selectors, interconnect); a gang
// whose devices exist nowhere stays Queued and says why; Kueue's DRA sample and a partitioned
// gang run; a queue's quota of devices per device class holds exactly; and 200 gangs competing
// for devices never get a device twice and never sit Dispatched on claims the worker cannot
// allocate.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AgentState, JobState, OnClusterLost, type HubClients, type JobSpec } from '@muster/api';
import { kubeJSON, startTestbed, type Testbed } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { startWorkers, stopFleet } from '../support/clusters';
import { GANG_LABEL, pinnedNode } from '../support/cluster-observer';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { testLogDir, type HubProcess } from '../support/hub-process';
import { eventually } from '../support/eventually';
import { CliSandbox, submittedIds } from '../cli/support/cli-process';

jest.setTimeout(10 * 60_000);

const WORKERS = ['dra-small', 'dra-islands', 'dra-nvl'];
const DRIVER = 'gpu.example.com';
const BIND_TIMEOUT_MS = 15_000;
const MEM80 = `device.capacity["${DRIVER}"].memory.compareTo(quantity("80Gi")) >= 0`;
const H100 = `device.attributes["${DRIVER}"].model == "H100"`;
/** The quota resource counting devices of the class, as Kubernetes' ResourceQuota names it. */
const DEVICE_QUOTA = `${DRIVER}.deviceclass.resource.k8s.io/devices`;
const DEVICE_QUOTA_N = 4;

const logs = testLogDir('e2e-dra');
let testbed: Testbed;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents: AgentProcess[] = [];

interface Claim {
  metadata: { name: string; ownerReferences?: { name: string }[] };
  status?: {
    allocation?: {
      devices?: { results?: { driver: string; pool: string; device: string }[] };
      nodeSelector?: {
        nodeSelectorTerms?: { matchFields?: { key: string; values?: string[] }[] }[];
      };
    };
  };
}
interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string; affinity?: unknown; schedulingGates?: unknown[] };
  status?: {
    phase?: string;
    resourceClaimStatuses?: { resourceClaimName?: string }[];
    conditions?: { type: string; status: string; message?: string }[];
  };
}
interface Slice {
  spec: {
    nodeName?: string;
    pool: { name: string };
    driver: string;
    devices?: {
      name: string;
      attributes?: Record<string, { string?: string; int?: number }>;
      capacity?: Record<string, { value: string }>;
    }[];
  };
}

function endpoint(cluster: string) {
  return testbed.cluster(cluster);
}

async function claimsOf(cluster: string): Promise<Claim[]> {
  return (
    await kubeJSON<{ items: Claim[] }>(
      endpoint(cluster),
      'GET',
      '/apis/resource.k8s.io/v1/resourceclaims',
    )
  ).items;
}

/** The pods of gang `gang` in `cluster`, or of every gang when it is not given. */
async function podsOf(cluster: string, gang?: string): Promise<Pod[]> {
  const selector = encodeURIComponent(gang === undefined ? GANG_LABEL : `${GANG_LABEL}=${gang}`);
  return (
    await kubeJSON<{ items: Pod[] }>(
      endpoint(cluster),
      'GET',
      `/api/v1/pods?labelSelector=${selector}`,
    )
  ).items;
}

async function slicesOf(cluster: string): Promise<Slice[]> {
  return (
    await kubeJSON<{ items: Slice[] }>(
      endpoint(cluster),
      'GET',
      '/apis/resource.k8s.io/v1/resourceslices',
    )
  ).items;
}

function allocatedNode(c: Claim): string | undefined {
  return c.status?.allocation?.nodeSelector?.nodeSelectorTerms?.[0]?.matchFields?.find(
    (f) => f.key === 'metadata.name',
  )?.values?.[0];
}

function templateSpec(count: number, selectors: string[], matchAttribute?: string): string {
  return JSON.stringify({
    devices: {
      requests: [
        {
          name: 'gpu',
          exactly: {
            deviceClassName: DRIVER,
            count,
            selectors: selectors.map((expression) => ({ cel: { expression } })),
          },
        },
      ],
      ...(matchAttribute ? { constraints: [{ matchAttribute }] } : {}),
    },
  });
}

function deviceGang(
  name: string,
  members: number,
  claim: string,
  annotations: Record<string, string> = {},
): JobSpec {
  return {
    name,
    queue: 'dra',
    priority: 0,
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: {},
    namespace: '',
    podSetGroups: [],
    maxRestarts: 0,
    resourceClaimTemplates: [{ name: 'devices', specJson: claim }],
    matchDeviceAttribute: '',
    podSets: [
      {
        name: 'workers',
        count: members,
        topology: undefined,
        podTemplateJson: JSON.stringify({
          metadata: { annotations },
          spec: {
            resourceClaims: [{ name: 'gpus', resourceClaimTemplateName: 'devices' }],
            containers: [
              {
                name: 'main',
                image: 'registry.example/train:1',
                resources: { requests: { cpu: '10m', memory: '16Mi' }, claims: [{ name: 'gpus' }] },
              },
            ],
          },
        }),
      },
    ],
  };
}

async function submit(spec: JobSpec): Promise<string> {
  return (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec })).job!.id;
}

async function describeGang(id: string): Promise<string> {
  const j = (await api.jobs.getJob({ jobId: id })).job!;
  const pods = j.cluster ? await podsOf(j.cluster, id) : [];
  return `job ${JobState[j.state]} ${j.reason}: ${j.message} on ${j.cluster || '-'}; pods: ${pods
    .map((p) => `${p.metadata.name} ${p.status?.phase} ${p.spec.nodeName ?? '-'}`)
    .join(', ')}`;
}

async function running(id: string) {
  return eventually(
    `gang ${id} Running`,
    async () => {
      const j = (await api.jobs.getJob({ jobId: id })).job!;
      return j.state === JobState.JOB_STATE_RUNNING ? j : undefined;
    },
    { timeoutMs: BIND_TIMEOUT_MS + 30_000, intervalMs: 250, describe: () => describeGang(id) },
  );
}

/** Each member's claim as the worker allocated it: node, and the devices with their attributes. */
async function allocations(cluster: string, id: string) {
  const [pods, claims, slices] = await Promise.all([
    podsOf(cluster, id),
    claimsOf(cluster),
    slicesOf(cluster),
  ]);
  const byName = new Map(claims.map((c) => [c.metadata.name, c]));
  const device = new Map<string, NonNullable<Slice['spec']['devices']>[number]>();
  for (const s of slices)
    for (const d of s.spec.devices ?? [])
      device.set(`${s.spec.driver}/${s.spec.pool.name}/${d.name}`, d);
  return pods.map((p) => {
    const claimName = p.status?.resourceClaimStatuses?.[0]?.resourceClaimName ?? '';
    const claim = byName.get(claimName);
    return {
      pod: p.metadata.name,
      pinned: pinnedNode(p as never),
      bound: p.spec.nodeName,
      node: claim ? allocatedNode(claim) : undefined,
      devices: (claim?.status?.allocation?.devices?.results ?? []).map((r) => ({
        key: `${r.driver}/${r.pool}/${r.device}`,
        attributes: device.get(`${r.driver}/${r.pool}/${r.device}`)?.attributes ?? {},
        memory: device.get(`${r.driver}/${r.pool}/${r.device}`)?.capacity?.memory?.value,
      })),
    };
  });
}

async function finish(id: string): Promise<void> {
  const cluster = (await api.jobs.getJob({ jobId: id })).job!.cluster;
  await api.jobs.cancelJob({ jobId: id, reason: 'test done' });
  if (cluster)
    await eventually(`pods of ${id} gone`, async () =>
      (await podsOf(cluster, id)).length === 0 ? true : undefined,
    );
}

beforeAll(async () => {
  testbed = await startTestbed(join(__dirname, 'dra-topology.yaml'), { log: () => undefined });
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: { MUSTER_HEARTBEAT_INTERVAL_MS: '500', MUSTER_CYCLE_PERIOD_MS: '300' },
    queues: [
      'dra',
      'user-queue',
      {
        name: 'dra-quota',
        quota: {
          nominal: { [DEVICE_QUOTA]: String(DEVICE_QUOTA_N) },
          cohort: '',
          borrowingLimit: {},
          lendingLimit: {},
        },
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
    clusterSet: 'dra',
    env: { MUSTER_BIND_TIMEOUT_MS: String(BIND_TIMEOUT_MS) },
    wait: false, // until they report their devices, below
  });
  await eventually(
    'three agents connected, reporting their devices',
    async () => {
      const { clusters } = await api.inventory.listClusters({});
      return clusters.length === 3 &&
        clusters.every(
          (c) =>
            c.agentState === AgentState.AGENT_STATE_CONNECTED &&
            (c.capacity?.devices.find((d) => d.deviceClass === DRIVER)?.total ?? 0) > 0,
        )
        ? true
        : undefined;
    },
    {
      timeoutMs: 60_000,
      describe: async () => JSON.stringify((await api.inventory.listClusters({})).clusters),
    },
  );
}, 10 * 60_000);

afterAll(async () => {
  const agentEnds = await stopFleet(agents, env, testbed);
  if (env) expect(agentEnds).toEqual(agents.map(() => 0));
});

describe('gangs placed by the devices each cluster really has', () => {
  it('4 members × 8 devices of 80Gi on one interconnect go to the only cluster that can hold them, as the worker allocates them', async () => {
    const id = await submit(
      deviceGang('nvl', 4, templateSpec(8, [MEM80], `${DRIVER}/interconnect`)),
    );
    const job = await running(id);
    expect(job.cluster).toBe('dra-nvl');
    expect(job.dispatchGeneration).toBe(1);
    const members = await allocations('dra-nvl', id);
    expect(members).toHaveLength(4);
    const seen = new Set<string>();
    for (const m of members) {
      // The worker's scheduler allocated the claim on the node the hub chose.
      expect([m.pod, m.node, m.bound]).toEqual([m.pod, m.pinned, m.pinned]);
      expect([m.pod, m.devices.length]).toEqual([m.pod, 8]);
      expect(new Set(m.devices.map((d) => d.attributes.interconnect?.string)).size).toBe(1);
      for (const d of m.devices) {
        expect(d.memory).toBe('80Gi');
        expect(seen.has(d.key)).toBe(false);
        seen.add(d.key);
      }
    }
    await finish(id);
  });

  it('a gang whose members share one interconnect domain spans only nodes of that domain', async () => {
    // A device taken on h100-1 leaves one whole node in h100-0/1's domain, two in h100-2/3's.
    const blocker = deviceGang('blocker', 1, templateSpec(1, [MEM80]));
    const template = JSON.parse(blocker.podSets[0]!.podTemplateJson) as {
      spec: Record<string, unknown>;
    };
    template.spec.nodeSelector = {
      'kubernetes.io/hostname': 'h100-1',
      'topology.kubernetes.io/zone': 'dra-nvl-zone-a',
    };
    blocker.podSets[0]!.podTemplateJson = JSON.stringify(template);
    const held = await submit(blocker);
    expect((await running(held)).cluster).toBe('dra-nvl');
    // dra-islands has room for 2 × 8 too, but each of its nodes holds two domains.
    const id = await submit({
      ...deviceGang('nvl-domain', 2, templateSpec(8, [MEM80])),
      matchDeviceAttribute: `${DRIVER}/interconnect`,
    });
    const job = await running(id);
    expect(job.cluster).toBe('dra-nvl');
    const members = await allocations('dra-nvl', id);
    expect(members.map((m) => m.node).sort()).toEqual(['h100-2', 'h100-3']);
    for (const m of members) expect([m.pod, m.node, m.bound]).toEqual([m.pod, m.pinned, m.pinned]);
    const domains = new Set(
      members.flatMap((m) => m.devices.map((d) => d.attributes.interconnect?.string)),
    );
    expect(domains.size).toBe(1);
    expect(members.flatMap((m) => m.devices)).toHaveLength(16);
    await finish(id);
    await finish(held);
  });

  it('a gang whose devices exist nowhere stays Queued, naming class and selector', async () => {
    const b200 = `device.attributes["${DRIVER}"].model == "B200"`;
    const id = await submit(deviceGang('b200', 1, templateSpec(1, [b200])));
    const e = await eventually('explained', async () => {
      const x = await api.jobs.explainJob({ jobId: id });
      return x.clusters.length === 3 && x.clusters.every((c) => c.reasonCode === 'NoDeviceFits')
        ? x
        : undefined;
    });
    expect(e.job!.state).toBe(JobState.JOB_STATE_QUEUED);
    for (const c of e.clusters) expect(c.message).toContain(`1 × ${DRIVER} where ${b200}`);
    expect(e.job!.cluster).toBe('');
    await api.jobs.cancelJob({ jobId: id, reason: 'test done' });
  });

  it("runs Kueue's DRA sample (template + Job in one file) as it is", async () => {
    const cli = new CliSandbox(hub.grpcAddress);
    const r = await cli.run(['submit', '-f', join(__dirname, 'kueue-dra-sample.yaml')]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const [id] = submittedIds(r.stdout);
    const job = await running(id!);
    const [member] = await allocations(job.cluster, id!);
    expect(member!.devices).toHaveLength(1);
    expect(member!.node).toBe(member!.pinned);
    await finish(id!);
  });

  it('a gang of partitions runs within its GPU shared counter', async () => {
    const part = `device.attributes["${DRIVER}"].profile == "2g-20gb"`;
    const id = await submit(deviceGang('mig', 3, templateSpec(1, [part])));
    const job = await running(id);
    expect(job.cluster).toBe('dra-small');
    const members = await allocations('dra-small', id);
    expect(members.map((m) => m.devices.length)).toEqual([1, 1, 1]);
    expect(new Set(members.flatMap((m) => m.devices.map((d) => d.key))).size).toBe(3);
    for (const m of members) expect(m.node).toBe(m.pinned);
    // The whole GPU shares the counter its partitions draw on: it fits nowhere now.
    const whole = `device.attributes["${DRIVER}"].profile == "full" && ${MEM80}`;
    const blocked = await submit(
      deviceGang(
        'whole-a100',
        1,
        templateSpec(1, [whole, `device.attributes["${DRIVER}"].model == "A100"`]),
      ),
    );
    const e = await eventually('whole GPU explained', async () => {
      const x = await api.jobs.explainJob({ jobId: blocked });
      return x.clusters.find((c) => c.cluster === 'dra-small')?.reasonCode === 'NoDeviceFits'
        ? x
        : undefined;
    });
    expect(e.job!.state).toBe(JobState.JOB_STATE_QUEUED);
    await api.jobs.cancelJob({ jobId: blocked, reason: 'test done' });
    await finish(id);
  });

  it(`a queue's quota of ${DEVICE_QUOTA_N} devices of the class holds at every sample in the clusters`, async () => {
    // 8 gangs of 1 member × 2 H100: the fleet could run them all at once; the quota lets 2.
    const ids = new Set(
      await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          submit({
            ...deviceGang(`quota-${i}`, 1, templateSpec(2, [H100]), {
              'testbed.muster.dev/succeed-after': '2s',
            }),
            queue: 'dra-quota',
          }),
        ),
      ),
    );
    let peak = 0;
    const over: string[] = [];
    let held = '';
    const deadline = Date.now() + 4 * 60_000;
    const jobs = async () =>
      Promise.all([...ids].map(async (id) => (await api.jobs.getJob({ jobId: id })).job!));
    while (Date.now() < deadline) {
      // Devices allocated in the workers to claims of this queue's members.
      let allocated = 0;
      for (const cluster of WORKERS) {
        const pods = (await podsOf(cluster)).filter(
          (p) =>
            ids.has(p.metadata.labels?.[GANG_LABEL] ?? '') &&
            p.status?.phase !== 'Succeeded' &&
            p.status?.phase !== 'Failed',
        );
        const claims = new Map((await claimsOf(cluster)).map((c) => [c.metadata.name, c]));
        for (const p of pods) {
          const name = p.status?.resourceClaimStatuses?.[0]?.resourceClaimName ?? '';
          allocated += claims.get(name)?.status?.allocation?.devices?.results?.length ?? 0;
        }
      }
      if (allocated > DEVICE_QUOTA_N) over.push(`${allocated} devices allocated at once`);
      peak = Math.max(peak, allocated);
      const now = await jobs();
      if (!held)
        for (const j of now)
          if (j.state === JobState.JOB_STATE_QUEUED) {
            const e = await api.jobs.explainJob({ jobId: j.id });
            if (/quota/.test(e.summary)) held = e.summary;
          }
      if (now.every((j) => j.state === JobState.JOB_STATE_SUCCEEDED)) break;
    }
    console.log(`dra.e2e quota: peak ${peak} devices of ${DEVICE_QUOTA_N}; held: ${held}`);
    expect(over).toEqual([]);
    expect((await jobs()).map((j) => JobState[j.state])).toEqual(
      [...ids].map(() => 'JOB_STATE_SUCCEEDED'),
    );
    // Not vacuous: two gangs ran at once, and the others waited on the quota, saying so.
    expect(peak).toBe(DEVICE_QUOTA_N);
    expect(held).toMatch(
      new RegExp(
        `held by its queue's quota: queue dra-quota: needs 2 ${DEVICE_QUOTA.replace(/\./g, '\\.')}, 0 available`,
      ),
    );
  });

  it('200 gangs competing for devices: no device allocated twice, none stuck Dispatched', async () => {
    const claim = templateSpec(2, [H100]);
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        submit(deviceGang(`crowd-${i}`, 1, claim, { 'testbed.muster.dev/succeed-after': '1s' })),
      ),
    );
    const twice: string[] = [];
    const offNode: string[] = [];
    const unallocatable = new Set<string>();
    let samples = 0;
    const sample = async () => {
      for (const cluster of WORKERS) {
        // An ungated member the worker's scheduler could not give its claims: the hub booked
        // devices the cluster did not have free.
        const pods = await podsOf(cluster);
        for (const p of pods) {
          const scheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
          if (
            !p.spec.nodeName &&
            (p.spec.schedulingGates ?? []).length === 0 &&
            scheduled?.status === 'False' &&
            /claim/i.test(scheduled.message ?? '')
          ) {
            unallocatable.add(`${cluster}/${p.metadata.name}: ${scheduled.message}`);
          }
        }
        const holders = new Map<string, string>();
        for (const c of await claimsOf(cluster)) {
          for (const r of c.status?.allocation?.devices?.results ?? []) {
            const key = `${r.driver}/${r.pool}/${r.device}`;
            const other = holders.get(key);
            if (other && other !== c.metadata.name)
              twice.push(`${cluster}: ${key} in ${other} and ${c.metadata.name}`);
            holders.set(key, c.metadata.name);
          }
        }
      }
      samples++;
    };
    const deadline = Date.now() + 8 * 60_000;
    const states = async () =>
      await Promise.all(ids.map(async (id) => (await api.jobs.getJob({ jobId: id })).job!));
    let jobs = await states();
    while (Date.now() < deadline && !jobs.every((j) => j.state === JobState.JOB_STATE_SUCCEEDED)) {
      await sample();
      jobs = await states();
    }
    await sample();
    for (const j of jobs)
      if (j.dispatchGeneration !== 1)
        offNode.push(`${j.id}: dispatched ${j.dispatchGeneration} times (${j.reason})`);
    expect(
      jobs
        .filter((j) => j.state !== JobState.JOB_STATE_SUCCEEDED)
        .map((j) => `${j.id} ${JobState[j.state]}`),
    ).toEqual([]);
    expect(samples).toBeGreaterThan(3);
    expect(twice).toEqual([]);
    expect([...unallocatable]).toEqual([]);
    // A gang dispatched more than once was sent back by a worker that could not allocate its claims.
    expect(offNode).toEqual([]);
    expect(new Set(jobs.map((j) => j.cluster))).toEqual(new Set(['dra-islands', 'dra-nvl']));
  });
});
