import { placeBatch, placeGang, PlacedDecision, UnplacedDecision } from './place';
import { compileDeviceSelector, Device, DeviceClaim, DeviceClass, NodeDevices } from './devices';
import { ClusterSnapshot, Gang, NodeSnapshot, validateGang } from './model';

const GI = 1024n ** 3n * 1000n;
const CLASS: DeviceClass = {
  name: 'gpu.example.com',
  selectors: ['device.driver == "gpu.example.com"'],
};
const classes = new Map([[CLASS.name, CLASS]]);

function gpus(node: string, n: number, model: string, memoryGi: bigint, island = node): Device[] {
  return Array.from({ length: n }, (_, i) => ({
    driver: 'gpu.example.com',
    pool: node,
    name: `gpu-${i}`,
    attributes: {
      'gpu.example.com/model': model,
      'gpu.example.com/index': BigInt(i),
      'gpu.example.com/interconnect': island,
      'gpu.example.com/driverVersion': { version: '1.2.3' },
    },
    capacity: { 'gpu.example.com/memory': memoryGi * GI },
  }));
}

function node(name: string, devices: Device[], extra: Partial<NodeSnapshot> = {}): NodeSnapshot {
  const pods = { pods: 110_000n, cpu: 64_000n };
  return {
    name,
    labels: { 'kubernetes.io/hostname': name },
    allocatable: pods,
    free: pods,
    devices,
    ...extra,
  };
}

function cluster(name: string, nodes: NodeSnapshot[]): ClusterSnapshot {
  return {
    name,
    topologyLevels: ['kubernetes.io/hostname'],
    nodes,
    deviceClasses: [CLASS],
  };
}

function claim(count: number, selectors: string[] = [], matchAttribute?: string): DeviceClaim {
  return {
    name: 'gpus',
    requests: [{ name: 'gpu', exactly: { deviceClassName: CLASS.name, count, selectors } }],
    ...(matchAttribute ? { constraints: [{ matchAttribute }] } : {}),
  };
}

function gang(id: string, members: number, claims: DeviceClaim[]): Gang {
  return {
    id,
    podSets: [{ name: 'workers', count: members, requests: { pods: 1000n, cpu: 1000n }, claims }],
  };
}

const MEM80 = 'device.capacity["gpu.example.com"].memory.compareTo(quantity("80Gi")) >= 0';

describe('DRA selectors', () => {
  it('compiles the selectors DRA users write and refuses broken ones with a reason', () => {
    expect(compileDeviceSelector(MEM80)).toEqual({ ok: true });
    expect(
      compileDeviceSelector(
        'device.attributes["gpu.example.com"].driverVersion.isGreaterThan(semver("1.0.0"))',
      ),
    ).toEqual({ ok: true });
    const broken = compileDeviceSelector('device.driver ==');
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.message).toMatch(/not a valid CEL selector/);
    const notBool = compileDeviceSelector('1 + 2');
    expect(!notBool.ok && notBool.message).toMatch(/bool/);
  });
});

describe('allocating one member on a node', () => {
  it('takes count devices that pass class and request selectors', () => {
    const nd = new NodeDevices(
      [...gpus('n', 2, 'A100', 40n), ...gpus('m', 2, 'H100', 80n)],
      [],
      classes,
    );
    expect(nd.allocate([claim(2, [MEM80])])).toEqual([2, 3]);
    expect(nd.allocate([claim(1, [MEM80])])).toBeUndefined();
    expect(nd.allocate([claim(2)])).toEqual([0, 1]);
  });

  it('keeps a claim inside one value of a matched attribute', () => {
    const devices = [...gpus('n', 3, 'H100', 80n, 'isl-a'), ...gpus('n2', 5, 'H100', 80n, 'isl-b')];
    const nd = new NodeDevices(devices, [], classes);
    const got = nd.allocate([claim(4, [], 'gpu.example.com/interconnect')]);
    expect(got?.map((i) => devices[i]!.attributes!['gpu.example.com/interconnect'])).toEqual([
      'isl-b',
      'isl-b',
      'isl-b',
      'isl-b',
    ]);
    expect(nd.allocate([claim(2, [], 'gpu.example.com/interconnect')])).toHaveLength(2);
    expect(nd.allocate([claim(2, [], 'gpu.example.com/interconnect')])).toBeUndefined();
  });

  it('tries firstAvailable alternatives in order and honours allocationMode All', () => {
    const nd = new NodeDevices(gpus('n', 4, 'L40S', 48n), [], classes);
    const prioritized: DeviceClaim = {
      name: 'c',
      requests: [
        {
          name: 'gpu',
          firstAvailable: [
            { name: 'big', deviceClassName: CLASS.name, selectors: [MEM80] },
            { name: 'two-small', deviceClassName: CLASS.name, count: 2 },
          ],
        },
      ],
    };
    expect(nd.allocate([prioritized])).toEqual([0, 1]);
    const all: DeviceClaim = {
      name: 'all',
      requests: [{ name: 'gpu', exactly: { deviceClassName: CLASS.name, allocationMode: 'All' } }],
    };
    expect(nd.allocate([all])).toBeUndefined(); // two are taken
    nd.free([0, 1]);
    expect(nd.allocate([all])).toEqual([0, 1, 2, 3]);
  });

  it('never lets partitions overdraw their shared counter', () => {
    const part = (name: string, memGi: bigint): Device => ({
      driver: 'gpu.example.com',
      pool: 'n',
      name,
      attributes: { 'gpu.example.com/profile': name.split('-')[0]! },
      consumesCounters: [{ counterSet: 'gpu-0', counters: { memory: memGi * GI } }],
    });
    const devices = [part('whole-0', 80n), part('4g-0', 40n), part('4g-1', 40n), part('1g-0', 10n)];
    const nd = new NodeDevices(
      devices,
      [{ driver: 'gpu.example.com', pool: 'n', name: 'gpu-0', counters: { memory: 80n * GI } }],
      classes,
    );
    const half: DeviceClaim = claim(1, ['device.attributes["gpu.example.com"].profile == "4g"']);
    expect(nd.allocate([half])).toEqual([1]);
    expect(
      nd.allocate([claim(1, ['device.attributes["gpu.example.com"].profile == "whole"'])]),
    ).toBeUndefined();
    expect(nd.allocate([half])).toEqual([2]);
    expect(
      nd.allocate([claim(1, ['device.attributes["gpu.example.com"].profile == "1g"'])]),
    ).toBeUndefined();
  });

  it('counts devices allocated by others as taken', () => {
    const devices = gpus('n', 2, 'H100', 80n).map((d, i) => ({ ...d, allocated: i === 0 }));
    const nd = new NodeDevices(devices, [], classes);
    expect(nd.capacity([claim(1)], 10)).toBe(1);
  });
});

