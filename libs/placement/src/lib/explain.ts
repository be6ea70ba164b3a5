/**
 * Explanations for "why does this gang not fit this cluster". Only computed for gangs that fit
 * nowhere, so it may walk nodes; every sentence states a fact about the snapshot (with exact
 * figures), never a guess, so an operator can act on it.
 */
import { geq } from './capacity';
import { ClusterIndex, PreparedPodSet, SparseRequest, View } from './cluster-index';
import { AttemptFailure, PreparedGang } from './fit';
import { formatQuantity } from './quantity';
import { formatResourceList } from './resources';
import {
  firstUntoleratedTaint,
  formatNodeAffinity,
  formatSelector,
  formatTaint,
  matchesNodeAffinity,
  matchesNodeSelector,
} from './scheduling';

/** Machine-readable reason a gang does not fit a cluster. */
export type FitReasonCode =
  /** The cluster snapshot is malformed (or its name is not unique); the cluster is skipped. */
  | 'InvalidClusterSnapshot'
  /** The cluster is marked not ready. */
  | 'ClusterNotReady'
  /** The cluster is cordoned by an operator. */
  | 'ClusterCordoned'
  /** The caller excluded the cluster for this gang (`Gang.excludedClusters`). */
  | 'ExcludedForGang'
  /** The caller's quota holds the gang out of the cluster (the session's `heldOut`). */
  | 'QuotaExceeded'
  /** No node is both ready and schedulable. */
  | 'NoSchedulableNodes'
  /** Free capacity (of the whole cluster, or of the nodes a pod set may use) is below the demand. */
  | 'InsufficientCapacity'
  /** A pod set's node selector matches no usable node. */
  | 'NodeSelectorMismatch'
  /** A pod set's required node affinity matches no usable node (that its selector allows). */
  | 'NodeAffinityMismatch'
  /** Every usable node matching the selector has a taint the pod set does not tolerate. */
  | 'UntoleratedTaint'
  /** A required topology level is not one of the cluster's topology levels. */
  | 'UnknownTopologyLevel'
  /** No node (that the pod set may use) carries the label of the required level. */
  | 'NoTopologyDomain'
  /** No single node has room for even one member. */
  | 'NoNodeFitsMember'
  /** No node has the DRA devices one member claims (class, selectors, count, constraints). */
  | 'NoDeviceFits'
  /** Enough free in total, but split across nodes so not every member gets a node. */
  | 'FragmentedCapacity'
  /** No single domain of the required level can hold the pod set. */
  | 'TopologyDomainTooSmall'
  /** No single domain of the colocation level can hold the colocated pod sets together. */
  | 'ColocationDomainTooSmall'
  /** Each pod set fits on its own, but the greedy placement could not fit them all together. */
  | 'PodSetsConflict';

/** Why one gang does not fit one cluster. Plain, JSON-serialisable data. */
export interface FitExplanation {
  readonly cluster: string;
  readonly code: FitReasonCode;
  /** One short, true sentence, e.g. "no single rack has 16 nvidia.com/gpu free for pod set workers; best is rack-b with 12". */
  readonly message: string;
  /** Pod set concerned, when the reason is specific to one. */
  readonly podSet?: string;
  /** Resource concerned, when one resource is the reason. */
  readonly resource?: string;
  /** Topology level concerned. */
  readonly level?: string;
  /** Amount needed, formatted as a Kubernetes quantity. */
  readonly needed?: string;
  /** Best amount available (cluster, domain or node, per `code`), formatted. */
  readonly available?: string;
}

/** `"kubernetes.io/hostname"` → `"host"`, `"cloud.provider.com/topology-rack"` → `"rack"`. */
export function levelNoun(level: string): string {
  const last = level.slice(level.lastIndexOf('/') + 1).replace(/^topology-/, '');
  return last === 'hostname' ? 'host' : last || level;
}

function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

interface Shortfall {
  readonly resource: string;
  readonly have: bigint;
  readonly need: bigint;
}

/** Most binding resource among those where `have < need` (smallest have/need, then name). */
function worstShortfall(items: readonly Shortfall[]): Shortfall | undefined {
  let best: Shortfall | undefined;
  for (const s of items) {
    if (s.have >= s.need) continue;
    if (
      !best ||
      s.have * best.need < best.have * s.need ||
      (s.have * best.need === best.have * s.need && s.resource < best.resource)
    ) {
      best = s;
    }
  }
  return best;
}

