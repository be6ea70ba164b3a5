/**
 * Fitting one gang into one cluster index: prechecks from aggregates, then a greedy, policy-ordered
 * placement of pod sets with rollback. Internal; the public entry points are in ./place.
 */
import {
  ClusterIndex,
  geq,
  mayHold,
  Policy,
  PreparedPodSet,
  ResourceSpace,
  scaleSparse,
  SparseRequest,
} from './cluster-index';
import { Gang } from './model';

/** A gang translated to the resource space of a batch. */
export interface PreparedGang {
  readonly gang: Gang;
  readonly podSets: readonly PreparedPodSet[];
  /**
   * Placement order (positions in `podSets`): colocated pod sets first, then pod sets with a
   * required topology, then preferred, then unconstrained; within each class pod sets with a node
   * selector first, then gang order. The most constrained go first because they have the fewest
   * options left once others took capacity.
   */
  readonly order: readonly number[];
  /** The colocation group: its level, member pod sets with at least one member, their demand. */
  readonly group:
    | { readonly level: string; readonly members: readonly number[]; readonly need: SparseRequest }
    | undefined;
  /** Whole-gang demand. */
  readonly total: SparseRequest;
  readonly totalF: Float64Array;
  readonly groupNeedF: Float64Array | undefined;
  /** Requested resources (with a non-zero amount) that no node in the snapshot reports at all. */
  readonly unknown: ReadonlyArray<{ readonly name: string; readonly amount: bigint }>;
}

export function prepareGang(gang: Gang, space: ResourceSpace): PreparedGang {
  const unknown = new Map<string, bigint>();
  const totalVec = new Map<number, bigint>();
  const podSets: PreparedPodSet[] = gang.podSets.map((ps, position) => {
    const idx: number[] = [];
    const amt: bigint[] = [];
    for (const name of Object.keys(ps.requests).sort()) {
      const a = ps.requests[name];
      if (a === 0n) continue;
      const r = space.index.get(name);
      if (r === undefined) {
        if (ps.count > 0) unknown.set(name, (unknown.get(name) ?? 0n) + a * BigInt(ps.count));
        continue;
      }
      idx.push(r);
      amt.push(a);
    }
    const order = idx.map((_, i) => i).sort((a, b) => idx[a] - idx[b]);
    const req: SparseRequest = { idx: order.map((i) => idx[i]), amt: order.map((i) => amt[i]) };
    const need = scaleSparse(req, ps.count);
    need.idx.forEach((r, i) => totalVec.set(r, (totalVec.get(r) ?? 0n) + need.amt[i]));
    const selector =
      ps.nodeSelector && Object.keys(ps.nodeSelector).length > 0 ? ps.nodeSelector : undefined;
    const tolerations = ps.tolerations && ps.tolerations.length > 0 ? ps.tolerations : undefined;
    const nodeAffinity = ps.nodeAffinity;
    const sig =
      selector || tolerations || nodeAffinity
        ? JSON.stringify([
            Object.keys(selector ?? {})
              .sort()
              .map((k) => [k, (selector ?? {})[k]]),
            (tolerations ?? []).map((t) => [
              t.key ?? '',
              t.operator ?? 'Equal',
              t.value ?? '',
              t.effect ?? '',
            ]),
            nodeAffinity?.nodeSelectorTerms ?? null,
          ])
        : '';
    return {
      name: ps.name,
      position,
      count: ps.count,
      req,
      need,
      requests: ps.requests,
      selector,
      nodeAffinity,
      tolerations,
      sig,
      reqF: Float64Array.from(req.amt, Number),
      needF: Float64Array.from(need.amt, Number),
      shape: `${req.idx.join(',')}:${req.amt.join(',')}`,
      topology: ps.topology,
    };
  });
  const inGroup = new Set(gang.colocation?.podSets ?? []);
  const rank = (ps: PreparedPodSet): number =>
    inGroup.has(ps.name) ? 0 : ps.topology?.mode === 'required' ? 1 : ps.topology ? 2 : 3;
  const restricted = (ps: PreparedPodSet): number => (ps.selector || ps.nodeAffinity ? 0 : 1);
  const order = podSets
    .map((ps) => ps.position)
    .sort(
      (a, b) =>
        rank(podSets[a]) - rank(podSets[b]) ||
        restricted(podSets[a]) - restricted(podSets[b]) ||
        a - b,
    );
  let group: PreparedGang['group'];
  if (gang.colocation) {
    const members = order.filter((p) => inGroup.has(podSets[p].name) && podSets[p].count > 0);
    const vec = new Map<number, bigint>();
    for (const p of members) {
      const n = podSets[p].need;
      n.idx.forEach((r, i) => vec.set(r, (vec.get(r) ?? 0n) + n.amt[i]));
    }
    group = { level: gang.colocation.level, members, need: sparseFromMap(vec) };
  }
  const total = sparseFromMap(totalVec);
  return {
    gang,
    podSets,
    order,
    group,
    total,
    totalF: Float64Array.from(total.amt, Number),
    groupNeedF: group ? Float64Array.from(group.need.amt, Number) : undefined,
    unknown: [...unknown.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, amount]) => ({ name, amount })),
  };
}

