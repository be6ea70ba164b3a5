/**
 * Ordering and scoring by policy: the exact ratio keys that rank domains, nodes and clusters for a
 * demand (`pack` tightest first, `spread` emptiest first), and the name order that breaks ties.
 */
import type { ClusterIndex, Policy, SparseRequest, View } from './cluster-index';

/**
 * Orders domains/nodes by policy for a demand `need`, using free figures of view `v`:
 * - `pack`: least free first, measured as min over requested resources of free / need, so the
 *   tightest domain that can take the demand is tried first and big domains stay whole;
 * - `spread`: most free first, measured as min over requested resources of
 *   (free − need) / allocatable, i.e. the emptiest after placement.
 * Ties: domains before nodes, then by name — never by input order.
 */
export function order(
  cx: ClusterIndex,
  v: View,
  items: number[],
  need: SparseRequest,
  policy: Policy,
): number[] {
  if (items.length < 2) return items;
  const keys = items.map((it) => scoreKey(cx.itemFree(v, it), cx.itemAlloc(v, it), need, policy));
  const pos = items.map((_, i) => i);
  pos.sort((a, b) => {
    const c = compareKeys(keys[a], keys[b], policy);
    if (c !== 0) return c;
    const ia = items[a];
    const ib = items[b];
    if (ia >= 0 !== ib >= 0) return ia >= 0 ? -1 : 1;
    return cmpStr(cx.itemName(ia), cx.itemName(ib));
  });
  return pos.map((p) => items[p]);
}

/**
 * A fraction with a positive denominator. `approx` is its float value; comparisons use it when
 * the two floats are clearly apart and fall back to exact cross-multiplication otherwise, so the
 * order is always the exact one.
 */
export interface Ratio {
  readonly num: bigint;
  readonly den: bigint;
  readonly approx: number;
}

function ratio(num: bigint, den: bigint): Ratio {
  return { num, den, approx: Number(num) / Number(den) };
}

/** Exact comparison of two ratios: -1, 0 or 1. */
export function compareRatios(a: Ratio, b: Ratio): number {
  const x = a.approx;
  const y = b.approx;
  // Each float carries a relative error below 2^-51; a gap of 1e-9 of the magnitudes is decisive.
  if (Math.abs(x - y) > 1e-9 * (Math.abs(x) + Math.abs(y))) return x < y ? -1 : 1;
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

const ZERO_RATIO = ratio(0n, 1n);

/** Policy score of a domain/node/cluster with free `free` for demand `need` (see {@link order}). */
export function scoreKey(
  free: readonly bigint[],
  alloc: readonly bigint[],
  need: SparseRequest,
  policy: Policy,
): Ratio {
  let best: Ratio | undefined;
  const { idx, amt } = need;
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    const k =
      policy === 'pack'
        ? ratio(free[r], amt[i])
        : ratio(free[r] - amt[i], alloc[r] > 0n ? alloc[r] : 1n);
    if (!best || compareRatios(k, best) < 0) best = k;
  }
  return best ?? ZERO_RATIO;
}

/** Sort comparator: pack ascending, spread descending. */
export function compareKeys(a: Ratio, b: Ratio, policy: Policy): number {
  const c = compareRatios(a, b);
  return policy === 'pack' ? c : -c;
}

export function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
