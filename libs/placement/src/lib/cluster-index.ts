/**
 * Internal, mutable capacity index of one cluster. Built from a {@link ClusterSnapshot} copy at
 * the start of a batch and updated in place as gangs are placed; never exposed to callers.
 *
 * The index is a topology tree: the root is the whole cluster, depth i+1 holds the domains of
 * `topologyLevels[i]`, and nodes hang under the deepest domain whose labels they carry. For each
 * {@link View} (the nodes one kind of pod set may use), every domain keeps, per resource:
 * - `sum`: free capacity of its eligible nodes,
 * - `max`: the most free on any single eligible node below it,
 * - `maxBelow[j]`: the largest `sum` of any descendant domain at depth j.
 * plus, for small whole-unit resources such as GPUs, a histogram of how many nodes have 0, 1, 2, ...
 * units free. These are exact aggregates, used as necessary conditions ("could a rack below here
 * hold 64 GPUs? could its nodes take 16 members of 8 GPUs?") that let a search skip whole subtrees,
 * so a decision costs roughly O(depth × fan-out + members) instead of a scan of every node. Exact
 * member counts come from walking only the subtrees that pass, and are cached per request shape
 * until something below the domain changes.
 */
import {
  ClusterSnapshot,
  freeProblem,
  nodeProblem,
  NodeSnapshot,
  RequiredNodeAffinity,
  Taint,
  Toleration,
  TopologyConstraint,
} from './model';
import {
  canHold,
  capacity,
  countBound,
  geq,
  itemCapacity,
  nodeCapacity,
  type CapacityCache,
} from './capacity';
import {
  isHardTaint,
  matchesNodeAffinity,
  matchesNodeSelector,
  toleratesAll,
  toleratesTaint,
} from './scheduling';
import { cmpStr, order } from './score';

// Kept here for fit and place, which import them from this file.
export { geq } from './capacity';
export { cmpStr, compareKeys, scoreKey } from './score';
export type { Ratio } from './score';

/** Dense numbering of every resource name seen in a batch. */
export interface ResourceSpace {
  readonly names: readonly string[];
  readonly index: ReadonlyMap<string, number>;
}

/** Non-zero entries of a resource vector: `amt[i]` of resource `idx[i]`. */
export interface SparseRequest {
  readonly idx: readonly number[];
  readonly amt: readonly bigint[];
}

/** A pod set translated to the resource space of a batch. */
export interface PreparedPodSet {
  readonly name: string;
  /** Position in the gang's `podSets`. */
  readonly position: number;
  readonly count: number;
  /** Per-member request (non-zero entries only). */
  readonly req: SparseRequest;
  /** Per-member request × count. */
  readonly need: SparseRequest;
  /** `req.amt` and `need.amt` as floats, for the approximate prefilter ({@link mayHold}). */
  readonly reqF: Float64Array;
  readonly needF: Float64Array;
  /** Raw per-member request, for messages. */
  readonly requests: Readonly<Record<string, bigint>>;
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly nodeAffinity: RequiredNodeAffinity | undefined;
  readonly tolerations: readonly Toleration[] | undefined;
  /**
   * Identity of (selector, node affinity, tolerations) for the eligibility cache; `''` when all
   * are empty.
   */
  readonly sig: string;
  /** Identity of the per-member request, for the capacity cache. */
  readonly shape: string;
  readonly topology: TopologyConstraint | undefined;
}

export interface IndexedNode {
  readonly id: number;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly free: bigint[];
  /**
   * `free` as floats, kept in step with it. Node-sized amounts are integers far below 2^52 in
   * practice, where float arithmetic is exact; {@link ClusterIndex.nodeCapacity} uses it then and
   * falls back to bigint otherwise.
   */
  readonly freeF: Float64Array;
  readonly alloc: readonly bigint[];
  /** Deepest domain the node belongs to. */
  readonly domain: number;
}

/** A topology domain. Its capacity figures live in each {@link View}. */
export interface Domain {
  readonly id: number;
  /** 0 for the cluster root, i + 1 for `topologyLevels[i]`. */
  readonly depth: number;
  readonly value: string;
  /** Label values from the broadest level down to this domain. */
  readonly path: readonly string[];
  /** Display name: the label value, or the path when the value repeats at this level. */
  label: string;
  readonly parent: number;
  readonly children: number[];
  /** Nodes attached directly (their labels stop at this depth). */
  readonly nodes: number[];
  /**
   * The node id when the domain is exactly one node and nothing else (typically a hostname
   * domain): its figures are the node's own, so nothing is stored or updated twice. Else -1.
   */
  leafNode: number;
}