function sparseFromMap(m: Map<number, bigint>): SparseRequest {
  const idx = [...m.keys()].filter((r) => (m.get(r) ?? 0n) > 0n).sort((a, b) => a - b);
  return { idx, amt: idx.map((r) => m.get(r) ?? 0n) };
}

/**
 * Cheap necessary conditions from the cluster's root aggregates (O(pod sets × resources), in
 * floats with a safety margin, see {@link mayHold}). A gang that fails here cannot fit; one that
 * passes may still fail the exact placement.
 */
export function precheck(cx: ClusterIndex, pg: PreparedGang): boolean {
  if (pg.unknown.length > 0) return false;
  const all = cx.all.rootF;
  if (!mayHold(all[0], pg.total.idx, pg.totalF)) return false;
  for (const ps of pg.podSets) {
    if (ps.count === 0) continue;
    const v = cx.view(ps);
    if (v.count[0] === 0) return false;
    const f = v.rootF;
    if (!mayHold(f[0], ps.need.idx, ps.needF) || !mayHold(f[1], ps.req.idx, ps.reqF)) return false;
    if (ps.topology?.mode === 'required') {
      const depth = cx.depthOf.get(ps.topology.level);
      if (depth === undefined || !mayHold(f[depth + 1], ps.need.idx, ps.needF)) return false;
    }
  }
  if (pg.group && pg.group.members.length > 0) {
    const depth = cx.depthOf.get(pg.group.level);
    if (
      depth === undefined ||
      !mayHold(all[depth + 1], pg.group.need.idx, pg.groupNeedF as Float64Array)
    ) {
      return false;
    }
  }
  return true;
}

/** Where one pod set went: node ids per member, and the domain it was kept in (0 = cluster). */
export interface PodSetAssignment {
  readonly nodes: readonly number[];
  readonly domain: number;
}

/** Why the greedy placement stopped, for explanations. */
export interface AttemptFailure {
  /** Pod set that could not be placed, or `undefined` when the colocation group failed. */
  readonly podSet: string | undefined;
  /** Pod sets placed before it. */
  readonly placedBefore: readonly string[];
}

export type AttemptResult =
  | { readonly ok: true; readonly assignments: readonly PodSetAssignment[] }
  | { readonly ok: false; readonly failure: AttemptFailure };

/**
 * Places the whole gang in `cx`, committing to the index on success and leaving the index exactly
 * as it was on failure.
 *
 * Most-constrained-first is a heuristic: a constrained pod set can take the very nodes an
 * unconstrained one had no alternative to. When pod sets conflict in that order, least slack
 * first and then the gang's own order are tried too (each attempt rolls back whole) before the
 * first failure is reported. At most three attempts, and only after a conflict between pod sets.
 */
export function placeInCluster(cx: ClusterIndex, pg: PreparedGang, policy: Policy): AttemptResult {
  const first = placeInOrder(cx, pg, policy, pg.order);
  if (first.ok || first.failure.podSet === undefined) return first;
  const tried = new Set([pg.order.join()]);
  const positions = pg.podSets.map((ps) => ps.position);
  // Least slack first: the pod set whose eligible nodes could take the fewest members beyond
  // its own goes before those with room to spare.
  const slack = positions.map((p) => {
    const ps = pg.podSets[p];
    return ps.count === 0 ? Infinity : cx.countBound(0, ps, cx.view(ps)) - ps.count;
  });
  const scarcest = [...positions].sort((a, b) => slack[a] - slack[b] || a - b);
  for (const order of [scarcest, positions]) {
    if (tried.has(order.join())) continue;
    tried.add(order.join());
    const again = placeInOrder(cx, pg, policy, order);
    if (again.ok) return again;
  }
  return first;
}

