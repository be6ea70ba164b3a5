// DRA (resource.k8s.io/v1) through the agent, against a real testbed cluster: the test publishes a
// DeviceClass and ResourceSlices itself (as a DRA driver would), the agent reports the devices with
// qualified attributes and their allocation, and a dispatch with a claim template gets the gang's
// own ResourceClaimTemplate, whose claims the worker's scheduler allocates; a cancel removes it.
import { DispatchOutcome, MemberPhase, type Device, type Dispatch } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '../../infra/testbed/src';
import { AgentProcess } from '../support/agent-process';
import { dispatch, workerTopology } from './support/fixtures';
import { eventually, Kube, type PodView } from './support/kube';
import { TestHub } from './support/test-hub';

const SETUP_TIMEOUT = 45 * 60_000;
const NS = 'ml';
const DRIVER = 'gpu.example.com';
const DRA = '/apis/resource.k8s.io/v1';
const ACCEPTED = DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED;
const REJECTED = DispatchOutcome.DISPATCH_OUTCOME_REJECTED;
const BIND_TIMEOUT_MS = 8000;
const CLAIM_SPEC = {
  devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu', count: 1 } }] },
};

let tb: Testbed;
let cluster: TestbedCluster;
let kube: Kube;
let hub: TestHub;
let agent: AgentProcess;

interface ObjectView {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string }>;
  };
  spec?: Record<string, unknown>;
  status?: { allocation?: { devices?: { results?: Array<{ device: string; pool: string }> } } };
}

/** Two GPUs on `node`, in a pool of the node's name, as a node-local driver publishes them. */
function nodeSlice(node: string) {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: `${node}-${DRIVER}` },
    spec: {
      driver: DRIVER,
      pool: { name: node, generation: 1, resourceSliceCount: 1 },
      nodeName: node,
      devices: [0, 1].map((i) => ({
        name: `gpu-${i}`,
        attributes: {
          model: { string: 'A100' },
          index: { int: i },
          'resource.kubernetes.io/pcieRoot': { string: `pci0000:0${i}` },
        },
        capacity: { memory: { value: '80Gi' } },
      })),
    },
  };
}

function gpuTemplate(node: string, claimTemplate = 'gpu'): string {
  return JSON.stringify({
    metadata: { labels: { app: 'train' } },
    spec: {
      restartPolicy: 'Never',
      nodeSelector: { 'kubernetes.io/hostname': node },
      resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: claimTemplate }],
      containers: [
        {
          name: 'main',
          image: 'registry.example/train:1',
          resources: { requests: { cpu: '1' }, claims: [{ name: 'gpu' }] },
        },
      ],
    },
  });
}

function allocatedOn(node: string): string[] {
  return (hub.nodes.get(node)?.devices ?? []).filter((d) => d.allocated).map((d) => d.name);
}

async function answer(d: Dispatch, n = 1) {
  const list = await hub.waitFor(
    `${n} answer(s) for ${d.gangId}\n${agent.tail()}`,
    () => {
      const a = hub.answersFor(d.gangId, d.fencingToken);
      return a.length >= n ? a : undefined;
    },
    60_000,
  );
  return list[n - 1]!;
}

async function templates(): Promise<ObjectView[]> {
  return (
    await kube.json<{ items: ObjectView[] }>(
      'GET',
      `${DRA}/namespaces/${NS}/resourceclaimtemplates`,
    )
  ).items;
}

function startAgent(): AgentProcess {
  return AgentProcess.start({
    cluster: 'dra',
    hub: hub.address,
    kubeconfig: cluster.kubeconfigPath,
    env: { MUSTER_BIND_TIMEOUT_MS: String(BIND_TIMEOUT_MS) },
  });
}

function gpuGang(node: string, members: number, spec: object = CLAIM_SPEC): Dispatch {
  return dispatch({
    namespace: NS,
    podSets: [
      {
        name: 'w',
        podTemplateJson: gpuTemplate(node),
        members: Array.from({ length: members }, (_, index) => ({ index, nodeName: node })),
        domainLevel: '',
        domainValue: '',
      },
    ],
    resourceClaimTemplates: [{ name: 'gpu', specJson: JSON.stringify(spec) }],
  });
}

beforeAll(async () => {
  tb = await startTestbed(workerTopology('dra', 2), { log: () => undefined });
  cluster = tb.cluster('dra');
  kube = new Kube(cluster);
  await kube.ensureNamespace(NS);
  const deviceClass = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'DeviceClass',
    metadata: { name: 'gpu' },
    spec: { selectors: [{ cel: { expression: `device.driver == "${DRIVER}"` } }] },
  };
  await kube.apply(`${DRA}/deviceclasses`, deviceClass);
  for (const node of ['gpu-0', 'gpu-1']) await kube.apply(`${DRA}/resourceslices`, nodeSlice(node));
  hub = await TestHub.start();
  agent = startAgent();
  await hub.waitFor(`snapshot\n${agent.tail()}`, () => hub.snapshots[0], 60_000);
}, SETUP_TIMEOUT);

afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  kube?.close();
  await tb?.stop();
});

it('reports the devices of every node with qualified attributes, and the DeviceClasses', () => {
  const snap = hub.snapshots[0]!;
  expect(snap.deviceClasses).toEqual([
    { name: 'gpu', selectors: [`device.driver == "${DRIVER}"`] },
  ]);
  const gpu0 = snap.nodes.find((n) => n.name === 'gpu-0')!;
  expect(gpu0.devices.map((d) => [d.driver, d.pool, d.name, d.allocated])).toEqual([
    [DRIVER, 'gpu-0', 'gpu-0', false],
    [DRIVER, 'gpu-0', 'gpu-1', false],
  ]);
  expect(gpu0.devices[1]).toMatchObject<Partial<Device>>({
    attributes: {
      'gpu.example.com/model': { value: { $case: 'stringValue', stringValue: 'A100' } },
      'gpu.example.com/index': { value: { $case: 'intValue', intValue: 1 } },
      'resource.kubernetes.io/pcieRoot': {
        value: { $case: 'stringValue', stringValue: 'pci0000:01' },
      },
    },
    capacity: { 'gpu.example.com/memory': '80Gi' },
  });
  expect(snap.nodes.find((n) => n.name === 'gpu-1')!.devices).toHaveLength(2);
  expect(agent.logs('the worker does not serve DRA; reporting no devices')).toEqual([]);
});

it("flips `allocated` in a delta when the scheduler allocates anyone's claim", async () => {
  await kube.json('POST', `${DRA}/namespaces/${NS}/resourceclaimtemplates`, {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { name: 'plain-gpu' },
    spec: { spec: CLAIM_SPEC },
  });
  const pod = JSON.parse(gpuTemplate('gpu-1', 'plain-gpu')) as { spec: object };
  await kube.createPod(NS, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'plain-gpu-user' },
    spec: pod.spec,
  });
  await eventually('the plain pod running', async () => {
    const p = (await kube.pods(NS)).find((x) => x.metadata.name === 'plain-gpu-user');
    return p?.status?.phase === 'Running';
  });
  await hub.waitFor(`one device of gpu-1 allocated\n${agent.tail()}`, () =>
    allocatedOn('gpu-1').length === 1 ? true : undefined,
  );
  expect(allocatedOn('gpu-0')).toEqual([]);
  // Every delta carries the whole set of DeviceClasses.
  expect(
    hub
      .messages('delta')
      .at(-1)!
      .delta.deviceClasses.map((c) => c.name),
  ).toEqual(['gpu']);

  await kube.deletePod(NS, 'plain-gpu-user');
  await hub.waitFor(
    'the device free again once its claim is gone',
    () => (allocatedOn('gpu-1').length === 0 ? true : undefined),
    90_000,
  );
}, 180_000);

it('rejects a dispatch whose pod template names a claim template it lacks, creating nothing', async () => {
  const d = dispatch({
    namespace: NS,
    podSets: [
      {
        name: 'w',
        podTemplateJson: gpuTemplate('gpu-0', 'tpu'),
        members: [{ index: 0, nodeName: 'gpu-0' }],
        domainLevel: '',
        domainValue: '',
      },
    ],
    resourceClaimTemplates: [{ name: 'gpu', specJson: JSON.stringify(CLAIM_SPEC) }],
  });
  hub.dispatch(d);
  const a = await answer(d);
  expect(a).toMatchObject({ outcome: REJECTED, reason: 'InvalidTemplate' });
  expect(a.message).toContain('resourceClaimTemplateName "tpu" names no resource_claim_templates');
  expect(await kube.gangPods(NS, d.gangId)).toEqual([]);
  expect(
    (await templates()).filter((t) => t.metadata.labels?.['muster.dev/gang-id'] === d.gangId),
  ).toEqual([]);
});