/**
 * Capacity aggregates over the nodes one kind of pod set may use (same node selector and
 * tolerations). View 0 covers every usable node. Because a view only counts eligible nodes, its
 * figures are exact for its pod sets: a rack full of tainted nodes shows zero free to a pod set
 * that does not tolerate the taint. Views are built on first use (O(nodes)) and then maintained
 * incrementally with every placement.
 */
export interface View {
  /** `null` when every usable node is eligible. */
  readonly node: Uint8Array | null;
  /** Eligible nodes per domain. */
  readonly count: Int32Array;
  /** Per domain (empty for leaf domains, see {@link Domain.leafNode}): free per resource. */
  readonly sum: bigint[][];
  /** Per domain: most free on any single node, per resource. */
  readonly max: bigint[][];
  /** Per domain: allocatable per resource. */
  readonly alloc: bigint[][];
  /** Per domain, per depth j > domain depth: largest `sum` of a descendant domain at depth j. */
  readonly maxBelow: bigint[][][];
  /** Member capacities already computed, per request shape (see {@link ClusterIndex.capacity}). */
  readonly capacities: Map<string, CapacityCache>;
  /**
   * For each countable resource (see {@link ClusterIndex.countable}), per non-leaf domain (by
   * cache slot), how many eligible nodes have 0, 1, 2, ... whole units free: `hist[c][slot * (K + 1) + k]`.
   * It bounds how many members fit in a domain without visiting its nodes ({@link ClusterIndex.countBound}).
   */
  readonly hist: Int32Array[];
  /**
   * The root's `sum`, `max` and `maxBelow[j]` as floats (index 0 = sum, 1 = max, j + 1 = maxBelow[j]),
   * refreshed after every change: the per-cluster prefilter of every decision compares floats
   * instead of bigints (see {@link mayHold}).
   */
  readonly rootF: Float64Array[];
  /** Asked for since the last {@link ClusterIndex.sync}; a view nobody asks for is dropped then. */
  used: boolean;
}

/** An amount to add to one node's free resources (negative to take away). */
interface NodeChange {
  readonly nid: number;
  readonly delta: SparseRequest;
}

/** A snapshot node as the index last saw it (see {@link ClusterIndex.sync}). */
interface SeenNode {
  /** The snapshot object the index holds the figures of. */
  source: NodeSnapshot;
  /** Its {@link IndexedNode} id, or -1 for an unusable node (not ready or unschedulable). */
  readonly nid: number;
  /** The sync that last found it in the snapshot. */
  mark: number;
}

/** Relative slack of the float prefilter; float conversion errors are below 2^-52. */
const FLOAT_SLACK = 1 - 1e-9;

/**
 * Approximate `vec >= need` that is never false when the exact comparison is true (it may be true
 * when the exact one is false, by at most a 1e-9 relative margin). Only used to skip clusters
 * early; every decision is then confirmed with exact bigint arithmetic.
 */
export function mayHold(vec: Float64Array, idx: readonly number[], amt: Float64Array): boolean {
  for (let i = 0; i < idx.length; i++) if (vec[idx[i]] < amt[i] * FLOAT_SLACK) return false;
  return true;
}

/** Resources whose free amounts are whole units up to this many get per-domain histograms. */
const MAX_COUNTABLE_UNITS = 32;

export type ClusterStatus =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly code: 'InvalidClusterSnapshot' | 'ClusterNotReady' | 'ClusterCordoned';
      readonly message: string;
    };

export interface UnusableNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly reason: 'not ready' | 'unschedulable';
}

export type Policy = 'pack' | 'spread';

/** Encodes a node id as a negative "item" so domains and nodes can be ordered together. */
const nodeItem = (id: number): number => -id - 1;

/** Every resource name a cluster's nodes report, free or allocatable, usable or not. */
export function resourceNamesOf(c: ClusterSnapshot): Set<string> {
  const names = new Set<string>();
  if (!c || !Array.isArray(c.nodes)) return names;
  for (const n of c.nodes) {
    if (!n) continue;
    for (const list of [n.free, n.allocatable]) {
      if (list && typeof list === 'object') for (const k of Object.keys(list)) names.add(k);
    }
  }
  return names;
}

/** The resource space of these names, numbered in sorted order. */
export function resourceSpaceOf(names: Iterable<string>): ResourceSpace {
  const sorted = [...new Set(names)].sort();
  return { names: sorted, index: new Map(sorted.map((n, i) => [n, i])) };
}

export function buildResourceSpace(clusters: readonly ClusterSnapshot[]): ResourceSpace {
  return resourceSpaceOf(clusters.flatMap((c) => [...resourceNamesOf(c)]));
}

