// Simulated DRA devices (resource.k8s.io/v1) allocated by the real kube-scheduler: the testbed
// publishes a DeviceClass per driver and ResourceSlices per node; claims made from templates get
// devices on the pod's node, selectors, counts, matchAttribute constraints and shared counters
// (partitionable devices) are honoured. One cluster for the file.
import {
  DRA_DRIVER,
  RESOURCE_API,
  Testbed,
  TestbedCluster,
  kubeJSON,
  kubeRequest,
  startTestbed,
} from '../src';
import type { DeviceClassObject, ResourceSliceObject } from '../src';

const SETUP_TIMEOUT = 45 * 60_000;
const DEADLINE_MS = 60_000;
const NS = 'default';
const ATTR = (name: string) => `device.attributes["${DRA_DRIVER}"].${name}`;

let tb: Testbed;
let c: TestbedCluster;

interface ClaimView {
  metadata: { name: string };
  status?: {
    allocation?: { devices?: { results?: { driver: string; pool: string; device: string }[] } };
    reservedFor?: { name: string }[];
  };
}

interface PodView {
  metadata: { name: string };
  spec: { nodeName?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    resourceClaimStatuses?: { name: string; resourceClaimName?: string }[];
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a value; fails with the last observed object on timeout. */
async function eventually<T>(
  what: string,
  fn: () => Promise<{ done?: T; seen: unknown }>,
): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  let seen: unknown = 'nothing observed yet';
  for (;;) {
    try {
      const r = await fn();
      if (r.done !== undefined) return r.done;
      seen = r.seen;
    } catch (e) {
      seen = (e as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last observed: ${JSON.stringify(seen)}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  const resources = { cpu: 16, memory: '64Gi' };
  tb = await startTestbed(
    {
      clusters: [
        {
          name: 'dra',
          role: 'worker',
          nodePools: [
            {
              // Two NVLink islands of two GPUs per node.
              name: 'h100',
              count: 2,
              resources,
              devices: {
                count: 4,
                attributes: { model: { string: 'H100' }, driverVersion: { version: '1.2.3' } },
                capacity: { memory: '80Gi' },
                interconnect: { devicesPerDomain: 2 },
              },
            },
            {
              name: 'l40s',
              count: 1,
              resources,
              devices: {
                count: 4,
                attributes: { model: { string: 'L40S' } },
                capacity: { memory: '48Gi' },
              },
            },
            {
              // One 80Gi A100: the whole device, 7 x 10Gi and 2 x 40Gi partitions on one counter.
              name: 'a100',
              count: 1,
              resources,
              devices: {
                driver: DRA_DRIVER,
                count: 1,
                attributes: { model: { string: 'A100' } },
                capacity: { memory: '80Gi' },
                partitions: [
                  { name: '1g-10gb', count: 7, capacity: { memory: '10Gi' } },
                  { name: '4g-40gb', count: 2, capacity: { memory: '40Gi' } },
                ],
              },
            },
          ],
        },
      ],
    },
    { log: () => undefined },
  );
  c = tb.cluster('dra');
}, SETUP_TIMEOUT);

afterAll(async () => {
  await tb?.stop();
});

/** A ResourceClaimTemplate asking for `count` devices of the driver's class matching `cel`. */
async function template(
  name: string,
  count: number,
  cel: string,
  constraints?: object[],
): Promise<void> {
  await kubeJSON(c, 'POST', `${RESOURCE_API}/namespaces/${NS}/resourceclaimtemplates`, {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
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
                selectors: [{ cel: { expression: cel } }],
              },
            },
          ],
          ...(constraints ? { constraints } : {}),
        },
      },
    },
  });
}

