/**
 * Test-only builders (excluded from the library build). They throw on malformed input because a
 * malformed fixture is a bug in the test, not a case under test.
 */
import {
  ClusterSnapshot,
  ColocationGroup,
  Gang,
  NodeSnapshot,
  PodSet,
  RequiredNodeAffinity,
  Taint,
  Toleration,
  TopologyConstraint,
} from '../lib/model';
import { parseResourceList, QuantityMap, ResourceList } from '../lib/resources';

export const ZONE = 'topology.kubernetes.io/zone';
export const BLOCK = 'cloud.provider.com/topology-block';
export const RACK = 'cloud.provider.com/topology-rack';
export const HOST = 'kubernetes.io/hostname';
export const GPU = 'nvidia.com/gpu';

export function rl(q: QuantityMap): ResourceList {
  const r = parseResourceList(q);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

export interface NodeOpts {
  readonly free?: QuantityMap;
  readonly allocatable?: QuantityMap;
  readonly labels?: Record<string, string>;
  readonly taints?: Taint[];
  readonly unschedulable?: boolean;
  readonly ready?: boolean;
}

/** A node; `free` defaults to 8 GPUs, 96 CPU, 1Ti; allocatable defaults to free. */
export function node(name: string, opts: NodeOpts = {}): NodeSnapshot {
  const free = rl(opts.free ?? { [GPU]: 8, cpu: 96, memory: '1Ti' });
  return {
    name,
    free,
    allocatable: opts.allocatable ? rl(opts.allocatable) : free,
    labels: { [HOST]: name, ...(opts.labels ?? {}) },
    ...(opts.taints ? { taints: opts.taints } : {}),
    ...(opts.unschedulable !== undefined ? { unschedulable: opts.unschedulable } : {}),
    ...(opts.ready !== undefined ? { ready: opts.ready } : {}),
  };
}

export function cluster(
  name: string,
  nodes: NodeSnapshot[],
  extra: Partial<Omit<ClusterSnapshot, 'name' | 'nodes'>> = {},
): ClusterSnapshot {
  return { name, topologyLevels: [BLOCK, RACK, HOST], nodes, ...extra };
}

/**
 * A block → rack → host cluster. `gpus[b][r]` lists the free GPUs of each host of rack r in block
 * b; hosts are named `<cluster>-b<b>-r<r>-h<h>`, racks `rack-<b><letter>`, blocks `block-<b>`.
 */
export function topoCluster(
  name: string,
  gpus: number[][][],
  extra: Partial<ClusterSnapshot> = {},
): ClusterSnapshot {
  const nodes: NodeSnapshot[] = [];
  gpus.forEach((racks, b) =>
    racks.forEach((hosts, r) =>
      hosts.forEach((g, h) =>
        nodes.push(
          node(`${name}-b${b}-r${r}-h${h}`, {
            free: { [GPU]: g, cpu: 96, memory: '1Ti' },
            allocatable: { [GPU]: 8, cpu: 96, memory: '1Ti' },
            labels: { [BLOCK]: `block-${b}`, [RACK]: `rack-${b}${String.fromCharCode(97 + r)}` },
          }),
        ),
      ),
    ),
  );
  return cluster(name, nodes, extra);
}

export interface PodSetOpts {
  readonly nodeSelector?: Record<string, string>;
  readonly nodeAffinity?: RequiredNodeAffinity;
  readonly tolerations?: Toleration[];
  readonly topology?: TopologyConstraint;
}

export function podSet(
  name: string,
  count: number,
  requests: QuantityMap,
  opts: PodSetOpts = {},
): PodSet {
  return { name, count, requests: rl(requests), ...opts };
}

export function gang(id: string, podSets: PodSet[], colocation?: ColocationGroup): Gang {
  return { id, podSets, ...(colocation ? { colocation } : {}) };
}

/** Per-node usage of a batch's placements, in milli-units, for over-commit checks. */
export function usageByNode(
  gangs: readonly Gang[],
  decisions: ReadonlyArray<{
    status: string;
    placement?: {
      cluster: string;
      podSets: ReadonlyArray<{ podSet: string; nodes: readonly string[] }>;
    };
  }>,
): Map<string, Map<string, bigint>> {
  const use = new Map<string, Map<string, bigint>>();
  decisions.forEach((d, i) => {
    if (d.status !== 'placed' || !d.placement) return;
    const g = gangs[i];
    for (const psp of d.placement.podSets) {
      const ps = g.podSets.find((p) => p.name === psp.podSet) as PodSet;
      for (const n of psp.nodes) {
        const key = `${d.placement.cluster}/${n}`;
        const m = use.get(key) ?? new Map<string, bigint>();
        for (const [r, a] of Object.entries(ps.requests)) m.set(r, (m.get(r) ?? 0n) + a);
        use.set(key, m);
      }
    }
  });
  return use;
}