export class ClusterIndex {
  readonly domains: Domain[] = [];
  readonly nodes: IndexedNode[] = [];
  readonly unusable: UnusableNode[] = [];
  /** Depth of each topology level key. */
  readonly depthOf = new Map<string, number>();
  readonly levels: readonly string[];
  /** Domain ids per depth. */
  readonly byDepth: number[][] = [];
  /** View over every usable node. */
  readonly all: View;
  private readonly views: View[] = [];
  // The capacity queries (./capacity) read the next five fields; only the index writes them.
  /** Per domain, bumped whenever free capacity below it changes; invalidates cached capacities. */
  readonly version: Int32Array;
  /** Per domain, its slot in capacity caches (-1 for leaf domains, which are never cached). */
  readonly cacheSlot: Int32Array;
  readonly cacheSlots: number;
  /**
   * Resources with small whole-unit free amounts on every node (GPUs: 0..8), with their largest
   * unit count `k`. Whole-node GPU members fail mostly because free GPUs are split across nodes;
   * a histogram of free units per domain shows that in O(k) instead of a walk over the nodes.
   */
  readonly countable: Array<{ readonly r: number; readonly k: number }> = [];
  /** Per resource, its position in `countable`, or -1. */
  readonly countableOf: Int32Array;
  private readonly viewBySig = new Map<string, View>();
  private readonly hardTaints: Taint[] = [];
  private readonly r: number;
  private readonly zero: readonly bigint[];
  /** Every resource name the snapshot's nodes report (see {@link resourceNamesOf}). */
  readonly resourceNames: ReadonlySet<string>;
  /** Each snapshot node by name, with the object whose figures the index holds. */
  private readonly seen = new Map<string, SeenNode>();
  /** Nodes whose free capacity {@link apply} changed since the last sync. */
  private readonly dirty = new Set<number>();
  private syncs = 0;

  constructor(
    snapshot: ClusterSnapshot,
    private readonly space: ResourceSpace,
    readonly name: string,
    readonly status: ClusterStatus,
  ) {
    this.r = space.names.length;
    this.resourceNames = status.ok ? resourceNamesOf(snapshot) : new Set();
    this.zero = Object.freeze(new Array<bigint>(this.r).fill(0n));
    this.levels = status.ok ? [...snapshot.topologyLevels] : [];
    this.levels.forEach((l, i) => this.depthOf.set(l, i + 1));
    const maxDepth = this.levels.length;
    for (let d = 0; d <= maxDepth; d++) this.byDepth.push([]);
    this.newDomain(0, '', [], -1);

    if (status.ok) {
      const sorted = [...snapshot.nodes].sort((a, b) => cmpStr(a.name, b.name));
      const childByValue = new Map<number, Map<string, number>>();
      const taintKeys = new Set<string>();
      for (const n of sorted) {
        const labels = n.labels ?? {};
        if (n.ready === false || n.unschedulable === true) {
          this.unusable.push({
            name: n.name,
            labels,
            reason: n.ready === false ? 'not ready' : 'unschedulable',
          });
          this.seen.set(n.name, { source: n, nid: -1, mark: 0 });
          continue;
        }
        let d = 0;
        for (let i = 0; i < maxDepth; i++) {
          const v = labels[this.levels[i]];
          if (v === undefined) break;
          let m = childByValue.get(d);
          if (!m) childByValue.set(d, (m = new Map()));
          let child = m.get(v);
          if (child === undefined) {
            child = this.newDomain(i + 1, v, [...this.domains[d].path, v], d);
            m.set(v, child);
            this.domains[d].children.push(child);
          }
          d = child;
        }
        const taints = (n.taints ?? []).filter(isHardTaint);
        for (const t of taints) {
          const key = JSON.stringify([t.key, t.value ?? '', t.effect]);
          if (!taintKeys.has(key)) {
            taintKeys.add(key);
            this.hardTaints.push(t);
          }
        }
        const id = this.nodes.length;
        this.seen.set(n.name, { source: n, nid: id, mark: 0 });
        const free = this.vector(n.free, space);
        this.nodes.push({
          id,
          name: n.name,
          labels,
          taints,
          free,
          freeF: Float64Array.from(free, Number),
          alloc: this.vector(n.allocatable, space),
          domain: d,
        });
        this.domains[d].nodes.push(id);
      }
      // Children in label-value order; display labels; leaf domains.
      for (let depth = 1; depth <= maxDepth; depth++) {
        const count = new Map<string, number>();
        for (const id of this.byDepth[depth]) {
          const v = this.domains[id].value;
          count.set(v, (count.get(v) ?? 0) + 1);
        }
        for (const id of this.byDepth[depth]) {
          const dom = this.domains[id];
          if ((count.get(dom.value) ?? 0) > 1) dom.label = dom.path.join('/');
        }
      }
      for (const dom of this.domains) {
        dom.children.sort((a, b) => cmpStr(this.domains[a].value, this.domains[b].value));
        if (dom.children.length === 0 && dom.nodes.length === 1) dom.leafNode = dom.nodes[0];
      }
    }
    this.version = new Int32Array(this.domains.length);
    let slots = 0;
    this.cacheSlot = Int32Array.from(this.domains, (d) => (d.leafNode >= 0 ? -1 : slots++));
    this.cacheSlots = slots;
    this.countableOf = new Int32Array(this.r).fill(-1);
    for (let r = 0; r < this.r; r++) {
      let k = 0;
      let whole = true;
      for (const n of this.nodes) {
        const f = n.free[r];
        if (f % 1000n !== 0n || f > BigInt(MAX_COUNTABLE_UNITS) * 1000n) whole = false;
        else if (Number(f / 1000n) > k) k = Number(f / 1000n);
        // Room for the node's whole allocatable, so a kept index (sync) need not be rebuilt
        // when work on the node ends and its free amount grows back.
        const a = n.alloc[r];
        if (a % 1000n === 0n && a <= BigInt(MAX_COUNTABLE_UNITS) * 1000n && Number(a / 1000n) > k)
          k = Number(a / 1000n);
      }
      if (whole && this.nodes.length > 0) {
        this.countableOf[r] = this.countable.length;
        this.countable.push({ r, k });
      }
    }
    this.all = this.buildView(null);
  }

