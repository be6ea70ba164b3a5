/**
 * Capacity queries over a {@link ClusterIndex}: how many members of one pod set fit on a node or
 * in a domain. Cheap upper bounds come first (free sums, and the free-unit histograms of countable
 * resources such as GPUs); the exact count walks only the subtrees that can hold a member, and is
 * cached per request shape until something below the domain changes.
 */
import type { ClusterIndex, PreparedPodSet, SparseRequest, View } from './cluster-index';

/** Below this, integer-valued floats add, compare, divide-and-floor and multiply back exactly. */
const EXACT_FLOAT = 2 ** 52;

/** Domains with at most this many eligible nodes are counted in full rather than up to a limit. */
const FULL_COUNT_NODES = 64;

/** Shapes cached per view before the cache is cleared (bounds memory with many distinct requests). */
const MAX_CACHED_SHAPES = 32;

/**
 * Cached member capacity of each non-leaf domain (by cache slot) for one request shape. An entry
 * is valid while `stamp` equals the domain's version + 1; `exact` says whether `cap` is the
 * capacity or only a lower bound (the walk stopped early at a limit).
 */
export interface CapacityCache {
  readonly stamp: Int32Array;
  readonly cap: Float64Array;
  readonly exact: Uint8Array;
}

/** True when `vec[r] >= amount` for every entry of `need`. */
export function geq(vec: readonly bigint[], need: SparseRequest): boolean {
  const { idx, amt } = need;
  for (let i = 0; i < idx.length; i++) if (vec[idx[i]] < amt[i]) return false;
  return true;
}

/** How many members of `ps` fit on one node (capped at `limit`). */
export function nodeCapacity(
  cx: ClusterIndex,
  nid: number,
  ps: PreparedPodSet,
  v: View,
  limit: number,
): number {
  if (v.node !== null && v.node[nid] === 0) return 0;
  const node = cx.nodes[nid];
  const freeF = node.freeF;
  const { idx, amt } = ps.req;
  const reqF = ps.reqF;
  let k = limit;
  for (let i = 0; i < idx.length; i++) {
    const f = freeF[idx[i]];
    const q = reqF[i];
    if (f < EXACT_FLOAT && q < EXACT_FLOAT) {
      // Both are integers below 2^52: comparisons, floor(f / q) (corrected) and c × q are exact.
      if (f < q) return 0;
      if (k > 1) {
        let c = Math.floor(f / q);
        if (c * q > f) c--;
        if (c < k) k = c;
      }
    } else {
      const fb = node.free[idx[i]];
      if (fb < amt[i]) return 0;
      if (k > 1) {
        const c = Number(fb / amt[i]); // may round when huge, but only ever compared with a small k
        if (c < k) k = c;
      }
    }
  }
  return k;
}

/** Upper bound on members of `ps` from free sums alone; Infinity when nothing is requested. */
function sumsBound(sum: readonly bigint[], ps: PreparedPodSet): number {
  let k: bigint | undefined;
  const { idx, amt } = ps.req;
  for (let i = 0; i < idx.length; i++) {
    const c = sum[idx[i]] / amt[i];
    if (k === undefined || c < k) k = c;
  }
  if (k === undefined) return Infinity;
  return k > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(k);
}

/**
 * Upper bound on members of `ps` in non-leaf domain `d` from the free-unit histograms of the
 * requested countable resources: Σ over bins of nodes × members one such node could take.
 * Infinity when no requested resource is countable.
 */
export function countBound(cx: ClusterIndex, d: number, ps: PreparedPodSet, v: View): number {
  const slot = cx.cacheSlot[d];
  if (slot < 0) return Infinity;
  let bound = Infinity;
  const { idx } = ps.req;
  for (let i = 0; i < idx.length; i++) {
    const c = cx.countableOf[idx[i]];
    const q = ps.reqF[i];
    if (c < 0 || q >= EXACT_FLOAT) continue;
    const width = cx.countable[c].k + 1;
    const h = v.hist[c];
    let total = 0;
    for (let b = 0; b < width; b++) {
      const nodes = h[slot * width + b];
      // A node in bin b has less than b + 1 units free; floor is exact or over-estimates.
      if (nodes > 0) total += nodes * Math.floor(((b + 1) * 1000 - 1) / q);
    }
    if (total < bound) bound = total;
  }
  return bound;
}

