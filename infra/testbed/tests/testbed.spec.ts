// Proves the testbed is real Kubernetes: the scheduler binds pods to fitting fake nodes, kwok runs
// them, the Job controller creates pods, scheduling gates hold pods back. One 1+3 testbed for the file.
import * as fs from 'node:fs';
import { BatchV1Api, CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import {
  DEMO_TOPOLOGY,
  DRA_DRIVER,
  LABELS,
  RESOURCE_API,
  POD_ANNOTATIONS,
  Testbed,
  TestbedCluster,
  kubeJSON,
  kubeRequest,
  loadTopology,
  pidAlive,
  startTestbed,
} from '../src';

// A cold `go build` of Kubernetes takes ~15 min on 2 cores; warm starts take seconds.
const SETUP_TIMEOUT = 45 * 60_000;
const DEADLINE_MS = 60_000;

let tb: Testbed;
const core = new Map<string, CoreV1Api>();
const batch = new Map<string, BatchV1Api>();
let seq = 0;

function kc(c: TestbedCluster): KubeConfig {
  const k = new KubeConfig();
  k.loadFromString(c.kubeconfig);
  return k;
}

/** Polls fn until it returns a value other than undefined; fails with the last observation on timeout. */
async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  describe: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `timed out after ${DEADLINE_MS / 1000}s waiting for ${what}; last state: ${await describe()} ${lastErr}`,
  );
}

function podName(prefix: string): string {
  return `${prefix}-${process.pid}-${++seq}`;
}

function gpuPod(
  name: string,
  gpus: number,
  extra: Partial<V1Pod['spec']> = {},
  annotations?: Record<string, string>,
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'registry.invalid/trainer:1',
          resources: {
            requests: {
              cpu: '2',
              memory: '4Gi',
              ...(gpus ? { 'nvidia.com/gpu': String(gpus) } : {}),
            },
            limits: gpus ? { 'nvidia.com/gpu': String(gpus) } : undefined,
          },
        },
      ],
      ...extra,
    },
  };
}

async function describePod(cluster: string, name: string): Promise<string> {
  try {
    const p = await core.get(cluster)!.readNamespacedPod({ name, namespace: 'default' });
    return JSON.stringify({
      node: p.spec?.nodeName,
      phase: p.status?.phase,
      conditions: p.status?.conditions,
    });
  } catch (e) {
    return `read failed: ${(e as Error).message}`;
  }
}

async function waitPodPhase(cluster: string, name: string, phase: string): Promise<V1Pod> {
  return eventually(
    `pod ${cluster}/${name} to be ${phase}`,
    async () => {
      const p = await core.get(cluster)!.readNamespacedPod({ name, namespace: 'default' });
      return p.status?.phase === phase ? p : undefined;
    },
    () => describePod(cluster, name),
  );
}

beforeAll(async () => {
  tb = await startTestbed(DEMO_TOPOLOGY, { log: () => undefined });
  for (const c of tb.clusters) {
    core.set(c.name, kc(c).makeApiClient(CoreV1Api));
    batch.set(c.name, kc(c).makeApiClient(BatchV1Api));
  }
}, SETUP_TIMEOUT);

afterAll(async () => {
  if (!tb) return;
  const pids = tb.clusters.map((c) => c.pid);
  await tb.stop();
  expect(pids.filter(pidAlive)).toEqual([]);
  expect(fs.existsSync(tb.runDir)).toBe(false);
}, 60_000);

