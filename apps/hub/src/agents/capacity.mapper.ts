import type { DeviceClass as WireDeviceClass, NodeState } from '@muster/api';
import { gangRefKey } from '@muster/common';
import {
  formatQuantity,
  NodeDevices,
  parseQuantity,
  parseResourceList,
  type Device,
  type DeviceAttributeValue,
  type DeviceClass,
  type NodeSnapshot,
  type ResourceList,
  type Taint,
} from '@muster/placement';
import type { CapacitySummary } from '../inventory/cluster.domain';
import { DEVICE_CLASS_QUOTA } from '../scheduling/queue-quotas';

/** A node as reported, with quantities kept as strings (the form stored in Postgres). */
export interface ReportedNode {
  name: string;
  labels: Record<string, string>;
  taints: { key: string; value: string; effect: string }[];
  allocatable: Record<string, string>;
  free: Record<string, string>;
  unschedulable: boolean;
  ready: boolean;
  /** DRA devices of the node's ResourceSlices; absent when none (and in rows from before). */
  devices?: ReportedDevice[];
  counterSets?: ReportedCounterSet[];
}

/** A DRA attribute as stored: exactly one key, as in a ResourceSlice. */
export type ReportedAttribute =
  { string: string } | { int: number } | { bool: boolean } | { version: string };

export interface ReportedDevice {
  driver: string;
  pool: string;
  name: string;
  attributes: Record<string, ReportedAttribute>;
  /** Qualified name to quantity string. */
  capacity: Record<string, string>;
  allocated: boolean;
  /** gangRefKey of the Muster gang whose claim holds it, when the agent says. */
  holder?: string;
  consumesCounters?: { counterSet: string; counters: Record<string, string> }[];
}

export interface ReportedCounterSet {
  driver: string;
  pool: string;
  name: string;
  counters: Record<string, string>;
}

const MAX_LABELS_PER_NODE = 256;
/** Most DRA devices one node may report (a ResourceSlice holds at most 128 per slice). */
export const MAX_DEVICES_PER_NODE = 1024;

/** Validates one reported node; returns why it is unusable, or the node. */
export function reportedNodeOf(
  n: NodeState,
  field: string,
): { ok: true; node: ReportedNode } | { ok: false; error: string } {
  if (n.name === '' || n.name.length > 253)
    return { ok: false, error: `${field}.name: must be 1 to 253 characters` };
  if (Object.keys(n.labels).length > MAX_LABELS_PER_NODE)
    return { ok: false, error: `${field}.labels: too many labels` };
  const allocatable = n.allocatable?.quantities ?? {};
  const free = n.free?.quantities ?? {};
  for (const [what, list] of [
    ['allocatable', allocatable],
    ['free', free],
  ] as const) {
    const parsed = parseResourceList(list, `${field}.${what}`);
    if (!parsed.ok) return { ok: false, error: parsed.error.message };
  }
  const devices = reportedDevicesOf(n, field);
  if (typeof devices === 'string') return { ok: false, error: devices };
  return {
    ok: true,
    node: {
      name: n.name,
      labels: n.labels,
      taints: n.taints.map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
      allocatable,
      free,
      unschedulable: n.unschedulable,
      ready: n.ready,
      ...devices,
    },
  };
}

