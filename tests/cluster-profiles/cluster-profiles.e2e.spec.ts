// Proof that Muster shares its inventory as SIG-Multicluster ClusterProfiles: a real management
// cluster and three real worker clusters (testbed), the built hub as a process on real Postgres and
// Redis, fake agents for health. The consumer side runs as a separate program the way Argo CD and
// MultiKueue do: provider file -> exec plugin -> worker API server.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AgentState, type HubClients } from '@muster/api';
import type { ClusterProfile } from '@muster/k8s';
import { startTestbed, type Testbed, type TestbedCluster } from '../../infra/testbed/src';
import { FakeAgent, eventually, type FakeNode } from '../support/fake-agent';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { HubProcess, REPO_ROOT } from '../support/hub-process';
import {
  EXAMPLES,
  ManagementCluster,
  condition,
  property,
  yamlDocuments,
} from './management-cluster';

const run = promisify(execFile);

const NS = 'muster-inventory';
const IMPORT_NS = 'other-fleet';
const LOST_TIMEOUT_MS = 3000;
const POLL_MS = 1000;
const PROVIDER = 'muster-token';
const WORKERS = ['worker-a', 'worker-b', 'worker-c'];
const CONSUMER = join(REPO_ROOT, 'infra/inventory/clusterprofile-consumer.mjs');
const PLUGIN = join(REPO_ROOT, 'infra/inventory/muster-token-plugin.mjs');
const CLI = join(REPO_ROOT, 'apps/cli/dist/main.js');

const GPU_NODE = { cpu: 32, memory: '128Gi', pods: 110, 'nvidia.com/gpu': 8 };
const TOPOLOGY = {
  clusters: [
    {
      name: 'mgmt',
      role: 'management' as const,
      nodePools: [{ name: 'system', count: 1, resources: { cpu: 4, memory: '8Gi', pods: 110 } }],
    },
    {
      name: 'worker-a',
      role: 'worker' as const,
      nodePools: [{ name: 'gpu', count: 2, resources: GPU_NODE }],
    },
    {
      name: 'worker-b',
      role: 'worker' as const,
      nodePools: [{ name: 'gpu', count: 1, resources: GPU_NODE }],
    },
    {
      name: 'worker-c',
      role: 'worker' as const,
      nodePools: [{ name: 'cpu', count: 1, resources: { cpu: 16, memory: '64Gi', pods: 110 } }],
    },
  ],
};

let tb: Testbed;
let mgmt: ManagementCluster;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
let dir: string;
let providerFile: string;
const agents = new Map<string, { agent: FakeAgent; beat: NodeJS.Timeout }>();
const measured: string[] = [];

function worker(name: string): TestbedCluster {
  return tb.cluster(name);
}

function fakeNodes(c: TestbedCluster): FakeNode[] {
  const allocatable: Record<string, string> =
    c.name === 'worker-c'
      ? { cpu: '16', memory: '64Gi' }
      : { cpu: '32', memory: '128Gi', 'nvidia.com/gpu': '8' };
  return c.nodes.map((name) => ({ name, allocatable }));
}

function startAgent(name: string): void {
  const agent = new FakeAgent(hub.grpcAddress, name).connect(fakeNodes(worker(name)));
  const beat = setInterval(() => agent.heartbeat(), 250);
  agents.set(name, { agent, beat });
}

function stopAgent(name: string): void {
  const a = agents.get(name);
  if (!a) return;
  clearInterval(a.beat);
  a.agent.close();
  agents.delete(name);
}

const profile = (name: string) => mgmt.get(NS, name);