  /** Histogram bin of a free amount: whole units, clamped to the resource's largest bin. */
  private bin(c: number, free: bigint): number {
    const units = Number(free / 1000n);
    const k = this.countable[c].k;
    return units > k ? k : units;
  }

  private newDomain(depth: number, value: string, path: string[], parent: number): number {
    const id = this.domains.length;
    this.domains.push({
      id,
      depth,
      value,
      path,
      label: value,
      parent,
      children: [],
      nodes: [],
      leafNode: -1,
    });
    this.byDepth[depth].push(id);
    return id;
  }

  private vector(list: Readonly<Record<string, bigint>>, space: ResourceSpace): bigint[] {
    const v = new Array<bigint>(this.r).fill(0n);
    for (const k of Object.keys(list)) {
      const i = space.index.get(k);
      if (i === undefined) continue;
      const a = list[k];
      v[i] = a < 0n ? 0n : a; // an over-committed node has nothing free
    }
    return v;
  }

  get maxDepth(): number {
    return this.levels.length;
  }

  // ----- views -----

  private buildView(node: Uint8Array | null): View {
    const nd = this.domains.length;
    const count = new Int32Array(nd);
    for (const n of this.nodes) {
      if (node && node[n.id] === 0) continue;
      for (let d = n.domain; d >= 0; d = this.domains[d].parent) count[d]++;
    }
    const v: View = {
      node,
      count,
      sum: new Array(nd),
      max: new Array(nd),
      alloc: new Array(nd),
      maxBelow: new Array(nd),
      capacities: new Map(),
      rootF: Array.from({ length: this.maxDepth + 2 }, () => new Float64Array(this.r)),
      hist: this.countable.map((c) => new Int32Array((c.k + 1) * this.cacheSlots)),
      used: true,
    };
    for (const n of this.nodes) {
      if (node && node[n.id] === 0) continue;
      this.countable.forEach((c, ci) => {
        const b = this.bin(ci, n.free[c.r]);
        const h = v.hist[ci];
        for (let d = n.domain; d >= 0; d = this.domains[d].parent) {
          const slot = this.cacheSlot[d];
          if (slot >= 0) h[slot * (c.k + 1) + b]++;
        }
      });
    }
    const all = Array.from({ length: this.r }, (_, i) => i);
    for (let depth = this.maxDepth; depth >= 0; depth--) {
      for (const id of this.byDepth[depth]) {
        const dom = this.domains[id];
        if (dom.leafNode >= 0) {
          v.sum[id] = v.max[id] = v.alloc[id] = [];
          v.maxBelow[id] = [];
          continue;
        }
        const sum = new Array<bigint>(this.r).fill(0n);
        const alloc = new Array<bigint>(this.r).fill(0n);
        for (const nid of dom.nodes) {
          if (node && node[nid] === 0) continue;
          const n = this.nodes[nid];
          for (let r = 0; r < this.r; r++) {
            sum[r] += n.free[r];
            alloc[r] += n.alloc[r];
          }
        }
        for (const cid of dom.children) {
          const cs = this.sumOf(v, cid);
          const ca = this.allocOf(v, cid);
          for (let r = 0; r < this.r; r++) {
            sum[r] += cs[r];
            alloc[r] += ca[r];
          }
        }
        v.sum[id] = sum;
        v.alloc[id] = alloc;
        v.max[id] = new Array<bigint>(this.r).fill(0n);
        const mb: bigint[][] = [];
        for (let j = 0; j <= this.maxDepth; j++)
          mb.push(j > depth ? new Array<bigint>(this.r).fill(0n) : []);
        v.maxBelow[id] = mb;
        this.recompute(v, dom, all);
      }
    }
    this.refreshRootF(v, all);
    this.views.push(v);
    return v;
  }