/** The node's devices and counter sets as stored, or why they are unusable. */
function reportedDevicesOf(
  n: NodeState,
  field: string,
): Pick<ReportedNode, 'devices' | 'counterSets'> | string {
  const wire = n.devices ?? [];
  if (wire.length === 0 && (n.counterSets ?? []).length === 0) return {};
  if (wire.length > MAX_DEVICES_PER_NODE)
    return `${field}.devices: at most ${MAX_DEVICES_PER_NODE} devices per node`;
  const quantities = (list: Record<string, string>, f: string): string | undefined => {
    for (const [k, v] of Object.entries(list)) {
      const q = parseQuantity(v, `${f}[${JSON.stringify(k)}]`);
      if (!q.ok) return q.error.message;
    }
    return undefined;
  };
  const devices: ReportedDevice[] = [];
  for (let i = 0; i < wire.length; i++) {
    const d = wire[i]!;
    const f = `${field}.devices[${i}]`;
    if (d.driver === '' || d.pool === '' || d.name === '')
      return `${f}: driver, pool and name are required`;
    const attributes: Record<string, ReportedAttribute> = {};
    for (const [k, a] of Object.entries(d.attributes)) {
      const v = a.value;
      if (!v) continue;
      attributes[k] =
        v.$case === 'stringValue'
          ? { string: v.stringValue }
          : v.$case === 'intValue'
            ? { int: v.intValue }
            : v.$case === 'boolValue'
              ? { bool: v.boolValue }
              : { version: v.versionValue };
    }
    const bad = quantities(d.capacity, `${f}.capacity`);
    if (bad) return bad;
    const consumes = d.consumesCounters.map((c) => ({
      counterSet: c.counterSet,
      counters: c.counters,
    }));
    for (const c of consumes) {
      const wrong = quantities(c.counters, `${f}.consumes_counters`);
      if (wrong) return wrong;
    }
    devices.push({
      driver: d.driver,
      pool: d.pool,
      name: d.name,
      attributes,
      capacity: d.capacity,
      allocated: d.allocated,
      ...(d.allocated && d.allocatedGangId !== ''
        ? { holder: gangRefKey(d.allocatedGangId, d.allocatedFencingToken) }
        : {}),
      ...(consumes.length > 0 ? { consumesCounters: consumes } : {}),
    });
  }
  const counterSets: ReportedCounterSet[] = [];
  for (const [i, c] of (n.counterSets ?? []).entries()) {
    const wrong = quantities(c.counters, `${field}.counter_sets[${i}].counters`);
    if (wrong) return wrong;
    counterSets.push({ driver: c.driver, pool: c.pool, name: c.name, counters: c.counters });
  }
  return { devices, ...(counterSets.length > 0 ? { counterSets } : {}) };
}