export function diagnose(
  cx: ClusterIndex,
  pg: PreparedGang,
  names: readonly string[],
  failure: AttemptFailure | undefined,
): FitExplanation {
  const cluster = cx.name;
  if (!cx.status.ok) return { cluster, code: cx.status.code, message: cx.status.message };
  // Key order cluster, code, message first: explanations are read in logs.
  const at = ({ code, message, ...rest }: Omit<FitExplanation, 'cluster'>): FitExplanation => ({
    cluster,
    code,
    message,
    ...rest,
  });
  const rootSum = cx.sumOf(cx.all, 0);
  const fmt = (r: string, a: bigint) => formatQuantity(a, r);

  if (cx.nodes.length === 0) {
    const total = cx.unusable.length;
    const notReady = cx.unusable.filter((n) => n.reason === 'not ready').length;
    return at({
      code: 'NoSchedulableNodes',
      message:
        total === 0
          ? 'cluster has no nodes'
          : `none of the cluster's ${total} nodes is schedulable (${notReady} not ready, ${total - notReady} unschedulable)`,
    });
  }

  // Whole gang against the cluster's free capacity on usable nodes.
  const onUsable = cx.unusable.length > 0 ? ' on schedulable nodes' : '';
  const gangShort = worstShortfall([
    ...pg.total.idx.map((r, i) => ({
      resource: names[r],
      have: rootSum[r],
      need: pg.total.amt[i],
    })),
    ...pg.unknown.map((u) => ({ resource: u.name, have: 0n, need: u.amount })),
  ]);
  if (gangShort) {
    const { resource, have, need } = gangShort;
    return at({
      code: 'InsufficientCapacity',
      resource,
      needed: fmt(resource, need),
      available: fmt(resource, have),
      message: `cluster has ${fmt(resource, have)} ${resource} free${onUsable}, gang needs ${fmt(resource, need)}`,
    });
  }

  for (const p of pg.order) {
    const ps = pg.podSets[p];
    if (ps.count === 0) continue;
    const found = diagnosePodSet(cx, ps, names);
    if (found) return at(found);
  }

  if (pg.group) {
    const found = diagnoseGroup(cx, pg, names);
    if (found) return at(found);
  }

  if (failure?.podSet !== undefined) {
    const before =
      failure.placedBefore.length > 0 ? `after placing ${listNames(failure.placedBefore)}, ` : '';
    return at({
      code: 'PodSetsConflict',
      podSet: failure.podSet,
      message: `pod sets fit one at a time but not together: ${before}pod set ${failure.podSet} no longer fits`,
    });
  }
  if (failure && pg.group) {
    const noun = levelNoun(pg.group.level);
    return at({
      code: 'ColocationDomainTooSmall',
      level: pg.group.level,
      message: `no single ${noun} fits pod sets ${listNames(pg.group.members.map((m) => pg.podSets[m].name))} together with their own constraints`,
    });
  }
  return at({ code: 'PodSetsConflict', message: 'gang does not fit' });
}