function placeInOrder(
  cx: ClusterIndex,
  pg: PreparedGang,
  policy: Policy,
  order: readonly number[],
): AttemptResult {
  const undo: Array<{ counts: Map<number, number>; req: SparseRequest }> = [];
  const assignments: Array<PodSetAssignment | undefined> = new Array(pg.podSets.length);
  const placed: string[] = [];
  const rollback = (mark: number): void => {
    while (undo.length > mark) {
      const u = undo.pop() as { counts: Map<number, number>; req: SparseRequest };
      cx.apply(u.counts, u.req, 1n);
    }
  };

  const placeOne = (ps: PreparedPodSet, container: number): boolean => {
    if (ps.count === 0) {
      assignments[ps.position] = { nodes: [], domain: container };
      placed.push(ps.name);
      return true;
    }
    const v = cx.view(ps);
    const cDepth = cx.domains[container].depth;
    const c = ps.count;
    const prune = (target: number) => (d: number) =>
      v.count[d] > 0 &&
      geq(cx.maxOf(v, d), ps.req) &&
      geq(cx.domains[d].depth === target ? cx.sumOf(v, d) : cx.maxBelowOf(v, d, target), ps.need) &&
      cx.countBound(d, ps, v) >= c;
    const accept = (d: number) => cx.canHold(d, ps, v, c);

    let target = -1;
    const depth = ps.topology ? cx.depthOf.get(ps.topology.level) : undefined;
    if (ps.topology?.mode === 'required' && depth === undefined) return false;
    if (depth !== undefined && depth > cDepth) {
      if (ps.topology?.mode === 'required') {
        target = cx.search(v, container, depth, ps.need, policy, prune(depth), accept);
        if (target < 0) return false;
      } else {
        // Preferred: the requested level first, then each broader level, then the container.
        for (let d = depth; d > cDepth && target < 0; d--) {
          target = cx.search(v, container, d, ps.need, policy, prune(d), accept);
        }
      }
    }
    if (target < 0) {
      if (!accept(container)) return false;
      target = container;
    }
    const out: number[] = [];
    cx.assign(target, ps, v, c, policy, out);
    const counts = new Map<number, number>();
    for (const nid of out) counts.set(nid, (counts.get(nid) ?? 0) + 1);
    cx.apply(counts, ps.req, -1n);
    undo.push({ counts, req: ps.req });
    assignments[ps.position] = { nodes: out, domain: target };
    placed.push(ps.name);
    return true;
  };

  const fail = (podSet: string | undefined): AttemptResult => {
    const placedBefore = [...placed];
    rollback(0);
    return { ok: false, failure: { podSet, placedBefore } };
  };

  const grouped = new Set<number>();
  if (pg.group && pg.group.members.length > 0) {
    const group = pg.group;
    const depth = cx.depthOf.get(group.level);
    if (depth === undefined) return fail(undefined);
    const members = group.members.map((p) => pg.podSets[p]);
    const views = members.map((ps) => cx.view(ps));
    const prune = (d: number): boolean =>
      geq(
        cx.domains[d].depth === depth ? cx.sumOf(cx.all, d) : cx.maxBelowOf(cx.all, d, depth),
        group.need,
      ) &&
      members.every(
        (ps, i) =>
          ps.count === 0 ||
          (views[i].count[d] > 0 &&
            geq(cx.maxOf(views[i], d), ps.req) &&
            cx.countBound(d, ps, views[i]) >= ps.count),
      );
    const accept = (d: number): boolean => {
      // Each member must fit the domain on its own (cached, no changes) before trying them together.
      if (!members.every((ps, i) => cx.canHold(d, ps, views[i], ps.count))) return false;
      const mark = undo.length;
      const placedMark = placed.length;
      for (const ps of members) {
        if (!placeOne(ps, d)) {
          rollback(mark);
          placed.length = placedMark;
          return false;
        }
      }
      return true;
    };
    if (cx.search(cx.all, 0, depth, group.need, policy, prune, accept) < 0) return fail(undefined);
    for (const p of group.members) grouped.add(p);
  }
  for (const p of order) {
    if (grouped.has(p)) continue;
    const ps = pg.podSets[p];
    if (!placeOne(ps, 0)) return fail(ps.name);
  }
  return { ok: true, assignments: assignments as PodSetAssignment[] };
}