/** Whether at least `count` members of `ps` fit in domain `d`; cheap bounds first. */
export function canHold(
  cx: ClusterIndex,
  d: number,
  ps: PreparedPodSet,
  v: View,
  count: number,
): boolean {
  if (v.count[d] === 0) return false;
  if (cx.domains[d].leafNode < 0 && countBound(cx, d, ps, v) < count) return false;
  return capacity(cx, d, ps, v, count) >= count;
}

/**
 * Exact number of members of `ps` that fit in domain `d` (capped at `limit`). Members are
 * identical, so the per-node counts simply add up; subtrees that cannot hold one member are
 * skipped via `max`, and the walk stops as soon as `limit` is reached.
 */
export function capacity(
  cx: ClusterIndex,
  d: number,
  ps: PreparedPodSet,
  v: View,
  limit: number,
): number {
  if (limit <= 0 || v.count[d] === 0) return 0;
  const dom = cx.domains[d];
  if (dom.leafNode >= 0) return nodeCapacity(cx, dom.leafNode, ps, v, limit);
  if (!geq(v.max[d], ps.req)) return 0;
  const sumBound = Math.min(sumsBound(v.sum[d], ps), countBound(cx, d, ps, v));
  if (sumBound === 0) return 0;
  // Cached result for this request shape, valid while nothing below `d` changed. Unchanged
  // clusters (all but one after each decision) then answer in O(1) for gangs of a known shape.
  let cache = v.capacities.get(ps.shape);
  if (!cache) {
    if (v.capacities.size >= MAX_CACHED_SHAPES) v.capacities.clear();
    const n = cx.cacheSlots;
    cache = { stamp: new Int32Array(n), cap: new Float64Array(n), exact: new Uint8Array(n) };
    v.capacities.set(ps.shape, cache);
  }
  const slot = cx.cacheSlot[d];
  const stamp = cx.version[d] + 1;
  if (cache.stamp[slot] === stamp) {
    if (cache.exact[slot] === 1) return Math.min(cache.cap[slot], limit);
    if (cache.cap[slot] >= limit) return limit;
  }
  // Small domains (racks, typically) are always counted in full: the exact figure is cached and
  // then serves every later limit, so parents add up cached children instead of re-walking nodes.
  const bound = v.count[d] <= FULL_COUNT_NODES ? sumBound : Math.min(sumBound, limit);
  let total = 0;
  for (const nid of dom.nodes) {
    total += nodeCapacity(cx, nid, ps, v, bound - total);
    if (total >= bound) break;
  }
  if (total < bound) {
    for (const cid of dom.children) {
      total += capacity(cx, cid, ps, v, bound - total);
      if (total >= bound) break;
    }
  }
  // Exact unless the walk stopped at the caller's limit (the upper bound cannot be exceeded).
  const exact = total < bound || bound === sumBound;
  if (cache.stamp[slot] !== stamp || exact || total > cache.cap[slot]) {
    cache.stamp[slot] = stamp;
    cache.cap[slot] = total;
    cache.exact[slot] = exact ? 1 : 0;
  }
  return Math.min(total, limit);
}

/** Capacity of an item: a domain id, or a node id `n` encoded as `-n - 1`. */
export function itemCapacity(
  cx: ClusterIndex,
  item: number,
  ps: PreparedPodSet,
  v: View,
  limit: number,
): number {
  return item >= 0 ? capacity(cx, item, ps, v, limit) : nodeCapacity(cx, -item - 1, ps, v, limit);
}
