// The resource.k8s.io/v1 objects a DRA driver would publish for a cluster's simulated devices: one
// DeviceClass per driver and, per node, one ResourceSlice pool named after the node. Plain JSON, no
// client library types.
import {
  DEVICE_ATTRIBUTES,
  DRA_DRIVER,
  type DeviceAttributeValue,
  type DeviceSpec,
  FULL_PROFILE,
} from './devices';
import type { ClusterSpec, NodePoolSpec } from './topology';

export const RESOURCE_API = '/apis/resource.k8s.io/v1';

// resource.k8s.io/v1 limits per ResourceSlice (k8s.io/api resource/v1 types.go).
const MAX_DEVICES = 128;
const MAX_DEVICES_CONSUMING_COUNTERS = 64;
const MAX_COUNTER_SETS = 8;

export interface DeviceClassObject {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'DeviceClass';
  metadata: { name: string };
  spec: { selectors: { cel: { expression: string } }[] };
}

export interface Quantity {
  value: string;
}

export interface CounterConsumption {
  counterSet: string;
  counters: Record<string, Quantity>;
}

export interface SliceDevice {
  name: string;
  attributes: Record<string, DeviceAttributeValue>;
  capacity: Record<string, Quantity>;
  consumesCounters?: CounterConsumption[];
}

export interface CounterSetObject {
  name: string;
  counters: Record<string, Quantity>;
}

export interface ResourceSliceObject {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceSlice';
  metadata: {
    name: string;
    ownerReferences?: {
      apiVersion: 'v1';
      kind: 'Node';
      name: string;
      uid: string;
      controller: true;
    }[];
  };
  spec: {
    driver: string;
    nodeName: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    /** Exactly one of devices and sharedCounters is set (a 1.35+ rule). */
    devices?: SliceDevice[];
    sharedCounters?: CounterSetObject[];
  };
}

/** Every driver a cluster's pools use, in order of first use. */
export function driversOf(cluster: ClusterSpec): string[] {
  return [
    ...new Set(
      cluster.nodePools.flatMap((p) => (p.devices ? [p.devices.driver ?? DRA_DRIVER] : [])),
    ),
  ];
}

/** One DeviceClass per driver, named like the driver and selecting all of its devices. */
export function buildDeviceClasses(cluster: ClusterSpec): DeviceClassObject[] {
  return driversOf(cluster).map((driver) => ({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'DeviceClass',
    metadata: { name: driver },
    spec: { selectors: [{ cel: { expression: `device.driver == ${JSON.stringify(driver)}` } }] },
  }));
}

/** The `interconnect` attribute of device `device` on node `node` of the pool. */
export function interconnectDomain(
  clusterName: string,
  pool: NodePoolSpec,
  node: number,
  device: number,
): string {
  const ic = pool.devices?.interconnect ?? {};
  let domain: number;
  if (ic.nodesPerDomain !== undefined) domain = Math.floor(node / ic.nodesPerDomain);
  else if (ic.devicesPerDomain !== undefined) {
    const perNode = Math.ceil((pool.devices?.count ?? 1) / ic.devicesPerDomain);
    domain = node * perNode + Math.floor(device / ic.devicesPerDomain);
  } else domain = node;
  return `${clusterName}-${pool.name}-ic${domain}`;
}

function quantities(m: Record<string, string> = {}): Record<string, Quantity> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { value: v }]));
}

/** Whole devices and partitions of one node, plus the counter sets when partitionable. */
function nodeDevices(
  clusterName: string,
  pool: NodePoolSpec,
  spec: DeviceSpec,
  node: number,
): { devices: SliceDevice[]; counterSets: CounterSetObject[] } {
  const devices: SliceDevice[] = [];
  const counterSets: CounterSetObject[] = [];
  const prefix = spec.namePrefix ?? 'gpu';
  for (let j = 0; j < spec.count; j++) {
    const name = `${prefix}-${j}`;
    const own: Record<string, DeviceAttributeValue> = {
      [DEVICE_ATTRIBUTES.index]: { int: j },
      [DEVICE_ATTRIBUTES.interconnect]: { string: interconnectDomain(clusterName, pool, node, j) },
      [DEVICE_ATTRIBUTES.profile]: { string: FULL_PROFILE },
    };
    if (!spec.partitions) {
      devices.push({
        name,
        attributes: { ...spec.attributes, ...own },
        capacity: quantities(spec.capacity),
      });
      continue;
    }
    // The physical device's counter set is its capacity; the whole device consumes all of it.
    counterSets.push({ name, counters: quantities(spec.capacity) });
    devices.push({
      name,
      attributes: { ...spec.attributes, ...own },
      capacity: quantities(spec.capacity),
      consumesCounters: [{ counterSet: name, counters: quantities(spec.capacity) }],
    });
    for (const p of spec.partitions) {
      for (let k = 0; k < p.count; k++) {
        devices.push({
          name: `${name}-${p.name}-${k}`,
          attributes: {
            ...spec.attributes,
            ...p.attributes,
            ...own,
            [DEVICE_ATTRIBUTES.profile]: { string: p.name },
          },
          capacity: quantities(p.capacity),
          consumesCounters: [{ counterSet: name, counters: quantities(p.capacity) }],
        });
      }
    }
  }
  return { devices, counterSets };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The ResourceSlices of a cluster: per node with devices, a pool named after the node. A plain pool
 * is one slice `<node>-<driver>`; a partitionable one puts its counter sets and its devices in
 * separate slices (one slice may not hold both since 1.35) named `<node>-<driver>-<k>`, split
 * further where a slice would exceed 8 counter sets or 64 devices. `owners` (node name -> uid) makes
 * each node own its slices, so deleting a node removes them, as with a kubelet's DRA plugin.
 */
export function buildResourceSlices(
  cluster: ClusterSpec,
  owners: Map<string, string> = new Map(),
): ResourceSliceObject[] {
  const slices: ResourceSliceObject[] = [];
  for (const pool of cluster.nodePools) {
    const spec = pool.devices;
    if (!spec) continue;
    for (let i = 0; i < pool.count; i++) {
      const nodeName = `${pool.name}-${i}`;
      const { devices, counterSets } = nodeDevices(cluster.name, pool, spec, i);
      const parts: Pick<ResourceSliceObject['spec'], 'devices' | 'sharedCounters'>[] = [
        ...chunks(counterSets, MAX_COUNTER_SETS).map((sharedCounters) => ({ sharedCounters })),
        ...chunks(devices, spec.partitions ? MAX_DEVICES_CONSUMING_COUNTERS : MAX_DEVICES).map(
          (d) => ({ devices: d }),
        ),
      ];
      const uid = owners.get(nodeName);
      const driver = spec.driver ?? DRA_DRIVER;
      parts.forEach((part, k) => {
        const base = `${nodeName}-${driver}`;
        slices.push({
          apiVersion: 'resource.k8s.io/v1',
          kind: 'ResourceSlice',
          metadata: {
            name: parts.length === 1 ? base : `${base}-${k}`,
            ...(uid
              ? {
                  ownerReferences: [
                    { apiVersion: 'v1', kind: 'Node', name: nodeName, uid, controller: true },
                  ],
                }
              : {}),
          },
          spec: {
            driver,
            nodeName,
            pool: { name: nodeName, generation: 1, resourceSliceCount: parts.length },
            ...part,
          },
        });
      });
    }
  }
  return slices;
}
