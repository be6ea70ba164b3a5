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
 * The greedy placement comes first and decides whenever it fits: pod sets one after another, most
 * constrained first, each where the policy ranks best. That order is a heuristic, though: one pod
 * set can take the nodes, or the domain, that another had no alternative to. When the greedy
 * placement fails, a bounded search for another placement follows ({@link searchPlacement}); the
 * greedy failure is reported when it finds none.
 */
export function placeInCluster(cx: ClusterIndex, pg: PreparedGang, policy: Policy): AttemptResult {
  const first = placeGreedy(cx, pg, policy);
  if (first.ok) return first;
  return searchPlacement(cx, pg, policy) ?? first;
}

/** Greedy placement: the colocation group, then the other pod sets in `pg.order`. */
export function placeGreedy(cx: ClusterIndex, pg: PreparedGang, policy: Policy): AttemptResult {
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
    const target = chooseDomain(cx, ps, container, policy);
    if (target < 0) return false;
    const out: number[] = [];
    cx.assign(target, ps, cx.view(ps), ps.count, policy, out);
    const counts = countsOf(out);
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
    const group = colocation(cx, pg, pg.group);
    if (!group) return fail(undefined);
    const accept = (d: number): boolean => {
      // Each member must fit the domain on its own (cached, no changes) before trying them together.
      if (!group.eachFits(d)) return false;
      const mark = undo.length;
      const placedMark = placed.length;
      for (const ps of group.members) {
        if (!placeOne(ps, d)) {
          rollback(mark);
          placed.length = placedMark;
          return false;
        }
      }
      return true;
    };
    if (cx.search(cx.all, 0, group.depth, group.need, policy, group.prune, accept) < 0)
      return fail(undefined);
    for (const p of pg.group.members) grouped.add(p);
  }
  for (const p of pg.order) {
    if (grouped.has(p)) continue;
    const ps = pg.podSets[p];
    if (!placeOne(ps, 0)) return fail(ps.name);
  }
  return { ok: true, assignments: assignments as PodSetAssignment[] };
}

function countsOf(nodes: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const nid of nodes) counts.set(nid, (counts.get(nid) ?? 0) + 1);
  return counts;
}

/** Domains below `container` at `target` depth that could hold all of `ps` (aggregates only). */
function podSetPrune(cx: ClusterIndex, ps: PreparedPodSet, target: number) {
  const v = cx.view(ps);
  return (d: number): boolean =>
    v.count[d] > 0 &&
    geq(cx.maxOf(v, d), ps.req) &&
    geq(cx.domains[d].depth === target ? cx.sumOf(v, d) : cx.maxBelowOf(v, d, target), ps.need) &&
    cx.countBound(d, ps, v) >= ps.count;
}

/**
 * Where the greedy placement keeps pod set `ps` (count > 0) inside `container`: for a required
 * level the policy's first domain of that level that holds it; for a preferred level the first
 * such domain at that level, then at each broader level, then the container; else the container.
 * -1 when nothing holds it. Exact for one pod set alone; changes nothing but capacity caches.
 */
function chooseDomain(
  cx: ClusterIndex,
  ps: PreparedPodSet,
  container: number,
  policy: Policy,
): number {
  const v = cx.view(ps);
  const cDepth = cx.domains[container].depth;
  const accept = (d: number) => cx.canHold(d, ps, v, ps.count);
  const depth = ps.topology ? cx.depthOf.get(ps.topology.level) : undefined;
  if (ps.topology?.mode === 'required' && depth === undefined) return -1;
  let target = -1;
  if (depth !== undefined && depth > cDepth) {
    if (ps.topology?.mode === 'required')
      return cx.search(v, container, depth, ps.need, policy, podSetPrune(cx, ps, depth), accept);
    // Preferred: the requested level first, then each broader level, then the container.
    for (let d = depth; d > cDepth && target < 0; d--)
      target = cx.search(v, container, d, ps.need, policy, podSetPrune(cx, ps, d), accept);
  }
  if (target < 0 && accept(container)) target = container;
  return target;
}

/** The colocation group's level and members, and its domain filters; undefined without the level. */
function colocation(
  cx: ClusterIndex,
  pg: PreparedGang,
  group: NonNullable<PreparedGang['group']>,
):
  | {
      readonly depth: number;
      readonly need: SparseRequest;
      readonly members: readonly PreparedPodSet[];
      /** Aggregate checks: could a domain hold the group's demand and each member? */
      readonly prune: (d: number) => boolean;
      /** Exact: each member fits the domain on its own. */
      readonly eachFits: (d: number) => boolean;
    }
  | undefined {
  const depth = cx.depthOf.get(group.level);
  if (depth === undefined) return undefined;
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
  const eachFits = (d: number): boolean =>
    members.every((ps, i) => cx.canHold(d, ps, views[i], ps.count));
  return { depth, need: group.need, members, prune, eachFits };
}

