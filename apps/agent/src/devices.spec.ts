import {
  allocatedDevices,
  claimHolder,
  deviceClassOf,
  DeviceInventory,
  deviceKey,
  deviceOf,
  qualifiedName,
  sliceRecord,
  slimClaim,
  type ResourceClaimLike,
  type ResourceSliceLike,
} from './devices';
import { LABEL_FENCING_TOKEN, LABEL_GANG_ID } from './constants';

const DRIVER = 'gpu.example.com';

function slice(
  name: string,
  over: {
    node?: string;
    pool?: string;
    generation?: number;
    devices?: string[];
    sharedCounters?: NonNullable<ResourceSliceLike['spec']>['sharedCounters'];
    allNodes?: boolean;
  } = {},
): ResourceSliceLike {
  return {
    metadata: { name },
    spec: {
      driver: DRIVER,
      pool: { name: over.pool ?? over.node ?? 'shared', generation: over.generation ?? 1 },
      ...(over.allNodes ? { allNodes: true } : { nodeName: over.node }),
      devices: (over.devices ?? []).map((d) => ({
        name: d,
        attributes: { model: { string: 'A100' } },
        capacity: { memory: { value: '80Gi' } },
      })),
      ...(over.sharedCounters ? { sharedCounters: over.sharedCounters } : {}),
    },
  };
}

function claim(name: string, devices: Array<[string, string]>): ResourceClaimLike {
  return {
    metadata: { name, namespace: 'ml' },
    status:
      devices.length === 0
        ? {}
        : {
            allocation: {
              devices: {
                results: devices.map(([pool, device]) => ({
                  request: 'gpu',
                  driver: DRIVER,
                  pool,
                  device,
                })),
              },
            },
          },
  };
}

function inventory() {
  const changed: string[] = [];
  const inv = new DeviceInventory((n) => changed.push(n));
  const add = (s: ResourceSliceLike) => inv.upsertSlice(sliceRecord(s)!);
  const flush = () => [...new Set(changed.splice(0))].sort();
  return { inv, add, flush };
}

describe('normalisation', () => {
  it.each([
    ['model', 'gpu.example.com/model'],
    ['gpu.example.com/model', 'gpu.example.com/model'],
    ['resource.kubernetes.io/pcieRoot', 'resource.kubernetes.io/pcieRoot'],
  ])('qualifies %s as %s', (name, want) => {
    expect(qualifiedName(name, DRIVER)).toBe(want);
  });

  it('types every attribute, qualifies attribute and capacity names, keeps counters', () => {
    const d = deviceOf(
      {
        name: 'gpu-0',
        attributes: {
          model: { string: 'A100' },
          cores: { int: 108 },
          big: { int: '42' },
          mig: { bool: false },
          driverVersion: { version: '1.2.3' },
          'other.example.com/x': { string: 'y' },
          empty: {},
        },
        capacity: { memory: { value: '80Gi' }, 'other.example.com/slots': { value: '4' } },
        consumesCounters: [{ counterSet: 'gpu-0-set', counters: { memory: { value: '10Gi' } } }],
      },
      DRIVER,
      'node-a',
    );
    expect(d).toEqual({
      driver: DRIVER,
      pool: 'node-a',
      name: 'gpu-0',
      allocated: false,
      allocatedGangId: '',
      allocatedFencingToken: 0,
      attributes: {
        'gpu.example.com/model': { value: { $case: 'stringValue', stringValue: 'A100' } },
        'gpu.example.com/cores': { value: { $case: 'intValue', intValue: 108 } },
        'gpu.example.com/big': { value: { $case: 'intValue', intValue: 42 } },
        'gpu.example.com/mig': { value: { $case: 'boolValue', boolValue: false } },
        'gpu.example.com/driverVersion': {
          value: { $case: 'versionValue', versionValue: '1.2.3' },
        },
        'other.example.com/x': { value: { $case: 'stringValue', stringValue: 'y' } },
      },
      capacity: { 'gpu.example.com/memory': '80Gi', 'other.example.com/slots': '4' },
      consumesCounters: [{ counterSet: 'gpu-0-set', counters: { memory: '10Gi' } }],
    });
  });

  it('reads a slice: node-local devices, shared counters with their pool; others skipped', () => {
    const local = sliceRecord(
      slice('s1', {
        node: 'n1',
        devices: ['gpu-0', 'gpu-1'],
        sharedCounters: [{ name: 'set', counters: { memory: { value: '80Gi' } } }],
      }),
    )!;
    expect(local).toMatchObject({
      name: 's1',
      driver: DRIVER,
      pool: 'n1',
      generation: 1,
      nodeName: 'n1',
      skippedDevices: 0,
      counterSets: [{ name: 'set', driver: DRIVER, pool: 'n1', counters: { memory: '80Gi' } }],
    });
    expect(local.devices.map((d) => d.name)).toEqual(['gpu-0', 'gpu-1']);
    const wide = sliceRecord(slice('s2', { allNodes: true, devices: ['nic-0'] }))!;
    expect(wide).toMatchObject({ nodeName: '', devices: [], skippedDevices: 1 });
    expect(sliceRecord({ metadata: { name: 'x' }, spec: { pool: { name: 'p' } } })).toBeUndefined();
  });

  it('reads DeviceClass selectors and claim allocations', () => {
    expect(
      deviceClassOf({
        metadata: { name: 'gpu' },
        spec: {
          selectors: [{ cel: { expression: 'device.driver == "gpu.example.com"' } }, {}],
        },
      }),
    ).toEqual({ name: 'gpu', selectors: ['device.driver == "gpu.example.com"'] });
    const c = claim('c', [['n1', 'gpu-0']]);
    expect(allocatedDevices(c)).toEqual([deviceKey(DRIVER, 'n1', 'gpu-0')]);
    expect(allocatedDevices(slimClaim(c))).toEqual(allocatedDevices(c));
    expect(allocatedDevices(claim('d', []))).toEqual([]);
  });
});