  private refreshRootF(v: View, idx: readonly number[]): void {
    const sum = this.sumOf(v, 0);
    const max = this.maxOf(v, 0);
    for (const r of idx) {
      v.rootF[0][r] = Number(sum[r]);
      v.rootF[1][r] = Number(max[r]);
      for (let j = 1; j <= this.maxDepth; j++)
        v.rootF[j + 1][r] = Number(this.maxBelowOf(v, 0, j)[r]);
    }
  }

  /** The view of the nodes a pod set may use (selector + tolerations), built on first use. */
  view(ps: PreparedPodSet): View {
    const cached = this.viewBySig.get(ps.sig);
    if (cached) {
      cached.used = true;
      return cached;
    }
    const selectorEmpty = !ps.selector || Object.keys(ps.selector).length === 0;
    let v = this.all;
    if (
      !selectorEmpty ||
      ps.nodeAffinity !== undefined ||
      !this.hardTaints.every((t) => (ps.tolerations ?? []).some((x) => toleratesTaint(x, t)))
    ) {
      const node = new Uint8Array(this.nodes.length);
      let eligible = 0;
      for (const n of this.nodes) {
        if (
          matchesNodeSelector(n.labels, ps.selector) &&
          matchesNodeAffinity(n.name, n.labels, ps.nodeAffinity) &&
          toleratesAll(n.taints, ps.tolerations)
        ) {
          node[n.id] = 1;
          eligible++;
        }
      }
      if (eligible < this.nodes.length) v = this.buildView(node);
    }
    this.viewBySig.set(ps.sig, v);
    return v;
  }

  eligible(v: View, nid: number): boolean {
    return v.node === null || v.node[nid] === 1;
  }

  /** Free per resource of domain `d` in view `v`. */
  sumOf(v: View, d: number): readonly bigint[] {
    const leaf = this.domains[d].leafNode;
    if (leaf < 0) return v.sum[d];
    return this.eligible(v, leaf) ? this.nodes[leaf].free : this.zero;
  }

  /** Most free on one node of domain `d` in view `v`. */
  maxOf(v: View, d: number): readonly bigint[] {
    const leaf = this.domains[d].leafNode;
    if (leaf < 0) return v.max[d];
    return this.eligible(v, leaf) ? this.nodes[leaf].free : this.zero;
  }

  allocOf(v: View, d: number): readonly bigint[] {
    const leaf = this.domains[d].leafNode;
    if (leaf < 0) return v.alloc[d];
    return this.eligible(v, leaf) ? this.nodes[leaf].alloc : this.zero;
  }

  /** Largest free of a descendant domain at depth `j` (> depth of `d`). */
  maxBelowOf(v: View, d: number, j: number): readonly bigint[] {
    return this.domains[d].leafNode < 0 ? v.maxBelow[d][j] : this.zero;
  }

  /** Recomputes `max` and `maxBelow` of one (non-leaf) domain from its children, for resources `idx`. */
  private recompute(v: View, dom: Domain, idx: readonly number[]): void {
    const maxDepth = this.maxDepth;
    const max = v.max[dom.id];
    const mbs = v.maxBelow[dom.id];
    for (const r of idx) {
      let m = 0n;
      for (const nid of dom.nodes) {
        if (v.node !== null && v.node[nid] === 0) continue;
        const f = this.nodes[nid].free[r];
        if (f > m) m = f;
      }
      for (const cid of dom.children) {
        const f = this.maxOf(v, cid)[r];
        if (f > m) m = f;
      }
      max[r] = m;
      for (let j = dom.depth + 1; j <= maxDepth; j++) {
        let mb = 0n;
        for (const cid of dom.children) {
          const x = j === dom.depth + 1 ? this.sumOf(v, cid)[r] : this.maxBelowOf(v, cid, j)[r];
          if (x > mb) mb = x;
        }
        mbs[j][r] = mb;
      }
    }
  }

  /**
   * Adds (`sign = 1n`) or removes (`sign = -1n`) `count × req` on each node and updates every
   * view's aggregates on the way to the root.
   */
  apply(counts: ReadonlyMap<number, number>, req: SparseRequest, sign: 1n | -1n): void {
    const changes: NodeChange[] = [];
    for (const [nid, k] of counts) {
      const times = BigInt(k) * sign;
      changes.push({ nid, delta: { idx: req.idx, amt: req.amt.map((a) => a * times) } });
    }
    this.change(changes, req.idx);
  }