/**
 * Work {@link searchPlacement} may do for one gang in one cluster, counted in nodes: trying a
 * choice costs one plus its distinct nodes (the index update, its undo and the later pod sets'
 * fit checks scale with them), listing and splitting members one per node looked at. A greedy pod
 * set placement costs about its distinct nodes too, so a gang spread over 256 nodes gets about
 * four retries' worth, and a gang of a few members on a dozen nodes some hundred choices (the
 * hardest such gang seen in 20,000 random snapshots needed about a third of this).
 */
export const SEARCH_BUDGET = 1024;

/** Where one pod set goes in the search: the domain it is kept in and a node per member. */
interface Choice {
  readonly domain: number;
  readonly nodes: readonly number[];
}

interface Budget {
  left: number;
}

const OUT_OF_BUDGET = new Error('placement search budget used up');

function spend(budget: Budget, work: number): void {
  budget.left -= work;
  if (budget.left < 0) throw OUT_OF_BUDGET;
}

/**
 * Backtracking search, after the greedy placement failed: depth first over the choices the greedy
 * makes, with the alternatives of each. First the colocation domain (each domain of the group's
 * level that could hold every member, in policy order), then each pod set with members (colocated
 * ones first, then `pg.order`), whose alternatives are, in this order:
 * 1. the greedy choice, so the first placement tried is the greedy one;
 * 2. the greedy assignment in each other domain its topology allows: every domain of a required
 *    level; for a preferred level every domain of it and of each broader level, then the
 *    container;
 * 3. every split of its members over the eligible nodes of each required-level domain (else of the
 *    container), most members per node first, the nodes the later pod sets could use least first.
 * The last pod set has only the greedy choice, which is exact for one pod set alone. After each
 * choice every later pod set must still fit on its own, else the next alternative is tried. A
 * first pass leaves out the splits (3.), so that a wrong domain early on is undone before the
 * budget goes to splitting members; the second pass has them all.
 *
 * Budget: {@link SEARCH_BUDGET} per gang and cluster, shared by both passes; when it runs out the
 * search stops, the index is left as it was and the greedy failure stands. So the search of a
 * large gang costs a few greedy placements, whatever its size, and a small gang on a few nodes is
 * placed whenever a placement exists.
 */
function searchPlacement(
  cx: ClusterIndex,
  pg: PreparedGang,
  policy: Policy,
): AttemptResult | undefined {
  const group = pg.group && pg.group.members.length > 0 ? colocation(cx, pg, pg.group) : undefined;
  if (pg.group && pg.group.members.length > 0 && !group) return undefined;
  const inGroup = new Set(group?.members.map((ps) => ps.position) ?? []);
  const steps = [
    ...(group?.members ?? []),
    ...pg.order.filter((p) => !inGroup.has(p)).map((p) => pg.podSets[p]),
  ].filter((ps) => ps.count > 0);
  // One pod set alone (within each colocation domain) is placed exactly by the greedy.
  if (steps.length < 2) return undefined;

  const budget: Budget = { left: SEARCH_BUDGET };
  const undo: Array<{ counts: Map<number, number>; req: SparseRequest }> = [];
  const chosen: Array<Choice | undefined> = new Array(pg.podSets.length);
  let groupDomain = 0;
  const containerOf = (ps: PreparedPodSet): number => (inGroup.has(ps.position) ? groupDomain : 0);
  const laterFit = (from: number): boolean =>
    steps.slice(from).every((ps) => chooseDomain(cx, ps, containerOf(ps), policy) >= 0);

  const solve = (i: number, withSplits: boolean): boolean => {
    const ps = steps[i];
    const later = steps.slice(i + 1);
    const options = alternatives(cx, ps, containerOf(ps), policy, later, withSplits, budget);
    for (const choice of options) {
      const counts = countsOf(choice.nodes);
      spend(budget, 1 + counts.size);
      cx.apply(counts, ps.req, -1n);
      undo.push({ counts, req: ps.req });
      if (later.length === 0 || (laterFit(i + 1) && solve(i + 1, withSplits))) {
        chosen[ps.position] = choice;
        return true;
      }
      undo.pop();
      cx.apply(counts, ps.req, 1n);
    }
    return false;
  };
  const groupDomains: number[] = [];
  if (group) {
    cx.search(cx.all, 0, group.depth, group.need, policy, group.prune, (d) => {
      if (group.eachFits(d)) groupDomains.push(d);
      return false;
    });
  }
  const attempt = (withSplits: boolean): boolean => {
    if (!group) return laterFit(0) && solve(0, withSplits);
    for (const d of groupDomains) {
      spend(budget, 1);
      groupDomain = d;
      if (laterFit(0) && solve(0, withSplits)) return true;
    }
    return false;
  };

  let found = false;
  try {
    // Without any domain to choose, the first pass would only repeat the greedy placement.
    const domainChoices = group !== undefined || steps.some((ps) => ps.topology !== undefined);
    found = (domainChoices && attempt(false)) || attempt(true);
  } catch (e) {
    if (e !== OUT_OF_BUDGET) throw e;
  }
  if (!found) {
    while (undo.length > 0) {
      const u = undo.pop() as { counts: Map<number, number>; req: SparseRequest };
      cx.apply(u.counts, u.req, 1n);
    }
    return undefined;
  }
  const assignments = pg.podSets.map(
    (ps): PodSetAssignment => chosen[ps.position] ?? { nodes: [], domain: 0 },
  );
  return { ok: true, assignments };
}