describe('placing gangs by their devices', () => {
  const fleet = [
    cluster(
      'worker-a',
      [0, 1, 2, 3].map((i) => node(`a${i}`, gpus(`a${i}`, 8, 'A100', 40n))),
    ),
    cluster(
      'worker-b',
      [0, 1, 2, 3].map((i) => node(`b${i}`, gpus(`b${i}`, 8, 'H100', 80n, `b-isl${i % 2}`))),
    ),
    cluster(
      'worker-c',
      [0, 1].map((i) => node(`c${i}`, gpus(`c${i}`, 6, 'H100', 80n))),
    ),
  ];

  it('sends 4 members x 8 devices with memory >= 80Gi and one interconnect to the only cluster that has them', () => {
    const d = placeGang(fleet, gang('g', 4, [claim(8, [MEM80], 'gpu.example.com/interconnect')]));
    expect(d.status).toBe('placed');
    const p = (d as PlacedDecision).placement;
    expect(p.cluster).toBe('worker-b');
    expect(p.devices?.map((x) => x.devices.length)).toEqual([8, 8, 8, 8]);
  });

  it('explains in device terms where nothing fits', () => {
    const d = placeGang(fleet, gang('g', 1, [claim(8, [MEM80])])) as PlacedDecision;
    expect(d.status).toBe('placed');
    const none = placeGang(fleet, gang('big', 1, [claim(10, [MEM80])])) as UnplacedDecision;
    expect(none.status).toBe('unplaced');
    const byCluster = Object.fromEntries(none.explanations.map((e) => [e.cluster, e]));
    expect(byCluster['worker-c']!.code).toBe('NoDeviceFits');
    expect(byCluster['worker-c']!.message).toContain('best node has 6');
    expect(byCluster['worker-a']!.message).toContain('best node has 0');
  });

  it('never gives one device to two gangs of a batch', () => {
    const gangs = Array.from({ length: 6 }, (_, i) => gang(`g${i}`, 1, [claim(3, [MEM80])]));
    const res = placeBatch([fleet[2]!], gangs);
    // worker-c: 2 nodes x 6 devices = 4 members of 3 devices.
    expect(res.placed).toBe(4);
    const seen = new Set<string>();
    for (const d of res.decisions) {
      if (d.status !== 'placed') continue;
      for (const { node: n, devices } of d.placement.devices ?? [])
        for (const dev of devices) {
          expect(seen.has(`${n}/${dev}`)).toBe(false);
          seen.add(`${n}/${dev}`);
        }
    }
  });

  it('refuses malformed claims naming the field', () => {
    const bad = validateGang(gang('g', 1, [{ name: 'c', requests: [{ name: 'r' }] }]));
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.field).toBe('podSets[0].claims[0].requests[0]');
    const sel = validateGang(gang('g', 1, [claim(1, ['device.driver =='])]));
    expect(!sel.ok && sel.error.field).toBe(
      'podSets[0].claims[0].requests[0].exactly.selectors[0]',
    );
  });
});