describe('testbed', () => {
  it('starts 1 management + 3 worker clusters with the seeded fake nodes', async () => {
    const topo = loadTopology(DEMO_TOPOLOGY);
    expect(tb.clusters.map((c) => c.name)).toEqual(topo.clusters.map((c) => c.name));
    expect(tb.management?.name).toBe('mgmt');
    expect(tb.workers).toHaveLength(3);
    for (const c of tb.clusters) {
      expect(c.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(c.kubeconfig).toContain(c.token);
      expect(fs.existsSync(c.kubeconfigPath)).toBe(true);
      const nodes = await core.get(c.name)!.listNode();
      const expected = topo.clusters
        .find((x) => x.name === c.name)!
        .nodePools.reduce((a, p) => a + p.count, 0);
      expect(nodes.items).toHaveLength(expected);
      for (const n of nodes.items) {
        expect(n.metadata?.annotations?.['kwok.x-k8s.io/node']).toBe('fake');
        expect(n.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
        for (const l of [LABELS.zone, LABELS.block, LABELS.rack, LABELS.hostname]) {
          expect(n.metadata?.labels?.[l]).toBeTruthy();
        }
      }
    }
    const b = await core.get('worker-b')!.listNode();
    expect(new Set(b.items.map((n) => n.metadata!.labels![LABELS.block])).size).toBe(2);
    expect(b.items[0].status?.allocatable?.['nvidia.com/gpu']).toBe('8');
    // DRA (resource.k8s.io/v1) is served.
    const w = tb.cluster('worker-a');
    const dra = await kubeRequest(w, 'GET', '/apis/resource.k8s.io/v1');
    expect(dra.status).toBe(200);
    expect(dra.body).toContain('resourceslices');
    // The management cluster's default namespace has its service account (token controller works).
    const sa = await core
      .get('mgmt')!
      .readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    expect(sa.metadata?.name).toBe('default');
  });

  it('publishes the demo GPUs as DRA devices the scheduler allocates', async () => {
    // Per cluster: ResourceSlices, devices (L40S: whole GPU + 4 + 2 partitions each).
    const expected: Record<string, [number, number]> = {
      mgmt: [0, 0],
      'worker-a': [4, 4 * 8],
      'worker-b': [8, 8 * 8],
      'worker-c': [12 * 2, 12 * 4 * 7],
    };
    for (const c of tb.clusters) {
      const list = await kubeJSON<{ items: { spec: { devices?: unknown[] } }[] }>(
        c,
        'GET',
        `${RESOURCE_API}/resourceslices`,
      );
      const devices = list.items.reduce((a, s) => a + (s.spec.devices?.length ?? 0), 0);
      expect([c.name, list.items.length, devices]).toEqual([c.name, ...expected[c.name]]);
    }
    // Eight whole H100s on one worker-b node, two 24Gi partitions on one worker-c L40S.
    const cases = [
      { cluster: 'worker-b', count: 8, cel: 'profile == "full"', node: /^h100-/ },
      { cluster: 'worker-c', count: 2, cel: 'profile == "2g-24gb"', node: /^l40s-/ },
    ].map((c) => ({ ...c, name: podName('dra') }));
    await Promise.all(
      cases.map(async ({ cluster, count, cel, name }) => {
        const c = tb.cluster(cluster);
        await kubeJSON(c, 'POST', `${RESOURCE_API}/namespaces/default/resourceclaimtemplates`, {
          metadata: { name },
          spec: {
            spec: {
              devices: {
                requests: [
                  {
                    name: 'gpu',
                    exactly: {
                      deviceClassName: DRA_DRIVER,
                      count,
                      selectors: [
                        { cel: { expression: `device.attributes["${DRA_DRIVER}"].${cel}` } },
                      ],
                    },
                  },
                ],
              },
            },
          },
        });
        const pod = gpuPod(name, 0);
        pod.spec!.resourceClaims = [{ name: 'gpu', resourceClaimTemplateName: name }];
        pod.spec!.containers[0].resources!.claims = [{ name: 'gpu' }];
        await core.get(cluster)!.createNamespacedPod({ namespace: 'default', body: pod });
      }),
    );
    for (const k of cases) {
      const p = await waitPodPhase(k.cluster, k.name, 'Running');
      expect(p.spec?.nodeName).toMatch(k.node);
      const claimName = p.status?.resourceClaimStatuses?.[0]?.resourceClaimName;
      const claim = await kubeJSON<{
        status: { allocation: { devices: { results: { pool: string }[] } } };
      }>(
        tb.cluster(k.cluster),
        'GET',
        `${RESOURCE_API}/namespaces/default/resourceclaims/${claimName}`,
      );
      const results = claim.status.allocation.devices.results;
      expect(results).toHaveLength(k.count);
      expect(new Set(results.map((r) => r.pool))).toEqual(new Set([p.spec?.nodeName]));
    }
  });

  it('binds pods in three clusters at once to nodes that fit and runs them', async () => {
    const cases = [
      { cluster: 'worker-a', gpus: 8, selector: undefined as Record<string, string> | undefined },
      { cluster: 'worker-b', gpus: 8, selector: { [LABELS.block]: 'worker-b-h100-b1' } },
      { cluster: 'worker-c', gpus: 4, selector: { 'nvidia.com/gpu.product': 'NVIDIA-L40S' } },
    ].map((c) => ({ ...c, name: podName('fit') }));
    await Promise.all(
      cases.map((c) =>
        core.get(c.cluster)!.createNamespacedPod({
          namespace: 'default',
          body: gpuPod(c.name, c.gpus, c.selector ? { nodeSelector: c.selector } : {}),
        }),
      ),
    );
    const running = await Promise.all(cases.map((c) => waitPodPhase(c.cluster, c.name, 'Running')));
    for (const [i, p] of running.entries()) {
      const c = cases[i];
      expect(p.spec?.nodeName).toBeTruthy();
      const node = await core.get(c.cluster)!.readNode({ name: p.spec!.nodeName! });
      expect(Number(node.status?.allocatable?.['nvidia.com/gpu'])).toBeGreaterThanOrEqual(c.gpus);
      for (const [k, v] of Object.entries(c.selector ?? {}))
        expect(node.metadata?.labels?.[k]).toBe(v);
      expect(p.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
    }
  });

  it('keeps a pod that fits no node Pending with an Unschedulable condition', async () => {
    const name = podName('toobig');
    await core
      .get('worker-a')!
      .createNamespacedPod({ namespace: 'default', body: gpuPod(name, 16) });
    const cond = await eventually(
      `pod worker-a/${name} to be marked Unschedulable`,
      async () => {
        const p = await core.get('worker-a')!.readNamespacedPod({ name, namespace: 'default' });
        const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
        return c?.status === 'False' && c.reason === 'Unschedulable' ? c : undefined;
      },
      () => describePod('worker-a', name),
    );
    expect(cond.message).toMatch(/nvidia\.com\/gpu/);
    const p = await core.get('worker-a')!.readNamespacedPod({ name, namespace: 'default' });
    expect(p.spec?.nodeName).toBeFalsy();
    expect(p.status?.phase).toBe('Pending');
  });

  it('runs a Job: the Job controller creates its pods and they succeed on request', async () => {
    const name = podName('job');
    await batch.get('worker-c')!.createNamespacedJob({
      namespace: 'default',
      body: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name },
        spec: {
          completions: 3,
          parallelism: 3,
          backoffLimit: 0,
          template: {
            metadata: { annotations: { [POD_ANNOTATIONS.succeedAfter]: '1s' } },
            spec: { ...gpuPod('x', 1).spec!, restartPolicy: 'Never' },
          },
        },
      },
    });
    const describeJob = async () => {
      const j = await batch.get('worker-c')!.readNamespacedJob({ name, namespace: 'default' });
      const pods = await core
        .get('worker-c')!
        .listNamespacedPod({ namespace: 'default', labelSelector: `job-name=${name}` });
      return JSON.stringify({
        status: j.status,
        pods: pods.items.map((p) => [p.metadata?.name, p.spec?.nodeName, p.status?.phase]),
      });
    };
    const job = await eventually(
      `job worker-c/${name} to complete`,
      async () => {
        const j = await batch.get('worker-c')!.readNamespacedJob({ name, namespace: 'default' });
        return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')
          ? j
          : undefined;
      },
      describeJob,
    );
    expect(job.status?.succeeded).toBe(3);
    const pods = await core
      .get('worker-c')!
      .listNamespacedPod({ namespace: 'default', labelSelector: `job-name=${name}` });
    expect(pods.items).toHaveLength(3);
    for (const p of pods.items) {
      expect(p.spec?.nodeName).toMatch(/^l40s-/);
      expect(p.status?.phase).toBe('Succeeded');
    }
  });

  it('marks a pod Failed when it asks to fail', async () => {
    const name = podName('fail');
    await core.get('worker-b')!.createNamespacedPod({
      namespace: 'default',
      body: gpuPod(name, 1, { restartPolicy: 'Never' }, { [POD_ANNOTATIONS.failAfter]: '0s' }),
    });
    const p = await waitPodPhase('worker-b', name, 'Failed');
    expect(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
  });

  it('holds a pod with a scheduling gate until the gate is removed, then binds it', async () => {
    const name = podName('gated');
    const client = core.get('worker-a')!;
    await client.createNamespacedPod({
      namespace: 'default',
      body: gpuPod(name, 2, { schedulingGates: [{ name: 'muster.dev/admission' }] }),
    });
    await eventually(
      `pod worker-a/${name} to be SchedulingGated`,
      async () => {
        const p = await client.readNamespacedPod({ name, namespace: 'default' });
        const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
        return c?.status === 'False' && c.reason === 'SchedulingGated' ? true : undefined;
      },
      () => describePod('worker-a', name),
    );
    const gated = await client.readNamespacedPod({ name, namespace: 'default' });
    expect(gated.spec?.nodeName).toBeFalsy();
    expect(gated.spec?.schedulingGates).toEqual([{ name: 'muster.dev/admission' }]);

    await client.patchNamespacedPod({
      name,
      namespace: 'default',
      body: [{ op: 'remove', path: '/spec/schedulingGates' }],
    });
    const running = await waitPodPhase('worker-a', name, 'Running');
    expect(running.spec?.nodeName).toMatch(/^a100-/);
  });
});
