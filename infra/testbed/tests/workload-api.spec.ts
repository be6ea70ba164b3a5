// The upstream Workload/PodGroup API (scheduling.k8s.io/v1alpha2, Kubernetes 1.36 alpha) is on in
// every testbed cluster by default, with the scheduler's GangScheduling plugin: a PodGroup with a
// gang policy binds all its pods or none. `workloadAPI: false` starts a cluster without it.
import { Testbed, TestbedCluster, kubeJSON, kubeRequest, startTestbed } from '../src';

const SETUP_TIMEOUT = 45 * 60_000;
const NS = 'default';
const PG = '/apis/scheduling.k8s.io/v1alpha2';

let tb: Testbed;
let on: TestbedCluster;
let off: TestbedCluster;

interface PodView {
  metadata: { name: string };
  spec: { nodeName?: string; schedulingGroup?: { podGroupName?: string } };
  status?: {
    phase?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // small-0 holds 2 pods; big-0 holds 10. Both clusters have the same nodes.
  const pools = [
    { name: 'small', count: 1, resources: { cpu: 8, memory: '16Gi', pods: 2 } },
    { name: 'big', count: 1, resources: { cpu: 8, memory: '16Gi', pods: 10 } },
  ];
  tb = await startTestbed(
    {
      clusters: [
        { name: 'gang-on', role: 'worker', nodePools: pools },
        { name: 'gang-off', role: 'worker', nodePools: pools, workloadAPI: false },
      ],
    },
    { log: () => undefined },
  );
  on = tb.cluster('gang-on');
  off = tb.cluster('gang-off');
}, SETUP_TIMEOUT);

afterAll(async () => {
  await tb?.stop();
});

function pod(name: string, node: string, group?: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { test: name.replace(/-\d+$/, '') } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      ...(group ? { schedulingGroup: { podGroupName: group } } : {}),
      containers: [
        { name: 'main', image: 'x', resources: { requests: { cpu: '100m', memory: '64Mi' } } },
      ],
    },
  };
}

function podGroup(name: string, minCount: number): object {
  return {
    apiVersion: 'scheduling.k8s.io/v1alpha2',
    kind: 'PodGroup',
    metadata: { name },
    spec: { schedulingPolicy: { gang: { minCount } } },
  };
}

async function podsOf(c: TestbedCluster, test: string): Promise<PodView[]> {
  const list = await kubeJSON<{ items: PodView[] }>(
    c,
    'GET',
    `/api/v1/namespaces/${NS}/pods?labelSelector=test%3D${test}`,
  );
  return list.items;
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function unschedulable(p: PodView): string | undefined {
  const c = p.status?.conditions?.find((x) => x.type === 'PodScheduled');
  return c?.status === 'False' && c.reason === 'Unschedulable' ? (c.message ?? '') : undefined;
}

it('serves podgroups in scheduling.k8s.io/v1alpha2 only where the Workload API is on', async () => {
  const list = await kubeJSON<{ resources: Array<{ name: string; verbs: string[] }> }>(
    on,
    'GET',
    PG,
  );
  const pg = list.resources.find((r) => r.name === 'podgroups');
  expect(pg?.verbs).toEqual(expect.arrayContaining(['create', 'get', 'list', 'watch', 'delete']));
  expect((await kubeRequest(off, 'GET', PG)).status).toBe(404);
});

it('binds none of a gang whose minCount pods cannot all fit, and all of one that fits', async () => {
  await kubeJSON(on, 'POST', `${PG}/namespaces/${NS}/podgroups`, podGroup('too-big', 3));
  await kubeJSON(on, 'POST', `${PG}/namespaces/${NS}/podgroups`, podGroup('fits', 3));
  for (let i = 0; i < 3; i++) {
    // small-0 has 2 pod slots: two of these three could bind one by one, the gang lets none.
    await kubeJSON(
      on,
      'POST',
      `/api/v1/namespaces/${NS}/pods`,
      pod(`too-big-${i}`, 'small-0', 'too-big'),
    );
    await kubeJSON(on, 'POST', `/api/v1/namespaces/${NS}/pods`, pod(`fits-${i}`, 'big-0', 'fits'));
  }

  const running = await waitFor('the fitting gang bound and Running', async () => {
    const pods = await podsOf(on, 'fits');
    return pods.length === 3 && pods.every((p) => p.status?.phase === 'Running') && pods;
  });
  expect(running.map((p) => p.spec.nodeName)).toEqual(['big-0', 'big-0', 'big-0']);
  expect(running.map((p) => p.spec.schedulingGroup?.podGroupName)).toEqual([
    'fits',
    'fits',
    'fits',
  ]);

  // The scheduler has judged the other gang (a pod marked Unschedulable) and for several more
  // seconds, sampled every 250 ms, none of its pods is ever bound.
  const started = Date.now();
  let judged: string | undefined;
  while (Date.now() - started < 8_000 || judged === undefined) {
    const pods = await podsOf(on, 'too-big');
    expect(pods).toHaveLength(3);
    expect(pods.filter((p) => p.spec.nodeName).map((p) => p.metadata.name)).toEqual([]);
    judged ??= pods.map(unschedulable).find((m) => m !== undefined);
    if (Date.now() - started > 60_000) throw new Error('the scheduler never judged the gang');
    await sleep(250);
  }
  expect(judged).toMatch(/nodes are available|minCount/);
  const group = await kubeJSON<{
    status?: { conditions?: Array<{ type: string; status: string; reason: string }> };
  }>(on, 'GET', `${PG}/namespaces/${NS}/podgroups/too-big`);
  expect(group.status?.conditions?.find((c) => c.type === 'PodGroupScheduled')).toMatchObject({
    status: 'False',
    reason: 'Unschedulable',
  });
});

it('keeps a PodGroup (protection finalizer) until its pods are gone, then removes it', async () => {
  const path = `${PG}/namespaces/${NS}/podgroups/fits`;
  const before = await kubeJSON<{ metadata: { finalizers?: string[] } }>(on, 'GET', path);
  expect(before.metadata.finalizers?.length).toBeGreaterThan(0);
  await kubeJSON(on, 'DELETE', path);
  // The controller manager's PodGroup protection holds it while its pods exist...
  expect((await kubeRequest(on, 'GET', path)).status).toBe(200);
  for (const p of await podsOf(on, 'fits')) {
    await kubeJSON(
      on,
      'DELETE',
      `/api/v1/namespaces/${NS}/pods/${p.metadata.name}`,
      undefined,
      [404],
    );
  }
  // ...and lets it go once they are gone.
  await waitFor(
    'the PodGroup gone',
    async () => (await kubeRequest(on, 'GET', path)).status === 404,
  );
});

it('without the Workload API the same three pods bind one by one: two of them', async () => {
  for (let i = 0; i < 3; i++) {
    // spec.schedulingGroup is a field of a disabled gate here: the API server drops it.
    await kubeJSON(
      off,
      'POST',
      `/api/v1/namespaces/${NS}/pods`,
      pod(`too-big-${i}`, 'small-0', 'too-big'),
    );
  }
  const pods = await waitFor('two pods bound, one Unschedulable', async () => {
    const list = await podsOf(off, 'too-big');
    const bound = list.filter((p) => p.spec.nodeName === 'small-0').length;
    return bound === 2 && list.some((p) => unschedulable(p) !== undefined) && list;
  });
  expect(pods.every((p) => p.spec.schedulingGroup === undefined)).toBe(true);
  expect(pods.map(unschedulable).find((m) => m !== undefined)).toMatch(/Too many pods/);
});