/** A pod claiming one claim from `tmpl`, pinned to `node` by required node affinity on metadata.name. */
async function claimingPod(name: string, tmpl: string, node: string): Promise<void> {
  await kubeJSON(c, 'POST', `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] },
            ],
          },
        },
      },
      resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: tmpl }],
      containers: [
        {
          name: 'main',
          image: 'registry.invalid/trainer:1',
          resources: { claims: [{ name: 'gpu' }] },
        },
      ],
    },
  });
}

const getPod = (name: string) =>
  kubeJSON<PodView>(c, 'GET', `/api/v1/namespaces/${NS}/pods/${name}`);

/** Waits for the pod to run and returns its allocated claim. */
async function runningWithClaim(name: string): Promise<{ pod: PodView; claim: ClaimView }> {
  return eventually(`pod ${name} Running with an allocated claim`, async () => {
    const pod = await getPod(name);
    const claimName = pod.status?.resourceClaimStatuses?.[0]?.resourceClaimName;
    const claim = claimName
      ? await kubeJSON<ClaimView>(
          c,
          'GET',
          `${RESOURCE_API}/namespaces/${NS}/resourceclaims/${claimName}`,
        )
      : undefined;
    const allocated = claim?.status?.allocation?.devices?.results?.length;
    const done = pod.status?.phase === 'Running' && allocated ? { pod, claim: claim! } : undefined;
    return { done, seen: { pod: pod.status, node: pod.spec.nodeName, claim: claim?.status } };
  });
}

/** Waits until the scheduler has judged the pod Unschedulable; returns the condition's message. */
async function unschedulable(name: string): Promise<string> {
  return eventually(`pod ${name} PodScheduled=False/Unschedulable`, async () => {
    const pod = await getPod(name);
    const cond = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
    const done =
      !pod.spec.nodeName && cond?.status === 'False' && cond.reason === 'Unschedulable'
        ? (cond.message ?? '')
        : undefined;
    return { done, seen: { node: pod.spec.nodeName, status: pod.status } };
  });
}

/** device name -> its attributes, from the published slices of one node. */
async function nodeDevices(
  node: string,
): Promise<Map<string, NonNullable<ResourceSliceObject['spec']['devices']>[number]>> {
  const list = await kubeJSON<{ items: ResourceSliceObject[] }>(
    c,
    'GET',
    `${RESOURCE_API}/resourceslices?fieldSelector=spec.nodeName%3D${node}`,
  );
  return new Map(list.items.flatMap((s) => s.spec.devices ?? []).map((d) => [d.name, d]));
}

it('publishes a DeviceClass per driver and the ResourceSlices of every node', async () => {
  const dc = await kubeJSON<DeviceClassObject>(
    c,
    'GET',
    `${RESOURCE_API}/deviceclasses/${DRA_DRIVER}`,
  );
  expect(dc.spec.selectors).toEqual([{ cel: { expression: `device.driver == "${DRA_DRIVER}"` } }]);

  const list = await kubeJSON<{ items: ResourceSliceObject[] }>(
    c,
    'GET',
    `${RESOURCE_API}/resourceslices`,
  );
  expect(list.items.map((s) => s.metadata.name).sort()).toEqual([...c.resourceSlices].sort());
  expect(c.resourceSlices).toEqual([
    `h100-0-${DRA_DRIVER}`,
    `h100-1-${DRA_DRIVER}`,
    `l40s-0-${DRA_DRIVER}`,
    `a100-0-${DRA_DRIVER}-0`,
    `a100-0-${DRA_DRIVER}-1`,
  ]);
  const h = list.items.find((s) => s.metadata.name === `h100-1-${DRA_DRIVER}`)!;
  expect(h.spec).toMatchObject({
    driver: DRA_DRIVER,
    nodeName: 'h100-1',
    pool: { name: 'h100-1', generation: 1, resourceSliceCount: 1 },
  });
  expect(h.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name: 'h100-1' });
  expect(h.spec.devices?.map((d) => d.name)).toEqual(['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3']);
  expect(h.spec.devices?.[2]).toEqual({
    name: 'gpu-2',
    attributes: {
      model: { string: 'H100' },
      driverVersion: { version: '1.2.3' },
      index: { int: 2 },
      interconnect: { string: 'dra-h100-ic3' },
      profile: { string: 'full' },
    },
    capacity: { memory: { value: '80Gi' } },
  });

  const counters = list.items.find((s) => s.metadata.name === `a100-0-${DRA_DRIVER}-0`)!;
  expect(counters.spec.pool.resourceSliceCount).toBe(2);
  expect(counters.spec.sharedCounters).toEqual([
    { name: 'gpu-0', counters: { memory: { value: '80Gi' } } },
  ]);
  const parts = list.items.find((s) => s.metadata.name === `a100-0-${DRA_DRIVER}-1`)!;
  expect(parts.spec.devices).toHaveLength(1 + 7 + 2);
  expect(parts.spec.devices?.find((d) => d.name === 'gpu-0-4g-40gb-1')).toMatchObject({
    attributes: { profile: { string: '4g-40gb' }, index: { int: 0 } },
    capacity: { memory: { value: '40Gi' } },
    consumesCounters: [{ counterSet: 'gpu-0', counters: { memory: { value: '40Gi' } } }],
  });
});

it('allocates two H100 devices on the pinned node and runs the pod', async () => {
  await template('h100x2', 2, `${ATTR('model')} == "H100"`);
  await claimingPod('two-h100', 'h100x2', 'h100-0');
  const { pod, claim } = await runningWithClaim('two-h100');
  expect(pod.spec.nodeName).toBe('h100-0');
  const results = claim.status!.allocation!.devices!.results!;
  expect(results).toHaveLength(2);
  for (const r of results) {
    expect(r).toMatchObject({ driver: DRA_DRIVER, pool: 'h100-0' });
    expect(['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3']).toContain(r.device);
  }
  expect(new Set(results.map((r) => r.device)).size).toBe(2);
  expect(claim.status?.reservedFor?.map((x) => x.name)).toEqual(['two-h100']);
});

it('keeps a pod Pending where no device matches its selector (an L40S node for H100s)', async () => {
  await claimingPod('h100-on-l40s', 'h100x2', 'l40s-0');
  expect(await unschedulable('h100-on-l40s')).toMatch(/1 cannot allocate all claims/);
});

it('keeps a pod Pending that asks for more devices than its node has', async () => {
  await template('h100x5', 5, `${ATTR('model')} == "H100"`);
  await claimingPod('five-h100', 'h100x5', 'h100-1');
  expect(await unschedulable('five-h100')).toMatch(/1 cannot allocate all claims/);
});

it('honours matchAttribute on the interconnect domain', async () => {
  const constraint = [{ matchAttribute: `${DRA_DRIVER}/interconnect` }];
  // One device taken first, so one island of h100-1 has a single free device left.
  await template('h100x1', 1, `${ATTR('model')} == "H100"`);
  await claimingPod('one-h100', 'h100x1', 'h100-1');
  const first = (await runningWithClaim('one-h100')).claim.status!.allocation!.devices!.results!;
  const devices = await nodeDevices('h100-1');
  const domain = (d: string) => {
    const a = devices.get(d)?.attributes.interconnect;
    return a && 'string' in a ? a.string : undefined;
  };
  const taken = first[0].device;

  // Three free devices, but no island has three.
  await template('island3', 3, `${ATTR('model')} == "H100"`, constraint);
  await claimingPod('island-of-three', 'island3', 'h100-1');
  expect(await unschedulable('island-of-three')).toMatch(/1 cannot allocate all claims/);

  // Two in one island fit only in the island the first pod did not touch.
  await template('island2', 2, `${ATTR('model')} == "H100"`, constraint);
  await claimingPod('island-of-two', 'island2', 'h100-1');
  const pair = (await runningWithClaim('island-of-two')).claim.status!.allocation!.devices!
    .results!;
  const domains = pair.map((r) => domain(r.device));
  expect(domains[0]).toBeDefined();
  expect(domains[1]).toBe(domains[0]);
  expect(domains[0]).not.toBe(domain(taken));
});

it('never over-allocates a partitionable device: partitions share its counter', async () => {
  await template('half', 2, `${ATTR('profile')} == "4g-40gb"`);
  await template('tenth', 1, `${ATTR('profile')} == "1g-10gb"`);
  await template('whole', 1, `${ATTR('model')} == "A100" && ${ATTR('profile')} == "full"`);

  // Two 40Gi partitions use up the 80Gi counter...
  await claimingPod('two-halves', 'half', 'a100-0');
  const halves = (await runningWithClaim('two-halves')).claim.status!.allocation!.devices!.results!;
  expect(halves.map((r) => r.device).sort()).toEqual(['gpu-0-4g-40gb-0', 'gpu-0-4g-40gb-1']);

  // ...so neither a 10Gi partition (seven are unallocated) nor the whole device fits.
  await claimingPod('a-tenth', 'tenth', 'a100-0');
  await claimingPod('the-whole', 'whole', 'a100-0');
  expect(await unschedulable('a-tenth')).toMatch(/1 cannot allocate all claims/);
  expect(await unschedulable('the-whole')).toMatch(/1 cannot allocate all claims/);

  // Once the halves are released, the whole device and the tenth compete for the counter: whichever
  // binds first, the other stays Pending.
  await kubeJSON(c, 'DELETE', `/api/v1/namespaces/${NS}/pods/two-halves`, {
    gracePeriodSeconds: 0,
  });
  const winner = await eventually('one of a-tenth / the-whole bound', async () => {
    const pods = await Promise.all(['a-tenth', 'the-whole'].map(getPod));
    const bound = pods.filter((p) => p.spec.nodeName === 'a100-0');
    return { done: bound.length > 0 ? bound : undefined, seen: pods.map((p) => p.status) };
  });
  expect(winner).toHaveLength(1);
  const { claim } = await runningWithClaim(winner[0].metadata.name);
  const loser = winner[0].metadata.name === 'a-tenth' ? 'the-whole' : 'a-tenth';
  expect(claim.status!.allocation!.devices!.results![0].device).toMatch(
    loser === 'a-tenth' ? /^gpu-0$/ : /^gpu-0-1g-10gb-\d$/,
  );
  // The loser is judged again and stays unbound for a while.
  const until = Date.now() + 5_000;
  while (Date.now() < until) {
    expect((await getPod(loser)).spec.nodeName).toBeUndefined();
    await sleep(250);
  }
  expect((await kubeRequest(c, 'GET', `/api/v1/namespaces/${NS}/pods/${loser}`)).status).toBe(200);
});