function diagnosePodSet(
  cx: ClusterIndex,
  ps: PreparedPodSet,
  names: readonly string[],
): Omit<FitExplanation, 'cluster'> | undefined {
  const podSet = ps.name;
  const topo = ps.topology;
  const depth = topo ? cx.depthOf.get(topo.level) : undefined;
  if (topo?.mode === 'required' && depth === undefined) {
    return {
      code: 'UnknownTopologyLevel',
      podSet,
      level: topo.level,
      message: `cluster has no topology level ${topo.level} (required by pod set ${podSet})`,
    };
  }

  const v = cx.view(ps);
  if (v.count[0] === 0) {
    const selects = (n: { name: string; labels?: Readonly<Record<string, string>> }): boolean =>
      matchesNodeSelector(n.labels, ps.selector) &&
      matchesNodeAffinity(n.name, n.labels, ps.nodeAffinity);
    const matching = cx.nodes.filter(selects);
    if (ps.selector && cx.nodes.every((n) => !matchesNodeSelector(n.labels, ps.selector))) {
      const sel = formatSelector(ps.selector);
      const unusable = cx.unusable.some((n) => matchesNodeSelector(n.labels, ps.selector));
      return {
        code: 'NodeSelectorMismatch',
        podSet,
        message: unusable
          ? `node selector ${sel} matches only nodes that are not ready or unschedulable`
          : `node selector ${sel} matches no node`,
      };
    }
    if (ps.nodeAffinity && matching.length === 0) {
      const aff = formatNodeAffinity(ps.nodeAffinity);
      const unusable = cx.unusable.some(selects);
      return {
        code: 'NodeAffinityMismatch',
        podSet,
        message: unusable
          ? `required node affinity ${aff} matches only nodes that are not ready or unschedulable`
          : `required node affinity ${aff} matches no${ps.selector ? ' node selected by the node selector' : ' node'}`,
      };
    }
    const first = matching.find((n) => firstUntoleratedTaint(n.taints, ps.tolerations));
    const taint = first ? firstUntoleratedTaint(first.taints, ps.tolerations) : undefined;
    const scope =
      ps.selector || ps.nodeAffinity
        ? `schedulable node matching ${[
            ps.selector ? formatSelector(ps.selector) : '',
            ps.nodeAffinity ? formatNodeAffinity(ps.nodeAffinity) : '',
          ]
            .filter((x) => x)
            .join(' and ')}`
        : 'schedulable node';
    return {
      code: 'UntoleratedTaint',
      podSet,
      message:
        `every ${scope} has a taint pod set ${podSet} does not tolerate` +
        (first && taint ? `, e.g. ${formatTaint(taint)} on ${first.name}` : ''),
    };
  }

  const restricted = v === cx.all ? '' : ` eligible for pod set ${podSet}`;
  const rootSum = cx.sumOf(v, 0);
  const rootMax = cx.maxOf(v, 0);
  const short = worstShortfall(
    ps.need.idx.map((r, i) => ({ resource: names[r], have: rootSum[r], need: ps.need.amt[i] })),
  );
  if (short) {
    const { resource, have, need } = short;
    return {
      code: 'InsufficientCapacity',
      podSet,
      resource,
      needed: formatQuantity(need, resource),
      available: formatQuantity(have, resource),
      message: `nodes${restricted || ' of the cluster'} have ${formatQuantity(have, resource)} ${resource} free, pod set ${podSet} needs ${formatQuantity(need, resource)}`,
    };
  }

  if (cx.capacity(0, ps, v, 1) === 0) {
    const memberShort = worstShortfall(
      ps.req.idx.map((r, i) => ({ resource: names[r], have: rootMax[r], need: ps.req.amt[i] })),
    );
    if (memberShort) {
      const { resource, have, need } = memberShort;
      return {
        code: 'NoNodeFitsMember',
        podSet,
        resource,
        needed: formatQuantity(need, resource),
        available: formatQuantity(have, resource),
        message: `no node${restricted} has ${formatQuantity(need, resource)} ${resource} free for one member of pod set ${podSet}; the most on one node is ${formatQuantity(have, resource)}`,
      };
    }
    return {
      code: 'NoNodeFitsMember',
      podSet,
      message: `no single node${restricted} has room for one member of pod set ${podSet} (${formatResourceList(ps.requests)})`,
    };
  }

  // Cheap aggregate checks before exact member counts, which may walk nodes.
  const c = ps.count;
  const required =
    topo?.mode === 'required' && depth !== undefined
      ? {
          depth,
          level: topo.level,
          podSet,
          what: `pod set ${podSet}`,
          noneMessage: `no node${restricted || ' that is schedulable'} carries label ${topo.level}`,
          members: c,
        }
      : undefined;
  if (required) {
    const found = levelShortage(cx, v, [v], ps.need, names, { ...required, exact: undefined });
    if (found) return found;
  }

  // The free-unit histograms bound the count without visiting nodes ("at most"); otherwise count.
  const bound = cx.countBound(0, ps, v);
  const fitting = bound < c ? bound : cx.capacity(0, ps, v, c);
  if (fitting < c) {
    return {
      code: 'FragmentedCapacity',
      podSet,
      message: `${bound < c ? 'at most' : 'only'} ${fitting} of ${c} members of pod set ${podSet} fit on the cluster's nodes: free capacity is split across nodes`,
    };
  }

  if (required) {
    return levelShortage(cx, v, [v], ps.need, names, {
      ...required,
      exact: (d) => cx.capacity(d, ps, v, c),
      bound: (d) => cx.countBound(d, ps, v),
    });
  }
  return undefined;
}

function diagnoseGroup(
  cx: ClusterIndex,
  pg: PreparedGang,
  names: readonly string[],
): Omit<FitExplanation, 'cluster'> | undefined {
  const group = pg.group;
  if (!group) return undefined;
  const members = group.members.map((p) => pg.podSets[p]).filter((ps) => ps.count > 0);
  if (members.length === 0) return undefined;
  const depth = cx.depthOf.get(group.level);
  const who = listNames(members.map((ps) => ps.name));
  if (depth === undefined) {
    return {
      code: 'UnknownTopologyLevel',
      level: group.level,
      message: `cluster has no topology level ${group.level} (required to keep pod sets ${who} together)`,
    };
  }
  const found = levelShortage(
    cx,
    cx.all,
    members.map((ps) => cx.view(ps)),
    group.need,
    names,
    {
      depth,
      level: group.level,
      podSet: undefined,
      what: `pod sets ${who} together`,
      noneMessage: `no ${levelNoun(group.level)} has nodes eligible for all of pod sets ${who}`,
      exact: undefined,
      members: 0,
    },
  );
  return found && found.code === 'TopologyDomainTooSmall'
    ? { ...found, code: 'ColocationDomainTooSmall' }
    : found;
}