  /**
   * Adds each node's `delta` to its free amounts and updates every view's aggregates on the way
   * to the root, each domain once however many of its nodes changed. `idx` lists every resource
   * any delta changes.
   */
  private change(changes: readonly NodeChange[], idx: readonly number[]): void {
    const touched = new Set<number>();
    // Histogram moves: [countable index, node, old bin, new bin].
    const moves: Array<[number, number, number, number]> = [];
    for (const { nid, delta } of changes) {
      const n = this.nodes[nid];
      this.dirty.add(nid);
      for (let i = 0; i < delta.idx.length; i++) {
        const r = delta.idx[i];
        const c = this.countableOf[r];
        const before = c >= 0 ? this.bin(c, n.free[r]) : 0;
        n.free[r] += delta.amt[i];
        n.freeF[r] = Number(n.free[r]);
        if (c >= 0) {
          const after = this.bin(c, n.free[r]);
          if (after !== before) moves.push([c, nid, before, after]);
        }
      }
      for (let d = n.domain; d >= 0 && !touched.has(d); d = this.domains[d].parent) touched.add(d);
    }
    for (const d of touched) this.version[d]++;
    for (const v of this.views) {
      for (const [c, nid, before, after] of moves) {
        if (v.node !== null && v.node[nid] === 0) continue;
        const width = this.countable[c].k + 1;
        const h = v.hist[c];
        for (let d = this.nodes[nid].domain; d >= 0; d = this.domains[d].parent) {
          const slot = this.cacheSlot[d];
          if (slot < 0) continue;
          h[slot * width + before]--;
          h[slot * width + after]++;
        }
      }
      const dirty = new Set<number>();
      for (const { nid, delta } of changes) {
        if (v.node !== null && v.node[nid] === 0) continue;
        for (let d = this.nodes[nid].domain; d >= 0; d = this.domains[d].parent) {
          if (this.domains[d].leafNode >= 0) continue;
          const sum = v.sum[d];
          for (let i = 0; i < delta.idx.length; i++) sum[delta.idx[i]] += delta.amt[i];
          dirty.add(d);
        }
      }
      const order = [...dirty].sort((a, b) => this.domains[b].depth - this.domains[a].depth);
      for (const d of order) this.recompute(v, this.domains[d], idx);
      if (dirty.size > 0 || this.domains[0].leafNode >= 0) this.refreshRootF(v, idx);
    }
  }

