// Pure tests of the topology format and the fake nodes generated from it (no clusters started).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEMO_TOPOLOGY,
  DRA_DRIVER,
  KWOK_NODE_ANNOTATION,
  LABELS,
  buildDeviceClasses,
  buildNodes,
  buildResourceSlices,
  cleanupStaleRuns,
  devicesPerNode,
  effectiveGates,
  loadTopology,
  normalizeTopology,
  parseTopology,
} from '../src';

describe('topology', () => {
  it('loads the demo: 1 management + 3 workers of 4, 8 and 16 nodes', () => {
    const t = loadTopology(DEMO_TOPOLOGY);
    expect(t.clusters.map((c) => [c.name, c.role])).toEqual([
      ['mgmt', 'management'],
      ['worker-a', 'worker'],
      ['worker-b', 'worker'],
      ['worker-c', 'worker'],
    ]);
    expect(t.clusters.slice(1).map((c) => buildNodes(c).length)).toEqual([4, 8, 16]);
  });

  it('assigns racks and blocks from nodesPerRack and racksPerBlock', () => {
    const t = parseTopology(`
clusters:
  - name: w
    nodePools:
      - name: gpu
        count: 6
        zone: z1
        nodesPerRack: 2
        racksPerBlock: 2
        resources: { cpu: 8, memory: 64Gi, nvidia.com/gpu: 4 }
        taints: [{ key: dedicated, value: gpu, effect: NoSchedule }]
`);
    expect(t.clusters[0].role).toBe('management'); // first cluster defaults to management
    const nodes = buildNodes(t.clusters[0]);
    expect(nodes.map((n) => n.metadata.name)).toEqual([
      'gpu-0',
      'gpu-1',
      'gpu-2',
      'gpu-3',
      'gpu-4',
      'gpu-5',
    ]);
    expect(nodes.map((n) => n.metadata.labels[LABELS.rack])).toEqual([
      'w-gpu-b0-r0',
      'w-gpu-b0-r0',
      'w-gpu-b0-r1',
      'w-gpu-b0-r1',
      'w-gpu-b1-r2',
      'w-gpu-b1-r2',
    ]);
    const n = nodes[0];
    expect(n.metadata.labels[LABELS.zone]).toBe('z1');
    expect(n.metadata.labels[LABELS.hostname]).toBe('gpu-0');
    expect(n.metadata.annotations[KWOK_NODE_ANNOTATION]).toBe('fake');
    expect(n.status.allocatable).toEqual({
      cpu: '8',
      memory: '64Gi',
      'nvidia.com/gpu': '4',
      pods: '110',
    });
    expect(n.status.capacity).toEqual(n.status.allocatable);
    expect(n.spec.taints).toEqual([{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]);
  });

  it('rejects invalid documents with a useful message', () => {
    expect(() => parseTopology('clusters: []')).toThrow(/non-empty/);
    expect(() => parseTopology('clusters: [{ name: Bad_Name }]')).toThrow(/DNS label/);
    expect(() => parseTopology('clusters: [{ name: a }, { name: a }]')).toThrow(
      /duplicate cluster/,
    );
    expect(() =>
      parseTopology(
        'clusters: [{ name: a, nodePools: [{ name: p, count: 0, resources: { cpu: 1, memory: 1Gi } }] }]',
      ),
    ).toThrow(/count must be a positive integer/);
    expect(() =>
      parseTopology(
        'clusters: [{ name: a, nodePools: [{ name: p, count: 1, resources: { cpu: 1 } }] }]',
      ),
    ).toThrow(/cpu and memory/);
  });
});

describe('devices', () => {
  const pool = (devices: string) =>
    parseTopology(`
clusters:
  - name: w
    nodePools:
      - name: gpu
        count: 4
        resources: { cpu: 8, memory: 64Gi }
        devices: ${devices}
`).clusters[0];

  it('parses a devices block with defaults and typed attributes', () => {
    const c = pool(
      '{ count: 2, attributes: { model: H100, cores: 132, nvlink: true, driverVersion: { version: 1.2.3 } }, capacity: { memory: 80Gi, slots: 4 } }',
    );
    expect(c.nodePools[0].devices).toEqual({
      driver: DRA_DRIVER,
      count: 2,
      namePrefix: 'gpu',
      attributes: {
        model: { string: 'H100' },
        cores: { int: 132 },
        nvlink: { bool: true },
        driverVersion: { version: '1.2.3' },
      },
      capacity: { memory: '80Gi', slots: '4' },
      interconnect: {},
      partitions: undefined,
    });
    // Normalizing again (startTestbed does, for TopologySpec objects) changes nothing.
    expect(normalizeTopology({ clusters: [c] }).clusters[0]).toEqual(c);
    expect(effectiveGates(c).featureGates.DRAPartitionableDevices).toBeUndefined();
  });

  it('publishes one DeviceClass per driver and one ResourceSlice per node', () => {
    const c = pool(
      '{ count: 2, attributes: { model: H100 }, capacity: { memory: 80Gi }, interconnect: { nodesPerDomain: 2 } }',
    );
    expect(buildDeviceClasses(c)).toEqual([
      {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'DeviceClass',
        metadata: { name: DRA_DRIVER },
        spec: { selectors: [{ cel: { expression: 'device.driver == "gpu.example.com"' } }] },
      },
    ]);
    const slices = buildResourceSlices(c, new Map([['gpu-2', 'uid-2']]));
    expect(slices.map((s) => s.metadata.name)).toEqual([
      'gpu-0-gpu.example.com',
      'gpu-1-gpu.example.com',
      'gpu-2-gpu.example.com',
      'gpu-3-gpu.example.com',
    ]);
    expect(slices[2]).toEqual({
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceSlice',
      metadata: {
        name: 'gpu-2-gpu.example.com',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Node', name: 'gpu-2', uid: 'uid-2', controller: true },
        ],
      },
      spec: {
        driver: DRA_DRIVER,
        nodeName: 'gpu-2',
        pool: { name: 'gpu-2', generation: 1, resourceSliceCount: 1 },
        devices: [0, 1].map((j) => ({
          name: `gpu-${j}`,
          attributes: {
            model: { string: 'H100' },
            index: { int: j },
            interconnect: { string: 'w-gpu-ic1' }, // nodes 2 and 3 form domain 1
            profile: { string: 'full' },
          },
          capacity: { memory: { value: '80Gi' } },
        })),
      },
    });
    expect(slices[0].metadata.ownerReferences).toBeUndefined();
  });

  it('splits a node into interconnect islands with devicesPerDomain', () => {
    const c = pool('{ count: 4, interconnect: { devicesPerDomain: 2 } }');
    const domains = buildResourceSlices(c)
      .slice(0, 2)
      .map((s) => s.spec.devices!.map((d) => d.attributes.interconnect));
    expect(domains).toEqual([
      [0, 0, 1, 1].map((d) => ({ string: `w-gpu-ic${d}` })),
      [2, 2, 3, 3].map((d) => ({ string: `w-gpu-ic${d}` })),
    ]);
  });

  it('publishes partitionable devices as a counter slice and device slices per node', () => {
    const c = pool(
      '{ count: 8, capacity: { memory: 80Gi }, partitions: [{ name: 1g-10gb, count: 7, capacity: { memory: 10Gi } }, { name: 4g-40gb, count: 2, capacity: { memory: 40Gi }, attributes: { slices: 4 } }] }',
    );
    expect(devicesPerNode(c.nodePools[0].devices!)).toBe(80);
    expect(effectiveGates(c).featureGates.DRAPartitionableDevices).toBe(true);
    const node0 = buildResourceSlices(c).filter((s) => s.spec.nodeName === 'gpu-0');
    // 8 counter sets fit one slice; 80 devices consuming counters need two slices of at most 64.
    expect(
      node0.map((s) => [s.metadata.name, s.spec.sharedCounters?.length, s.spec.devices?.length]),
    ).toEqual([
      ['gpu-0-gpu.example.com-0', 8, undefined],
      ['gpu-0-gpu.example.com-1', undefined, 64],
      ['gpu-0-gpu.example.com-2', undefined, 16],
    ]);
    expect(node0.every((s) => s.spec.pool.resourceSliceCount === 3)).toBe(true);
    expect(node0[0].spec.sharedCounters![7]).toEqual({
      name: 'gpu-7',
      counters: { memory: { value: '80Gi' } },
    });
    const devices = node0.flatMap((s) => s.spec.devices ?? []);
    expect(devices.slice(0, 3).map((d) => d.name)).toEqual([
      'gpu-0',
      'gpu-0-1g-10gb-0',
      'gpu-0-1g-10gb-1',
    ]);
    expect(devices.find((d) => d.name === 'gpu-0')!.consumesCounters).toEqual([
      { counterSet: 'gpu-0', counters: { memory: { value: '80Gi' } } },
    ]);
    expect(devices.find((d) => d.name === 'gpu-3-4g-40gb-1')).toEqual({
      name: 'gpu-3-4g-40gb-1',
      attributes: {
        slices: { int: 4 },
        index: { int: 3 },
        interconnect: { string: 'w-gpu-ic0' },
        profile: { string: '4g-40gb' },
      },
      capacity: { memory: { value: '40Gi' } },
      consumesCounters: [{ counterSet: 'gpu-3', counters: { memory: { value: '40Gi' } } }],
    });
  });

  it('gives the demo GPU pools devices matching their extended resources', () => {
    const t = loadTopology(DEMO_TOPOLOGY);
    const summary = t.clusters.flatMap((c) =>
      c.nodePools.map((p) => [
        `${c.name}/${p.name}`,
        p.resources['nvidia.com/gpu'],
        p.devices?.count,
        p.devices?.attributes?.model,
        p.devices?.capacity?.memory,
      ]),
    );
    expect(summary).toEqual([
      ['mgmt/system', undefined, undefined, undefined, undefined],
      ['worker-a/a100', 8, 8, { string: 'A100' }, '80Gi'],
      ['worker-b/h100', 8, 8, { string: 'H100' }, '80Gi'],
      ['worker-c/l40s', 4, 4, { string: 'L40S' }, '48Gi'],
      ['worker-c/cpu', undefined, undefined, undefined, undefined],
    ]);
    expect(t.clusters[2].nodePools[0].devices?.interconnect).toMatchObject({ nodesPerDomain: 2 });
    expect(t.clusters[3].nodePools[0].devices?.partitions?.map((p) => p.name)).toEqual([
      '1g-12gb',
      '2g-24gb',
    ]);
  });

  it.each([
    ['{ count: 0 }', /devices\.count must be a positive integer/],
    [
      '{ count: 1, driver: Bad_Driver }',
      /devices\.driver "Bad_Driver" must be a lower-case DNS subdomain/,
    ],
    ['{ count: 1, colour: red }', /devices\.colour is not a field/],
    [
      '{ count: 1, attributes: { 1model: x } }',
      /devices\.attributes\.1model: "1model" is not a DRA name/,
    ],
    [
      '{ count: 1, attributes: { index: 3 } }',
      /devices\.attributes\.index is set by the testbed itself/,
    ],
    ['{ count: 1, attributes: { clock: 1.5 } }', /devices\.attributes\.clock must be an integer/],
    [
      '{ count: 1, attributes: { v: { version: 1.2 } } }',
      /devices\.attributes\.v\.version must be a string such as 1\.2\.3/,
    ],
    [
      '{ count: 1, attributes: { v: { version: "1.2" } } }',
      /devices\.attributes\.v\.version "1\.2" is not a semantic version/,
    ],
    [
      '{ count: 1, attributes: { v: [1] } }',
      /devices\.attributes\.v must be a string, integer, boolean or \{ version/,
    ],
    ['{ count: 1, capacity: { memory: lots } }', /devices\.capacity\.memory must be a quantity/],
    [
      '{ count: 1, interconnect: { nodesPerDomain: 2, devicesPerDomain: 2 } }',
      /devices\.interconnect: set nodesPerDomain or devicesPerDomain, not both/,
    ],
    ['{ count: 1, partitions: [] }', /devices\.partitions must be a non-empty list/],
    [
      '{ count: 1, capacity: { memory: 80Gi }, partitions: [{ name: a, count: 1, capacity: { memory: 1Gi }, size: 2 }] }',
      /devices\.partitions\[0\]\.size is not a field/,
    ],
    [
      '{ count: 1, partitions: [{ name: a, count: 1, capacity: { memory: 1Gi } }] }',
      /devices\.partitions needs the device's capacity/,
    ],
    [
      '{ count: 1, capacity: { mem_GB: 80 }, partitions: [{ name: a, count: 1, capacity: { mem_GB: 8 } }] }',
      /devices\.capacity\.mem_GB: capacity names of a partitionable device must be DNS labels/,
    ],
    [
      '{ count: 1, capacity: { memory: 80Gi }, partitions: [{ name: 1g.10gb, count: 1, capacity: { memory: 10Gi } }] }',
      /devices\.partitions\[0\]\.name "1g\.10gb" must be a DNS label/,
    ],
    [
      '{ count: 1, capacity: { memory: 80Gi }, partitions: [{ name: full, count: 1, capacity: { memory: 10Gi } }] }',
      /must be a DNS label other than "full"/,
    ],
    [
      '{ count: 1, capacity: { memory: 80Gi }, partitions: [{ name: a, count: 1, capacity: { cores: 2 } }] }',
      /devices\.partitions\[0\]\.capacity\.cores is not a capacity \(counter\) of the device/,
    ],
    [
      '{ count: 1, capacity: { memory: 80Gi }, partitions: [{ name: a, count: 1 }] }',
      /devices\.partitions\[0\]\.capacity must name what the partition consumes/,
    ],
  ])('rejects devices %s', (devices, message) => {
    expect(() => pool(devices)).toThrow(message);
    expect(() => pool(devices)).toThrow(/clusters\[0\]\.nodePools\[0\]\.devices/);
  });
});

describe('cleanupStaleRuns', () => {
  it('removes runs whose owner died and keeps runs of live owners', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'testbed-stale-'));
    const mk = (name: string, ownerPid: number, detached: boolean) => {
      const runDir = path.join(base, name);
      fs.mkdirSync(runDir);
      fs.writeFileSync(
        path.join(runDir, 'state.json'),
        JSON.stringify({
          version: 1,
          runDir,
          ownerPid,
          detached,
          createdAt: '',
          kubeconfigPath: '',
          clusters: [],
        }),
      );
      return runDir;
    };
    const dead = mk('run-dead', 2 ** 22 + 12345, false); // above pid_max: never a live process
    const live = mk('run-live', process.pid, false);
    const detached = mk('run-detached', 2 ** 22 + 12346, true); // owner gone, no cluster alive -> stale
    try {
      const removed = await cleanupStaleRuns(base);
      expect(removed.sort()).toEqual([dead, detached].sort());
      expect(fs.existsSync(live)).toBe(true);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