/**
 * "No single <domain> of a level has enough": first from aggregates (the largest free of a
 * domain at the level, per resource, is kept at the root, so this is O(depth × fan-out)), then,
 * if some domains have enough in total, by exact member capacity (`exact`).
 *
 * @param v view whose free figures are reported
 * @param eligibleIn views in which a domain must have eligible nodes to count at all
 */
function levelShortage(
  cx: ClusterIndex,
  v: View,
  eligibleIn: readonly View[],
  need: SparseRequest,
  names: readonly string[],
  ctx: {
    depth: number;
    level: string;
    podSet: string | undefined;
    what: string;
    noneMessage: string;
    exact: ((d: number) => number) | undefined;
    /** Cheap upper bound of `exact`, used to skip domains that cannot be the best. */
    bound?: (d: number) => number;
    members: number;
  },
): Omit<FitExplanation, 'cluster'> | undefined {
  const noun = levelNoun(ctx.level);
  const base = { level: ctx.level, ...(ctx.podSet !== undefined ? { podSet: ctx.podSet } : {}) };
  const atLevel = cx.byDepth[ctx.depth];
  const usable = (d: number) => eligibleIn.every((e) => e.count[d] > 0);
  if (!atLevel.some(usable)) return { ...base, code: 'NoTopologyDomain', message: ctx.noneMessage };

  const best = cx.maxBelowOf(v, 0, ctx.depth);
  const worst = worstShortfall(
    need.idx.map((r, i) => ({ resource: names[r], have: best[r], need: need.amt[i] })),
  );
  if (worst) {
    const r = need.idx[need.idx.findIndex((x) => names[x] === worst.resource)];
    const where = cx.domains[findDomainWith(cx, v, ctx.depth, r, worst.have)].label;
    const { resource, have, need: amount } = worst;
    return {
      ...base,
      code: 'TopologyDomainTooSmall',
      resource,
      needed: formatQuantity(amount, resource),
      available: formatQuantity(have, resource),
      message: `no single ${noun} has ${formatQuantity(amount, resource)} ${resource} free for ${ctx.what}; best is ${where} with ${formatQuantity(have, resource)}`,
    };
  }
  const big = atLevel.filter((d) => usable(d) && geq(cx.sumOf(v, d), need));
  if (big.length === 0) {
    const all = need.idx
      .map((r, i) => `${formatQuantity(need.amt[i], names[r])} ${names[r]}`)
      .join(' and ');
    return {
      ...base,
      code: 'TopologyDomainTooSmall',
      message: `no single ${noun} has ${all} free at the same time for ${ctx.what}`,
    };
  }
  if (!ctx.exact) return undefined;
  // Largest exact capacity among the domains, visiting them by decreasing upper bound and
  // stopping once no remaining bound can beat the best exact figure.
  const bounded = big
    .map((d) => ({ d, bound: ctx.bound ? ctx.bound(d) : Infinity }))
    .sort((x, y) => y.bound - x.bound);
  let bestDomain = bounded[0].d;
  let bestCap = -1;
  for (const { d, bound } of bounded) {
    if (bound <= bestCap) break;
    const cap = ctx.exact(d);
    if (cap >= ctx.members) return undefined;
    if (cap > bestCap) {
      bestDomain = d;
      bestCap = cap;
    }
  }
  return {
    ...base,
    code: 'TopologyDomainTooSmall',
    message: `no single ${noun} fits all ${ctx.members} members of ${ctx.what}; best is ${cx.domains[bestDomain].label} with room for ${bestCap} (free capacity is split across nodes)`,
  };
}

/** First domain (in label order) at `depth` whose free `r` in view `v` is `value`. */
function findDomainWith(
  cx: ClusterIndex,
  v: View,
  depth: number,
  r: number,
  value: bigint,
): number {
  let d = 0;
  while (cx.domains[d].depth < depth) {
    const next = cx.domains[d].children.find(
      (c) =>
        (cx.domains[c].depth === depth ? cx.sumOf(v, c)[r] : cx.maxBelowOf(v, c, depth)[r]) ===
        value,
    );
    if (next === undefined) break;
    d = next;
  }
  return d;
}