it('a dispatch with a claim template runs on its own copy of it, and a cancel removes the copy', async () => {
  const d = dispatch({
    namespace: NS,
    podSets: [
      {
        name: 'w',
        podTemplateJson: gpuTemplate('gpu-0'),
        members: [
          { index: 0, nodeName: 'gpu-0' },
          { index: 1, nodeName: 'gpu-0' },
        ],
        domainLevel: '',
        domainValue: '',
      },
    ],
    resourceClaimTemplates: [{ name: 'gpu', specJson: JSON.stringify(CLAIM_SPEC) }],
  });
  const name = `m-${d.gangId.replace(/-/g, '').slice(0, 12)}-1-gpu`;
  hub.dispatch(d);
  expect((await answer(d)).outcome).toBe(ACCEPTED);

  const own = (await templates()).find((t) => t.metadata.name === name);
  expect(own?.metadata.labels).toMatchObject({
    'muster.dev/gang-id': d.gangId,
    'muster.dev/job-id': d.jobId,
    'muster.dev/fencing-token': '1',
  });
  expect(own?.metadata.annotations?.['muster.dev/claim-template']).toBe('gpu');
  expect(own?.spec?.spec).toMatchObject(CLAIM_SPEC);

  const pods: PodView[] = await eventually(`gang running\n${agent.tail()}`, async () => {
    const p = await kube.gangPods(NS, d.gangId);
    return p.length === 2 && p.every((x) => x.status?.phase === 'Running') && p;
  });
  for (const p of pods) {
    expect((p.spec as { resourceClaims?: unknown }).resourceClaims).toEqual([
      { name: 'gpu', resourceClaimTemplateName: name },
    ]);
  }
  // Each member got its own claim from the copy, allocated by the worker's scheduler on gpu-0.
  const claims = (
    await kube.json<{ items: ObjectView[] }>('GET', `${DRA}/namespaces/${NS}/resourceclaims`)
  ).items.filter((c) =>
    c.metadata.ownerReferences?.some((o) => pods.some((p) => p.metadata.name === o.name)),
  );
  expect(claims).toHaveLength(2);
  expect(claims.map((c) => c.metadata.labels?.['muster.dev/gang-id'])).toEqual([
    d.gangId,
    d.gangId,
  ]);
  expect(claims.map((c) => c.status?.allocation?.devices?.results?.[0]?.pool).sort()).toEqual([
    'gpu-0',
    'gpu-0',
  ]);
  await hub.waitFor('both GPUs of gpu-0 reported allocated', () =>
    allocatedOn('gpu-0').length === 2 ? true : undefined,
  );

  hub.cancel({ gangId: d.gangId, fencingToken: 1, reason: 'done' });
  await eventually('gang and its template gone', async () => {
    const left = await kube.gangPods(NS, d.gangId);
    return left.length === 0 && !(await templates()).some((t) => t.metadata.name === name);
  });
  await hub.waitFor(
    'the GPUs of gpu-0 free again',
    () => (allocatedOn('gpu-0').length === 0 ? true : undefined),
    90_000,
  );
  expect(agent.lines.filter((l) => l.level === 'error')).toEqual([]);
}, 180_000);

it('a restarted agent still deletes the copy with its gang (the members name it)', async () => {
  const d = gpuGang('gpu-1', 1);
  const name = `m-${d.gangId.replace(/-/g, '').slice(0, 12)}-1-gpu`;
  hub.dispatch(d);
  expect((await answer(d)).outcome).toBe(ACCEPTED);
  await eventually('member running', async () => {
    const p = await kube.gangPods(NS, d.gangId);
    return p.length === 1 && p[0]!.status?.phase === 'Running';
  });
  const hellos = hub.hellos.length;
  await agent.kill();
  agent = startAgent();
  await hub.waitFor(`hello again\n${agent.tail()}`, () => hub.hellos[hellos], 60_000);
  hub.gangList({ gangs: [], generation: 1 });
  await eventually('gang and its template gone after the restart', async () => {
    const left = await kube.gangPods(NS, d.gangId);
    return left.length === 0 && !(await templates()).some((t) => t.metadata.name === name);
  });
}, 120_000);

it('a member whose claim cannot be allocated says so, and goes at the bind timeout', async () => {
  // Three GPUs per member on a node with two.
  const spec = {
    devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu', count: 3 } }] },
  };
  const d = gpuGang('gpu-1', 1, spec);
  hub.dispatch(d);
  expect((await answer(d)).outcome).toBe(ACCEPTED);
  await hub.waitFor(`member ResourceClaimPending\n${agent.tail()}`, () => {
    const m = hub.membersOf(d.gangId, 1)[0];
    return m?.phase === MemberPhase.MEMBER_PHASE_PENDING && m.reason === 'ResourceClaimPending';
  });
  const timeout = await answer(d, 2);
  expect(timeout).toMatchObject({ outcome: REJECTED, reason: 'BindTimeout' });
  expect(timeout.message).toMatch(/worker scheduler: .*claim/);
  const name = `m-${d.gangId.replace(/-/g, '').slice(0, 12)}-1-gpu`;
  await eventually('gang and its template gone', async () => {
    const left = await kube.gangPods(NS, d.gangId);
    return left.length === 0 && !(await templates()).some((t) => t.metadata.name === name);
  });
}, 120_000);