  /**
   * Brings the index up to a newer snapshot of the same cluster, as a rebuild from it would be,
   * by applying each changed node's new free capacity. Nodes are compared by object first: an
   * object seen before, whose figures no placement changed since, is skipped, so the caller
   * promises that a snapshot node object is never changed once offered (a changed node is a new
   * object). Returns false, leaving the index unfit for use, when the snapshot differs by more
   * than free capacity — nodes added, removed or renamed, labels, taints, readiness,
   * allocatable, the resource names a node reports, the cluster's status or levels — or when a
   * node is malformed, or frees more whole units of a countable resource than its histograms
   * hold: then the cluster must be indexed anew.
   */
  sync(snapshot: ClusterSnapshot, status: ClusterStatus): boolean {
    if (!this.status.ok || !status.ok) return false;
    const levels = snapshot.topologyLevels;
    if (!Array.isArray(levels) || levels.length !== this.levels.length) return false;
    for (let i = 0; i < levels.length; i++) if (levels[i] !== this.levels[i]) return false;
    const nodes = snapshot.nodes;
    if (!Array.isArray(nodes) || nodes.length !== this.seen.size) return false;
    const mark = ++this.syncs;
    const changes: NodeChange[] = [];
    const changed = new Set<number>();
    const validNames = new Set<string>();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as NodeSnapshot | undefined;
      const seen = n && typeof n.name === 'string' ? this.seen.get(n.name) : undefined;
      // Same count, every name known and none twice: the same set of nodes.
      if (!seen || seen.mark === mark) return false;
      seen.mark = mark;
      if (seen.source === n && (seen.nid < 0 || !this.dirty.has(seen.nid))) continue;
      if (seen.source !== n) {
        if (!differsOnlyInFree(seen.source, n!, i, validNames)) return false;
        seen.source = n!;
      }
      if (seen.nid < 0) continue;
      const node = this.nodes[seen.nid];
      const free = this.vector(n!.free, this.space);
      const idx: number[] = [];
      const amt: bigint[] = [];
      for (let r = 0; r < this.r; r++) {
        if (free[r] === node.free[r]) continue;
        const c = this.countableOf[r];
        if (c >= 0 && free[r] > BigInt(this.countable[c].k) * 1000n + 999n) return false;
        idx.push(r);
        amt.push(free[r] - node.free[r]);
        changed.add(r);
      }
      if (idx.length > 0) changes.push({ nid: seen.nid, delta: { idx, amt } });
    }
    if (changes.length > 0)
      this.change(
        changes,
        [...changed].sort((a, b) => a - b),
      );
    this.dirty.clear();
    // Views nobody asked for in the last batch stop costing every update; rebuilt on next use.
    for (let i = this.views.length - 1; i >= 0; i--) {
      const v = this.views[i];
      if (!v.used && v !== this.all) this.views.splice(i, 1);
      v.used = false;
    }
    for (const [sig, v] of this.viewBySig) if (!this.views.includes(v)) this.viewBySig.delete(sig);
    return true;
  }

  /** The id of the usable node with this name, or -1. */
  nodeId(name: string): number {
    return this.seen.get(name)?.nid ?? -1;
  }

  /**
   * Sets node `nid`'s free amounts of the named resources (resources outside the space are
   * ignored), as a placement that took more than its requests say (DRA devices) leaves them.
   */
  setFree(nid: number, amounts: Readonly<Record<string, bigint>>): void {
    const node = this.nodes[nid];
    if (!node) return;
    const idx: number[] = [];
    const amt: bigint[] = [];
    for (const [name, value] of Object.entries(amounts)) {
      const r = this.space.index.get(name);
      if (r === undefined || node.free[r] === value) continue;
      idx.push(r);
      amt.push(value - node.free[r]);
    }
    if (idx.length === 0) return;
    const order = idx.map((_, i) => i).sort((a, b) => idx[a] - idx[b]);
    const delta = { idx: order.map((i) => idx[i]), amt: order.map((i) => amt[i]) };
    this.change([{ nid, delta }], delta.idx);
  }

  // ----- fitting (the queries themselves are in ./capacity) -----

  /** How many members of `ps` fit on one node (capped at `limit`). */
  nodeCapacity(nid: number, ps: PreparedPodSet, v: View, limit: number): number {
    return nodeCapacity(this, nid, ps, v, limit);
  }

  /** Upper bound on members of `ps` in domain `d` from free-unit histograms. */
  countBound(d: number, ps: PreparedPodSet, v: View): number {
    return countBound(this, d, ps, v);
  }

  /** Whether at least `count` members of `ps` fit in domain `d`. */
  canHold(d: number, ps: PreparedPodSet, v: View, count: number): boolean {
    return canHold(this, d, ps, v, count);
  }

  /** Exact number of members of `ps` that fit in domain `d` (capped at `limit`). */
  capacity(d: number, ps: PreparedPodSet, v: View, limit: number): number {
    return capacity(this, d, ps, v, limit);
  }

  // ----- choosing -----

  /** Free figures of an item: a domain id, or node `n` as `-n - 1` (see `nodeItem`). */
  itemFree(v: View, item: number): readonly bigint[] {
    return item >= 0 ? this.sumOf(v, item) : this.nodes[-item - 1].free;
  }

  /** Allocatable figures of an item. */
  itemAlloc(v: View, item: number): readonly bigint[] {
    return item >= 0 ? this.allocOf(v, item) : this.nodes[-item - 1].alloc;
  }

  /** Name of an item: the domain's label value or the node's name. */
  itemName(item: number): string {
    return item >= 0 ? this.domains[item].value : this.nodes[-item - 1].name;
  }

  /** `items` in policy order for demand `need`, by the free figures of view `v` (see ./score). */
  order(v: View, items: number[], need: SparseRequest, policy: Policy): number[] {
    return order(this, v, items, need, policy);
  }

  /**
   * Depth-first search below `start` for a domain at `targetDepth` that `accept`s, visiting
   * children in policy order (by view `v`) and skipping those `prune` rejects. Returns the domain
   * id or -1.
   */
  search(
    v: View,
    start: number,
    targetDepth: number,
    need: SparseRequest,
    policy: Policy,
    prune: (d: number) => boolean,
    accept: (d: number) => boolean,
  ): number {
    const dom = this.domains[start];
    if (dom.depth === targetDepth) return accept(start) ? start : -1;
    const kids = dom.children.filter(prune);
    for (const c of order(this, v, kids, need, policy)) {
      const found = this.search(v, c, targetDepth, need, policy, prune, accept);
      if (found >= 0) return found;
    }
    return -1;
  }

  /**
   * Chooses nodes for `count` members of `ps` inside `item` (which must have capacity ≥ count),
   * appending node ids to `out`. If one child can take every member, the policy's first such
   * child gets them all (recursively, so members stay as close together as the free capacity
   * allows). Otherwise members are split: `pack` fills the largest children first and gives the
   * remainder to the tightest child that can hold it (fewest children used); `spread` fills
   * children in policy order.
   */
  assign(
    item: number,
    ps: PreparedPodSet,
    v: View,
    count: number,
    policy: Policy,
    out: number[],
  ): void {
    if (count === 0) return;
    if (item >= 0 && this.domains[item].leafNode >= 0) item = nodeItem(this.domains[item].leafNode);
    if (item < 0) {
      for (let i = 0; i < count; i++) out.push(-item - 1);
      return;
    }
    const dom = this.domains[item];
    const items: number[] = [];
    for (const nid of dom.nodes) if (this.eligible(v, nid)) items.push(nodeItem(nid));
    for (const cid of dom.children) {
      if (v.count[cid] > 0 && geq(this.maxOf(v, cid), ps.req)) items.push(cid);
    }
    const need = scaleSparse(ps.req, count);
    const ordered = order(this, v, items, need, policy);
    const caps = new Map<number, number>();
    for (const it of ordered) {
      if (!geq(this.itemFree(v, it), need)) continue;
      const cap = itemCapacity(this, it, ps, v, count);
      caps.set(it, cap);
      if (cap >= count) {
        this.assign(it, ps, v, count, policy, out);
        return;
      }
    }
    const avail: Array<{ it: number; cap: number }> = [];
    for (const it of ordered) {
      const cap = caps.get(it) ?? itemCapacity(this, it, ps, v, count);
      if (cap > 0) avail.push({ it, cap });
    }
    let remaining = count;
    if (policy === 'spread') {
      for (const a of avail) {
        if (remaining === 0) break;
        const k = Math.min(a.cap, remaining);
        this.assign(a.it, ps, v, k, policy, out);
        remaining -= k;
      }
    } else {
      while (remaining > 0 && avail.length > 0) {
        let fit = -1;
        let largest = 0;
        for (let i = 0; i < avail.length; i++) {
          const a = avail[i];
          if (a.cap >= remaining && (fit < 0 || a.cap < avail[fit].cap)) fit = i;
          if (a.cap > avail[largest].cap) largest = i;
        }
        const pick = fit >= 0 ? fit : largest;
        const a = avail[pick];
        const k = Math.min(a.cap, remaining);
        this.assign(a.it, ps, v, k, policy, out);
        remaining -= k;
        avail.splice(pick, 1);
      }
    }
    if (remaining !== 0) {
      // Unreachable when the caller checked capacity first; a bug here must not over-commit.
      throw new Error(
        `placement invariant violated: ${remaining} members of ${ps.name} unassigned`,
      );
    }
  }

  /** Lowest common domain of some nodes (the root when they span the cluster). */
  commonDomain(nodeIds: readonly number[]): number {
    if (nodeIds.length === 0) return 0;
    let lca = this.nodes[nodeIds[0]].domain;
    for (const nid of nodeIds) {
      let d = this.nodes[nid].domain;
      while (this.domains[d].depth > this.domains[lca].depth) d = this.domains[d].parent;
      while (this.domains[lca].depth > this.domains[d].depth) lca = this.domains[lca].parent;
      while (d !== lca) {
        d = this.domains[d].parent;
        lca = this.domains[lca].parent;
      }
    }
    return lca;
  }
}