describe('DeviceInventory', () => {
  it('reports each node its own devices, qualified, sorted', () => {
    const { inv, add, flush } = inventory();
    add(slice('s1', { node: 'n1', devices: ['gpu-1', 'gpu-0'] }));
    add(slice('s2', { node: 'n2', devices: ['gpu-0'] }));
    expect(flush()).toEqual(['n1', 'n2']);
    expect(inv.devicesOf('n1').map((d) => `${d.pool}/${d.name}`)).toEqual(['n1/gpu-0', 'n1/gpu-1']);
    expect(Object.keys(inv.devicesOf('n2')[0]!.attributes)).toEqual(['gpu.example.com/model']);
    expect(inv.devicesOf('n3')).toEqual([]);
  });

  it('counts only the slices of the newest generation of a pool', () => {
    const { inv, add, flush } = inventory();
    add(slice('old', { node: 'n1', pool: 'p', generation: 1, devices: ['a'] }));
    add(slice('new', { node: 'n1', pool: 'p', generation: 2, devices: ['b'] }));
    expect(inv.devicesOf('n1').map((d) => d.name)).toEqual(['b']);
    flush();
    inv.removeSlice('new');
    expect(flush()).toEqual(['n1']);
    expect(inv.devicesOf('n1').map((d) => d.name)).toEqual(['a']);
  });

  it('finds shared counters in a slice of the pool without nodeName', () => {
    const { inv, add, flush } = inventory();
    add(slice('devs', { node: 'n1', pool: 'p', devices: ['part-0'] }));
    flush();
    add(
      slice('counters', {
        allNodes: true,
        pool: 'p',
        sharedCounters: [{ name: 'gpu-0', counters: { memory: { value: '80Gi' } } }],
      }),
    );
    // The counters changed what n1 reports.
    expect(flush()).toEqual(['n1']);
    expect(inv.counterSetsOf('n1')).toEqual([
      { name: 'gpu-0', driver: DRIVER, pool: 'p', counters: { memory: '80Gi' } },
    ]);
    // A node without devices of the pool has none of its counters.
    expect(inv.counterSetsOf('n2')).toEqual([]);
  });

  it('marks a device allocated while some claim names it, and re-sends only its node', () => {
    const { inv, add, flush } = inventory();
    add(slice('s1', { node: 'n1', devices: ['gpu-0', 'gpu-1'] }));
    add(slice('s2', { node: 'n2', devices: ['gpu-0'] }));
    flush();
    const allocated = (n: string) =>
      inv
        .devicesOf(n)
        .filter((d) => d.allocated)
        .map((d) => d.name);

    inv.upsertClaim('ml/a', allocatedDevices(claim('a', [['n1', 'gpu-1']])));
    expect(flush()).toEqual(['n1']);
    expect(allocated('n1')).toEqual(['gpu-1']);
    expect(allocated('n2')).toEqual([]);

    // The same allocation again changes nothing.
    inv.upsertClaim('ml/a', allocatedDevices(claim('a', [['n1', 'gpu-1']])));
    expect(flush()).toEqual([]);

    // A second claim sharing the device; the device stays allocated until both let go.
    inv.upsertClaim('ml/b', allocatedDevices(claim('b', [['n1', 'gpu-1']])));
    inv.removeClaim('ml/a');
    expect(allocated('n1')).toEqual(['gpu-1']);
    inv.upsertClaim('ml/b', []);
    expect(allocated('n1')).toEqual([]);
    expect(flush()).toEqual(['n1']);

    // A claim made from a gang's template says whose it is: the hub counts the gang's devices
    // from the report from then on.
    const owned = {
      ...claim('g', [['n1', 'gpu-0']]),
      metadata: {
        name: 'g',
        namespace: 'ml',
        labels: { [LABEL_GANG_ID]: 'gang-1', [LABEL_FENCING_TOKEN]: '4', other: 'x' },
      },
    };
    expect(slimClaim(owned).metadata?.labels).toEqual({
      [LABEL_GANG_ID]: 'gang-1',
      [LABEL_FENCING_TOKEN]: '4',
    });
    expect(claimHolder(owned)).toEqual({ gangId: 'gang-1', token: 4 });
    expect(claimHolder(claim('h', []))).toBeUndefined();
    inv.upsertClaim('ml/g', allocatedDevices(owned), claimHolder(owned));
    const held = inv.devicesOf('n1').find((x) => x.name === 'gpu-0')!;
    expect([held.allocated, held.allocatedGangId, held.allocatedFencingToken]).toEqual([
      true,
      'gang-1',
      4,
    ]);
    inv.removeClaim('ml/g');
    const freed = inv.devicesOf('n1').find((x) => x.name === 'gpu-0')!;
    expect([freed.allocated, freed.allocatedGangId]).toEqual([false, '']);
    expect(flush()).toEqual(['n1']);

    // A claim of a device no slice publishes yet: it shows allocated once the slice comes.
    inv.upsertClaim('ml/c', allocatedDevices(claim('c', [['n3', 'gpu-0']])));
    expect(flush()).toEqual([]);
    add(slice('s3', { node: 'n3', devices: ['gpu-0'] }));
    expect(allocated('n3')).toEqual(['gpu-0']);
  });

  it('does not re-send a node for a slice update that changes nothing', () => {
    const { add, flush } = inventory();
    add(slice('s1', { node: 'n1', devices: ['gpu-0'] }));
    flush();
    add(slice('s1', { node: 'n1', devices: ['gpu-0'] }));
    expect(flush()).toEqual([]);
  });

  it('keeps DeviceClasses and says when they changed', () => {
    const { inv } = inventory();
    inv.upsertClass({ name: 'gpu', selectors: ['true'] });
    expect(inv.takeClassesChanged()).toBe(true);
    inv.upsertClass({ name: 'gpu', selectors: ['true'] });
    expect(inv.takeClassesChanged()).toBe(false);
    inv.upsertClass({ name: 'a', selectors: [] });
    inv.removeClass('gpu');
    expect(inv.takeClassesChanged()).toBe(true);
    expect(inv.deviceClasses()).toEqual([{ name: 'a', selectors: [] }]);
  });

  it('handles a large fleet without a scan per event', () => {
    const { inv, add, flush } = inventory();
    for (let n = 0; n < 1000; n++)
      add(slice(`s${n}`, { node: `n${n}`, devices: Array.from({ length: 8 }, (_, i) => `g${i}`) }));
    flush();
    inv.upsertClaim('ml/x', allocatedDevices(claim('x', [['n500', 'g3']])));
    expect(flush()).toEqual(['n500']);
    expect(inv.devicesOf('n500').filter((d) => d.allocated)).toHaveLength(1);
  });
});