/** A cluster's DeviceClasses as reported (selectors are compiled by placement when used). */
export function deviceClassesOf(wire: readonly WireDeviceClass[]): DeviceClass[] {
  return wire
    .filter((c) => c.name !== '')
    .map((c) => ({ name: c.name, selectors: [...c.selectors] }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

function amount(text: string): bigint {
  const q = parseQuantity(text);
  return q.ok ? q.value : 0n;
}

function amounts(list: Record<string, string>): Record<string, bigint> {
  return Object.fromEntries(Object.entries(list).map(([k, v]) => [k, amount(v)]));
}

function attributeValue(a: ReportedAttribute): DeviceAttributeValue {
  if ('string' in a) return a.string;
  if ('int' in a) return BigInt(a.int);
  if ('bool' in a) return a.bool;
  return { version: a.version };
}

function deviceOf(d: ReportedDevice): Device {
  return {
    driver: d.driver,
    pool: d.pool,
    name: d.name,
    attributes: Object.fromEntries(
      Object.entries(d.attributes).map(([k, a]) => [k, attributeValue(a)]),
    ),
    capacity: amounts(d.capacity),
    allocated: d.allocated,
    ...(d.holder ? { heldBy: d.holder } : {}),
    ...(d.consumesCounters
      ? {
          consumesCounters: d.consumesCounters.map((c) => ({
            counterSet: c.counterSet,
            counters: amounts(c.counters),
          })),
        }
      : {}),
  };
}

function resources(list: Record<string, string>): ResourceList {
  const parsed = parseResourceList(list);
  return parsed.ok ? parsed.value : {};
}

const EFFECTS = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);

/**
 * Each reported node's placement view, once per node object: a report replaces a changed node's
 * object and never edits one, so every cycle hands placement the same object for a node that did
 * not change, and its kept index skips it (see PlacementIndex).
 */
const snapshots = new WeakMap<ReportedNode, NodeSnapshot>();

/** The placement library's view of a reported node. */
export function nodeSnapshotOf(n: ReportedNode): NodeSnapshot {
  let snapshot = snapshots.get(n);
  if (!snapshot) snapshots.set(n, (snapshot = parseNodeSnapshot(n)));
  return snapshot;
}

function parseNodeSnapshot(n: ReportedNode): NodeSnapshot {
  return {
    name: n.name,
    labels: n.labels,
    allocatable: resources(n.allocatable),
    free: resources(n.free),
    taints: n.taints
      .filter((t) => EFFECTS.has(t.effect))
      .map((t) => ({ key: t.key, value: t.value, effect: t.effect as Taint['effect'] })),
    unschedulable: n.unschedulable,
    ready: n.ready,
    ...(n.devices && n.devices.length > 0 ? { devices: n.devices.map(deviceOf) } : {}),
    ...(n.counterSets
      ? {
          counterSets: n.counterSets.map((c) => ({
            driver: c.driver,
            pool: c.pool,
            name: c.name,
            counters: amounts(c.counters),
          })),
        }
      : {}),
  };
}

/**
 * Devices per DeviceClass over schedulable, ready nodes: how many match the class, and how
 * many of those are not allocated.
 */
function devicesPerClass(
  nodes: readonly ReportedNode[],
  classes: readonly DeviceClass[],
): { deviceClass: string; total: number; free: number }[] {
  if (classes.length === 0) return [];
  const byName = new Map(classes.map((c) => [c.name, c]));
  const totals = classes.map((c) => ({ deviceClass: c.name, total: 0, free: 0 }));
  for (const n of nodes) {
    if (!n.devices || n.devices.length === 0) continue;
    const snapshot = nodeSnapshotOf(n);
    const nd = new NodeDevices(snapshot.devices ?? [], snapshot.counterSets ?? [], byName);
    for (const t of totals) {
      const matching = nd.candidates({ deviceClassName: t.deviceClass }) ?? [];
      t.total += matching.length;
      t.free += matching.filter((i) => nd.isFree(i)).length;
    }
  }
  return totals;
}

/** Totals over schedulable, ready nodes, for the inventory and ClusterProfile properties. */
export function capacitySummaryOf(
  nodes: Iterable<ReportedNode>,
  classes: readonly DeviceClass[] = [],
): CapacitySummary {
  const usable: ReportedNode[] = [];
  let nodeCount = 0;
  let readyNodeCount = 0;
  const allocatable = new Map<string, bigint>();
  const free = new Map<string, bigint>();
  for (const n of nodes) {
    nodeCount++;
    if (!n.ready || n.unschedulable) continue;
    readyNodeCount++;
    usable.push(n);
    for (const [target, list] of [
      [allocatable, resources(n.allocatable)],
      [free, resources(n.free)],
    ] as const) {
      for (const [k, v] of Object.entries(list))
        target.set(k, (target.get(k) ?? 0n) + (v > 0n ? v : 0n));
    }
  }
  const format = (m: Map<string, bigint>) =>
    Object.fromEntries(
      [...m.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, formatQuantity(v, k)]),
    );
  return {
    nodeCount,
    readyNodeCount,
    allocatable: format(allocatable),
    free: format(free),
    observedAt: new Date().toISOString(),
    devices: devicesPerClass(usable, classes),
  };
}

/** Whether a node resource counts toward utilisation: cpu, memory and extended resources (GPUs). */
function isBookable(resource: string): boolean {
  return resource === 'cpu' || resource === 'memory' || resource.includes('/');
}

/**
 * What a cluster has, as utilisation books it (milli-units per resource, the keys reservations
 * book their usage under): its schedulable, ready nodes' allocatable cpu, memory and extended
 * resources, and its DRA devices per DeviceClass under the class's quota key.
 */
export function bookableCapacityOf(summary: CapacitySummary): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(resources(summary.allocatable)))
    if (isBookable(k) && v > 0n) out[k] = Number(v);
  for (const d of summary.devices ?? [])
    if (d.total > 0) out[`${d.deviceClass}${DEVICE_CLASS_QUOTA}`] = d.total * 1000;
  return out;
}