/**
 * The alternatives of one pod set for {@link searchPlacement}, best first, without repeats. The
 * caller undoes each before asking for the next, so all are computed against the same index.
 */
function* alternatives(
  cx: ClusterIndex,
  ps: PreparedPodSet,
  container: number,
  policy: Policy,
  later: readonly PreparedPodSet[],
  withSplits: boolean,
  budget: Budget,
): Generator<Choice, void, undefined> {
  const target = chooseDomain(cx, ps, container, policy);
  if (target < 0) return;
  const v = cx.view(ps);
  const seen = new Set<string>();
  const fresh = (nodes: readonly number[]): boolean => {
    const key = [...nodes].sort((a, b) => a - b).join();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const assignIn = (d: number): number[] => {
    const out: number[] = [];
    cx.assign(d, ps, v, ps.count, policy, out);
    return out;
  };
  const first = assignIn(target);
  fresh(first);
  yield { domain: target, nodes: first };
  if (later.length === 0) return;

  const holds = (d: number): boolean => cx.canHold(d, ps, v, ps.count);
  const domainsAt = (depth: number): number[] => {
    const out: number[] = [];
    cx.search(v, container, depth, ps.need, policy, podSetPrune(cx, ps, depth), (d) => {
      if (holds(d)) out.push(d);
      return false;
    });
    return out;
  };
  const cDepth = cx.domains[container].depth;
  const depth = ps.topology ? cx.depthOf.get(ps.topology.level) : undefined;
  let whole: number[] = [];
  let split: number[] = holds(container) ? [container] : [];
  if (depth !== undefined && depth > cDepth) {
    if (ps.topology?.mode === 'required') {
      whole = domainsAt(depth);
      split = whole;
    } else {
      for (let d = depth; d > cDepth; d--) whole.push(...domainsAt(d));
      whole.push(...split);
    }
  }
  for (const d of whole) {
    if (d === target) continue;
    const nodes = assignIn(d);
    if (fresh(nodes)) yield { domain: d, nodes };
  }
  if (!withSplits) return;
  for (const d of split) {
    for (const nodes of splits(cx, ps, d, policy, later, budget)) {
      if (fresh(nodes)) yield { domain: d, nodes };
    }
  }
}

/**
 * Every way to put the members of `ps` on the eligible nodes below domain `d`, as node lists. The
 * nodes go in policy order, then stably by how many members of the later pod sets each could take
 * (fewest first); splits are enumerated with the most members on the first nodes first (the
 * rightmost node that can give one up does, the nodes after it are refilled in order).
 */
function* splits(
  cx: ClusterIndex,
  ps: PreparedPodSet,
  d: number,
  policy: Policy,
  later: readonly PreparedPodSet[],
  budget: Budget,
): Generator<number[], void, undefined> {
  const v = cx.view(ps);
  const ids: number[] = [];
  const walk = (x: number): void => {
    const dom = cx.domains[x];
    for (const nid of dom.nodes) {
      spend(budget, 1);
      if (cx.nodeCapacity(nid, ps, v, 1) > 0) ids.push(nid);
    }
    for (const c of dom.children) if (v.count[c] > 0 && geq(cx.maxOf(v, c), ps.req)) walk(c);
  };
  walk(d);
  const items = cx
    .order(
      v,
      ids.map((nid) => -nid - 1),
      ps.need,
      policy,
    )
    .map((it) => -it - 1);
  const contention = new Map<number, number>();
  for (const nid of items) {
    spend(budget, 1);
    let k = 0;
    for (const q of later) k += cx.nodeCapacity(nid, q, cx.view(q), q.count);
    contention.set(nid, k);
  }
  items.sort((a, b) => (contention.get(a) as number) - (contention.get(b) as number));
  const n = items.length;
  const caps = items.map((nid) => cx.nodeCapacity(nid, ps, v, ps.count));
  // room[j]: members the nodes from j on can take.
  const room = new Array<number>(n + 1).fill(0);
  for (let j = n - 1; j >= 0; j--) room[j] = room[j + 1] + caps[j];
  if (room[0] < ps.count) return;
  const k = new Array<number>(n).fill(0);
  const fill = (from: number, left: number): void => {
    for (let j = from; j < n; j++) {
      k[j] = Math.min(caps[j], left);
      left -= k[j];
    }
  };
  fill(0, ps.count);
  for (;;) {
    const nodes: number[] = [];
    for (let j = 0; j < n; j++) for (let m = 0; m < k[j]; m++) nodes.push(items[j]);
    yield nodes;
    let tail = 0;
    let j = n - 1;
    for (; j >= 0; j--) {
      spend(budget, 1);
      if (k[j] > 0 && room[j + 1] - tail > 0) break;
      tail += k[j];
    }
    if (j < 0) return;
    k[j]--;
    fill(j + 1, tail + 1);
  }
}