describe('one device attribute value for the whole gang (matchDeviceAttribute)', () => {
  const NVL = 'gpu.example.com/interconnect';
  // Two multi-node NVLink domains of two nodes each, and a node whose devices are two islands.
  const domains = (busy: string[] = []) =>
    cluster('nvl', [
      ...['n0', 'n1', 'n2', 'n3'].map((n, i) =>
        node(
          n,
          gpus(n, 8, 'H100', 80n, `nvl-${i < 2 ? 'a' : 'b'}`).map((d) =>
            busy.includes(n) && d.name === 'gpu-0' ? { ...d, allocated: true } : d,
          ),
        ),
      ),
      node('mixed', [
        ...gpus('mixed', 4, 'H100', 80n, 'nvl-a'),
        ...gpus('mixed', 4, 'H100', 80n, 'nvl-b').map((d, i) => ({ ...d, name: `gpu-${4 + i}` })),
      ]),
    ]);
  const wide = (id: string, members: number): Gang => ({
    ...gang(id, members, [claim(8, [MEM80])]),
    matchDeviceAttribute: NVL,
  });
  const domainOf = (p: PlacedDecision['placement']) =>
    p.podSets[0]!.nodes.map((n) => (n < 'n2' ? 'nvl-a' : 'nvl-b'));

  it('keeps every member that claims devices in one domain across nodes', () => {
    // nvl-a has one node with a device taken: only nvl-b holds two members of 8.
    const d = placeGang([domains(['n0'])], wide('g', 2));
    expect(d.status).toBe('placed');
    const p = (d as PlacedDecision).placement;
    expect([...p.podSets[0]!.nodes].sort()).toEqual(['n2', 'n3']);
    expect(new Set(domainOf(p)).size).toBe(1);
    // Without the constraint the same gang may straddle the domains.
    const loose = placeBatch([domains(['n2'])], [gang('l', 3, [claim(8, [MEM80])])]);
    expect(loose.placed).toBe(1);
  });

  it('leaves pod sets without claims free of it, and never uses a node of mixed values', () => {
    const launcher = {
      name: 'launcher',
      count: 1,
      requests: { pods: 1000n, cpu: 1000n },
      nodeSelector: { 'kubernetes.io/hostname': 'mixed' },
    };
    const g: Gang = { ...wide('g', 2), podSets: [launcher, ...wide('g', 2).podSets] };
    const d = placeGang([domains()], g) as PlacedDecision;
    expect(d.status).toBe('placed');
    expect(d.placement.podSets.find((ps) => ps.podSet === 'launcher')!.nodes).toEqual(['mixed']);
    expect(d.placement.podSets.find((ps) => ps.podSet === 'workers')!.nodes.includes('mixed')).toBe(
      false,
    );
  });

  it('places a batch of such gangs without sharing a device, each in one domain', () => {
    const res = placeBatch([domains()], [wide('g1', 2), wide('g2', 2), wide('g3', 2)]);
    expect(res.placed).toBe(2);
    const seen = new Set<string>();
    for (const d of res.decisions) {
      if (d.status !== 'placed') continue;
      expect(new Set(domainOf(d.placement)).size).toBe(1);
      for (const { node: n, devices } of d.placement.devices ?? [])
        for (const dev of devices) {
          expect(seen.has(`${n}/${dev}`)).toBe(false);
          seen.add(`${n}/${dev}`);
        }
    }
    const third = res.decisions.find((d) => d.gangId === 'g3') as UnplacedDecision;
    expect(third.status).toBe('unplaced');
    // Two free nodes, but one in each domain: the cluster is tried, and says why it failed.
    const split = placeGang([domains(['n1', 'n3'])], wide('g', 2)) as UnplacedDecision;
    expect(split.status).toBe('unplaced');
    expect(split.explanations[0]!.code).toBe('NoDeviceFits');
    expect(split.explanations[0]!.message).toBe(
      `no single ${NVL} domain has room for every member that claims devices (2 tried)`,
    );
  });

  it('explains a cluster whose nodes share no value, and refuses a bad attribute naming the field', () => {
    const islands = cluster('islands', [
      node('m', [
        ...gpus('m', 8, 'H100', 80n).map((d, i) => ({
          ...d,
          attributes: { ...d.attributes, [NVL]: `isl-${i % 2}` },
        })),
      ]),
    ]);
    const d = placeGang([islands], wide('g', 1)) as UnplacedDecision;
    expect(d.status).toBe('unplaced');
    expect(d.explanations[0]!.message).toBe(`no node's devices all share one value of ${NVL}`);
    const bad = validateGang({ ...wide('g', 1), matchDeviceAttribute: 'interconnect' });
    expect(!bad.ok && bad.error.field).toBe('matchDeviceAttribute');
    expect(!bad.ok && bad.error.message).toMatch(/fully qualified device attribute name/);
    const noClaims = validateGang({
      id: 'g',
      podSets: [{ name: 'w', count: 1, requests: { pods: 1000n } }],
      matchDeviceAttribute: NVL,
    });
    expect(!noClaims.ok && noClaims.error.message).toMatch(/needs a pod set that claims devices/);
  });
});
