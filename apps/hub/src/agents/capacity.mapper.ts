import type { NodeState } from '@muster/api';
import {
  formatQuantity,
  parseResourceList,
  type NodeSnapshot,
  type ResourceList,
  type Taint,
} from '@muster/placement';
import type { CapacitySummary } from '../inventory/cluster.domain';

/** A node as reported, with quantities kept as strings (the form stored in Postgres). */
export interface ReportedNode {
  name: string;
  labels: Record<string, string>;
  taints: { key: string; value: string; effect: string }[];
  allocatable: Record<string, string>;
  free: Record<string, string>;
  unschedulable: boolean;
  ready: boolean;
}

const MAX_LABELS_PER_NODE = 256;

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
    },
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
  };
}

/** Totals over schedulable, ready nodes, for the inventory and ClusterProfile properties. */
export function capacitySummaryOf(nodes: Iterable<ReportedNode>): CapacitySummary {
  let nodeCount = 0;
  let readyNodeCount = 0;
  const allocatable = new Map<string, bigint>();
  const free = new Map<string, bigint>();
  for (const n of nodes) {
    nodeCount++;
    if (!n.ready || n.unschedulable) continue;
    readyNodeCount++;
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
  };
}