/** Polls until `probe` holds; returns how long it took, in ms. */
async function timed(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<number> {
  const start = Date.now();
  await eventually(what, async () => ((await probe()) ? true : undefined), timeoutMs);
  return Date.now() - start;
}

function hubLogs(): Record<string, unknown>[] {
  return hub.logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

beforeAll(async () => {
  tb = await startTestbed(TOPOLOGY, { log: () => undefined });
  const m = tb.management!;
  mgmt = new ManagementCluster({ server: m.server, token: m.token, ca: m.ca });
  await mgmt.installCrd();

  dir = mkdtempSync(join(tmpdir(), 'muster-cp-'));
  const tokens = Object.fromEntries(WORKERS.map((w) => [worker(w).server, worker(w).token]));
  writeFileSync(join(dir, 'tokens.json'), JSON.stringify(tokens));
  providerFile = join(dir, 'providers.json');
  writeFileSync(
    providerFile,
    JSON.stringify({
      providers: [
        {
          name: PROVIDER,
          execConfig: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: process.execPath,
            args: [PLUGIN, '--token-file', join(dir, 'tokens.json')],
            provideClusterInfo: true,
          },
        },
      ],
    }),
  );

  env = await startHubEnvironment({
    env: {
      MUSTER_INVENTORY_KUBECONFIG: m.kubeconfigPath,
      MUSTER_INVENTORY_IMPORT_NAMESPACES: IMPORT_NS,
      MUSTER_INVENTORY_POLL_MS: String(POLL_MS),
      MUSTER_INVENTORY_RESYNC_MS: '5000',
      MUSTER_INVENTORY_CAPACITY_INTERVAL_MS: '2000',
      MUSTER_WORKER_LOST_TIMEOUT_MS: String(LOST_TIMEOUT_MS),
      MUSTER_SELF_FENCE_TIMEOUT_MS: '900',
      MUSTER_FENCE_DELETE_GRACE_S: '1',
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_LOG_LEVEL: 'debug',
    },
  });
  ({ hub, api } = env);
}, 15 * 60_000);

afterAll(async () => {
  for (const name of [...agents.keys()]) stopAgent(name);
  try {
    await env?.stop();
  } finally {
    await tb?.stop();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (measured.length > 0)
    process.stdout.write(`\nClusterProfile sync latency:\n  ${measured.join('\n  ')}\n`);
});

describe('Muster clusters as ClusterProfiles', () => {
  it('publishes one ClusterProfile per registered cluster, with labels, spec and access', async () => {
    const start = Date.now();
    for (const name of WORKERS) {
      await api.inventory.registerCluster({
        name,
        displayName: `Worker ${name.slice(-1).toUpperCase()}`,
        clusterSet: name === 'worker-c' ? '' : 'training',
        topologyLevels: [],
        labels: { tier: name === 'worker-c' ? 'cpu' : 'gpu' },
        accessProviders: [
          {
            name: PROVIDER,
            cluster: {
              server: worker(name).server,
              certificateAuthorityData: Buffer.from(worker(name).ca),
              tlsServerName: '',
              proxyUrl: '',
              insecureSkipTlsVerify: false,
              extensions: [],
            },
          },
        ],
      });
    }
    await timed('three ClusterProfiles', async () => (await mgmt.list(NS)).length === 3);
    measured.push(`registered -> 3 ClusterProfiles: ${Date.now() - start} ms`);

    const byName = new Map((await mgmt.list(NS)).map((p) => [p.metadata.name, p]));
    expect([...byName.keys()].sort()).toEqual(WORKERS);
    const a = byName.get('worker-a')!;
    expect(a.spec).toEqual({ displayName: 'Worker A', clusterManager: { name: 'muster' } });
    expect(a.metadata.labels).toEqual({
      'x-k8s.io/cluster-manager': 'muster',
      'multicluster.x-k8s.io/clusterset': 'training',
      tier: 'gpu',
    });
    expect(byName.get('worker-c')!.metadata.labels).toEqual({
      'x-k8s.io/cluster-manager': 'muster',
      tier: 'cpu',
    });
    await eventually(
      'status of worker-a',
      async () => (await profile('worker-a'))?.status?.conditions,
    );
    const published = (await profile('worker-a'))!;
    expect(published.status!.accessProviders).toEqual([
      {
        name: PROVIDER,
        cluster: {
          server: worker('worker-a').server,
          'certificate-authority-data': Buffer.from(worker('worker-a').ca).toString('base64'),
        },
      },
    ]);
    expect(condition(published, 'Joined')).toMatchObject({
      status: 'False',
      reason: 'AgentNeverConnected',
    });
    expect(condition(published, 'ControlPlaneHealthy')).toMatchObject({ status: 'Unknown' });
  });

  it('reports connected agents: Joined, healthy, Kubernetes version and capacity', async () => {
    const start = Date.now();
    for (const name of WORKERS) startAgent(name);
    for (const name of WORKERS) {
      await timed(`${name} healthy`, async () => {
        const p = await profile(name);
        return (
          condition(p, 'ControlPlaneHealthy')?.status === 'True' &&
          condition(p, 'Joined')?.status === 'True'
        );
      });
    }
    measured.push(
      `agents connected -> ControlPlaneHealthy True on all 3: ${Date.now() - start} ms`,
    );
    await timed(
      'capacity properties',
      async () => property(await profile('worker-a'), 'muster.dev/node-count') === '2',
    );
    const a = (await profile('worker-a'))!;
    expect(a.status!.version).toEqual({ kubernetes: 'v1.36.1' });
    expect(property(a, 'muster.dev/gpu-allocatable')).toBe('16');
    expect(property(a, 'muster.dev/gpu-free')).toBe('16');
    expect(property(a, 'muster.dev/cpu-free')).toBe('64');
    expect(property(a, 'muster.dev/agent-state')).toBe('Connected');
    expect(property(a, 'muster.dev/topology-levels')).toContain('kubernetes.io/hostname');
  });

  it('turns ControlPlaneHealthy False within workerLostTimeout when an agent stops', async () => {
    stopAgent('worker-c');
    const took = await timed(
      'worker-c ControlPlaneHealthy False',
      async () => condition(await profile('worker-c'), 'ControlPlaneHealthy')?.status === 'False',
      LOST_TIMEOUT_MS + 4 * POLL_MS + 10_000,
    );
    measured.push(
      `agent stopped -> ControlPlaneHealthy False: ${took} ms (workerLostTimeout ${LOST_TIMEOUT_MS} ms)`,
    );
    // "Within": the lost timeout, plus one inventory poll and a second of slack (3.0 s measured
    // against 3 s; a hub waiting twice its lost timeout, 6 s, fails this).
    expect(took).toBeLessThan(LOST_TIMEOUT_MS + POLL_MS + 1000);
    const c = (await profile('worker-c'))!;
    expect(condition(c, 'ControlPlaneHealthy')).toMatchObject({ reason: 'AgentSilent' });
    expect(condition(c, 'Joined')?.status).toBe('True');
    expect(condition(await profile('worker-a'), 'ControlPlaneHealthy')?.status).toBe('True');
    // The profile may turn False (heartbeat age) a moment before the liveness check marks the
    // row Lost: wait for the inventory to say so too.
    await eventually('worker-c Lost in the inventory', async () => {
      const listed = await api.inventory.listClusters({});
      const state = listed.clusters.find((x) => x.name === 'worker-c')!.agentState;
      return state === AgentState.AGENT_STATE_LOST || undefined;
    });
  });

  it('reverts a hand edit of the status', async () => {
    const before = (await profile('worker-a'))!;
    const edited: ClusterProfile = {
      ...before,
      status: {
        ...before.status,
        version: { kubernetes: 'v0.0.0-hand-edited' },
        conditions: (before.status?.conditions ?? []).map((c) =>
          c.type === 'ControlPlaneHealthy' ? { ...c, status: 'False', reason: 'HandEdited' } : c,
        ),
        accessProviders: [],
      },
    };
    await mgmt.replaceStatus(edited);
    const took = await timed('hand edit reverted', async () => {
      const p = await profile('worker-a');
      return (
        p?.status?.version?.kubernetes === 'v1.36.1' &&
        condition(p, 'ControlPlaneHealthy')?.status === 'True' &&
        p.status?.accessProviders?.length === 1
      );
    });
    measured.push(`hand edit of status -> reverted: ${took} ms`);
  });

  it('settles: two hub replicas and forced resyncs leave unchanged ClusterProfiles untouched', async () => {
    const second = await HubProcess.start({
      databaseUrl: env.db.url,
      redisPrefix: env.redis.prefix,
      env: {
        MUSTER_INVENTORY_KUBECONFIG: tb.management!.kubeconfigPath,
        MUSTER_INVENTORY_IMPORT_NAMESPACES: IMPORT_NS,
        MUSTER_INVENTORY_POLL_MS: String(POLL_MS),
        MUSTER_INVENTORY_RESYNC_MS: '5000',
        MUSTER_WORKER_LOST_TIMEOUT_MS: String(LOST_TIMEOUT_MS),
        MUSTER_SELF_FENCE_TIMEOUT_MS: '900',
        MUSTER_FENCE_DELETE_GRACE_S: '1',
        MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      },
    });
    try {
      await eventually('second replica ready', () =>
        second.logs.some((l) => l.includes('"ClusterProfile sync ready"')) ? true : undefined,
      );
      const versions = async () =>
        Object.fromEntries(
          (await mgmt.list(NS)).map((p) => [p.metadata.name, p.metadata.resourceVersion]),
        );
      const before = await versions();
      // Several polls of both replicas and at least one forced resync (every 5 s).
      await new Promise((r) => setTimeout(r, 6500));
      expect(await versions()).toEqual(before);
      expect(Object.keys(before).sort()).toEqual(WORKERS);
    } finally {
      await second.stop();
    }
  });

  it("imports another manager's ClusterProfile read-only and skips malformed ones", async () => {
    await mgmt.createNamespace(IMPORT_NS);
    const [partner] = yamlDocuments(join(EXAMPLES, 'clusterprofile-other-manager.yaml'));
    const malformed = yamlDocuments(join(EXAMPLES, 'clusterprofile-malformed.yaml'));
    for (const obj of malformed) await mgmt.create(obj as unknown as ClusterProfile, IMPORT_NS);
    await mgmt.create(partner as unknown as ClusterProfile, IMPORT_NS);

    // A manager writes the object and then its status: wait until both are reflected.
    const took = await timed('partner-west imported, malformed ones left out', async () => {
      const names = new Map(
        (await api.inventory.listClusters({})).clusters.map((c) => [c.name, c]),
      );
      return (
        names.get('partner-west')?.kubernetesVersion === 'v1.33.4' &&
        !names.has('partner-broken') &&
        !names.has('gpu.partner.example')
      );
    });
    measured.push(`foreign ClusterProfile written -> in ListClusters: ${took} ms`);
    const clusters = (await api.inventory.listClusters({})).clusters;
    const imported = clusters.find((c) => c.name === 'partner-west')!;
    expect(imported).toMatchObject({
      readOnly: true,
      clusterManager: 'ocm-example',
      clusterSet: 'partners',
      displayName: 'Partner West',
      agentState: AgentState.AGENT_STATE_NEVER_CONNECTED,
      kubernetesVersion: 'v1.33.4',
      topologyLevels: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
    });
    expect(imported.accessProviders.map((p) => p.cluster!.server)).toEqual([
      'https://partner-west.example.com:6443',
    ]);
    expect(imported.labels).toMatchObject({
      region: 'us-west',
      'muster.dev/imported-from-namespace': IMPORT_NS,
    });
    expect(clusters.map((c) => c.name)).not.toContain('partner-broken');
    expect(clusters.map((c) => c.name)).not.toContain('gpu.partner.example');

    await eventually('skip log lines', () => {
      const skipped = hubLogs().filter((l) => l.msg === 'skipping malformed ClusterProfile');
      const fields = new Map(skipped.map((l) => [l.clusterProfile, l.field]));
      return fields.get(`${IMPORT_NS}/gpu.partner.example`) === 'metadata.name' &&
        fields.get(`${IMPORT_NS}/partner-broken`) === 'status.accessProviders[0].cluster.server'
        ? true
        : undefined;
    });
    // Read-only: Muster refuses to change it, and does not publish it back.
    await expect(api.inventory.deregisterCluster({ name: 'partner-west' })).rejects.toThrow(
      /managed by "ocm-example"/,
    );
    expect((await mgmt.list(NS)).map((p) => p.metadata.name).sort()).toEqual(WORKERS);

    // The sync goes on past the malformed objects: a change in Muster still reaches its profile.
    await api.inventory.cordonCluster({ name: 'worker-b', reason: 'test' });
    await timed(
      'cordon published',
      async () => property(await profile('worker-b'), 'muster.dev/cordoned') === 'true',
    );

    await mgmt.delete(IMPORT_NS, 'partner-west');
    await timed(
      'partner-west removed',
      async () =>
        !(await api.inventory.listClusters({})).clusters.some((c) => c.name === 'partner-west'),
    );
  });

  it('lets a consumer reach every worker through its access provider and exec plugin', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        CONSUMER,
        '--kubeconfig',
        tb.management!.kubeconfigPath,
        '--namespace',
        NS,
        '--provider-file',
        providerFile,
        '--cluster-manager',
        'muster',
      ],
      { cwd: REPO_ROOT, timeout: 60_000 },
    );
    const seen = JSON.parse(stdout) as {
      clusters: {
        name: string;
        provider?: string;
        server?: string;
        nodes?: string[];
        error?: string;
      }[];
    };
    for (const c of seen.clusters) {
      expect(c.error).toBeUndefined();
      expect(c.provider).toBe(PROVIDER);
      expect(c.server).toBe(worker(c.name).server);
      expect(c.nodes).toEqual([...worker(c.name).nodes].sort());
    }
    const names = seen.clusters.map((c) => c.name).sort();
    const listed = (await api.inventory.listClusters({})).clusters
      .filter((c) => !c.readOnly)
      .map((c) => c.name)
      .sort();
    expect(names).toEqual(listed);
    expect(names).toEqual(WORKERS);

    // The CLI is built by the suite's global setup; its absence is a failure, not a skip.
    expect(existsSync(CLI)).toBe(true);
    {
      const cli = await run(
        process.execPath,
        [CLI, '--hub', hub.grpcAddress, 'clusters', 'list', '-o', 'json'],
        {
          cwd: dir,
          timeout: 30_000,
          env: { ...process.env, HOME: dir },
        },
      );
      const fromCli = (
        JSON.parse(cli.stdout) as { clusters: { name: string; readOnly?: boolean }[] }
      ).clusters
        .filter((c) => !c.readOnly)
        .map((c) => c.name)
        .sort();
      expect(fromCli).toEqual(names);
    }
  });

  it('deletes the ClusterProfile of a deregistered cluster', async () => {
    await api.inventory.deregisterCluster({ name: 'worker-c' });
    const took = await timed(
      'worker-c ClusterProfile gone',
      async () => (await profile('worker-c')) === undefined,
    );
    measured.push(`deregistered -> ClusterProfile deleted: ${took} ms`);
    expect((await mgmt.list(NS)).map((p) => p.metadata.name).sort()).toEqual([
      'worker-a',
      'worker-b',
    ]);
  });

  it('ships Argo CD and Kueue examples whose APIs a bare management cluster does not serve', async () => {
    // Their CRDs come with Argo CD and Kueue; without them the API server refuses the manifests.
    for (const file of ['argocd/clusterprofile-providers.yaml', 'kueue/multikueue.yaml']) {
      const groups = new Set(
        yamlDocuments(join(EXAMPLES, file))
          .map((d) => String(d.apiVersion))
          .filter((v) => v.includes('.') && !v.startsWith('apps/')),
      );
      expect(groups.size).toBeGreaterThan(0);
      for (const gv of groups) expect([gv, await mgmt.apiStatus(gv)]).toEqual([gv, 404]);
    }
  });
});