export function scaleSparse(req: SparseRequest, count: number): SparseRequest {
  const k = BigInt(count);
  return { idx: req.idx, amt: req.amt.map((a) => a * k) };
}

/**
 * Whether `b`, a newer snapshot of node `a` at position `i`, is well formed and differs from it
 * at most in the amounts free: the same labels, taints, readiness, allocatable amounts and the
 * same resource names reported free. A copy that shares every part but `free` with `a` (how a
 * scheduler deducts what it holds) has only `free` checked: the rest was checked with `a`.
 */
function differsOnlyInFree(
  a: NodeSnapshot,
  b: NodeSnapshot,
  i: number,
  validNames: Set<string>,
): boolean {
  const copy =
    a.name === b.name &&
    a.labels === b.labels &&
    a.allocatable === b.allocatable &&
    a.taints === b.taints &&
    a.ready === b.ready &&
    a.unschedulable === b.unschedulable;
  if (copy) return !freeProblem(b, validNames) && sameKeys(a.free, b.free);
  return (
    !nodeProblem(b, i, validNames) &&
    a.name === b.name &&
    (a.ready === false) === (b.ready === false) &&
    (a.unschedulable === true) === (b.unschedulable === true) &&
    sameRecord(a.labels ?? {}, b.labels ?? {}) &&
    sameRecord(a.allocatable, b.allocatable) &&
    sameKeys(a.free, b.free) &&
    sameTaints(a.taints ?? [], b.taints ?? [])
  );
}

function sameRecord<T>(a: Readonly<Record<string, T>>, b: Readonly<Record<string, T>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys)
    if (!Object.prototype.hasOwnProperty.call(b, k) || a[k] !== b[k]) return false;
  return true;
}

function sameKeys(a: object, b: object): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
  return true;
}

function sameTaints(a: readonly Taint[], b: readonly Taint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.key !== y.key || (x.value ?? '') !== (y.value ?? '') || x.effect !== y.effect)
      return false;
  }
  return true;
}
