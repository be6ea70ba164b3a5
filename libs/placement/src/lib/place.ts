/**
 * Public placement entry points: choose one cluster per gang, whole gang or nothing.
 *
 * Per gang, for every cluster (in name order):
 * 1. skip clusters that are invalid, not ready or cordoned, or excluded for this gang;
 * 2. precheck from aggregates (free totals, largest node, largest domain per level);
 * 3. rank the survivors by policy score (below) and try the exact placement in rank order; the
 *    first that fits wins and is deducted from the batch's index before the next gang.
 * A gang that fits nowhere gets one {@link FitExplanation} per cluster.
 *
 * Scores use only aggregates, so "best fitting cluster" equals "first cluster in score order that
 * fits" and losing clusters need not be placed exactly:
 * - `pack`: smallest free/need (min over requested resources) — the tightest cluster, keeping
 *   emptier clusters whole for big gangs;
 * - `spread`: largest (free − need)/allocatable — the emptiest cluster after placement.
 * Ties are broken by cluster name; input order never matters.
 */
import {
  resourceNamesOf,
  resourceSpaceOf,
  ClusterIndex,
  ClusterStatus,
  cmpStr,
  compareKeys,
  Policy,
  Ratio,
  ResourceSpace,
  scoreKey,
} from './cluster-index';
import { claimsDevices, DeviceLayer, NodeDeviceList, withShapes } from './device-layer';
import { attributeDomainLabel, DEVICE_SHAPE_PREFIX } from './devices';
import { diagnose, FitExplanation } from './explain';
import { AttemptFailure, placeInCluster, precheck, PreparedGang, prepareGang } from './fit';
import { ClusterSnapshot, clusterProblem, Gang, NodeSnapshot, validateGang } from './model';
import { quantityOf } from './resources';
import { err, ok, PlacementError, Result } from './result';

/**
 * How to rank clusters (and domains and nodes inside the chosen cluster).
 * - `pack` (default): tightest fit first, so large empty domains and clusters stay whole.
 * - `spread`: emptiest first, to balance load.
 */
export type PlacementPolicy = Policy;

/** Options of {@link placeBatch}, {@link placeGang} and {@link fitGang}. */
export interface PlacementOptions {
  /** Ranking policy. Default `'pack'`. */
  readonly policy?: PlacementPolicy;
  /**
   * Compute an explanation per cluster for gangs that are not placed. Default `true`. With
   * `false`, unplaced decisions carry an empty `explanations` array (cheaper when only the
   * decisions matter, e.g. in a simulation). A function decides per gang (a scheduler that
   * explained a gang a moment ago need not pay for it again).
   */
  readonly explain?: boolean | ((gang: Gang) => boolean);
  /**
   * Keeps each gang's check and translation from one batch to the next (see
   * {@link PreparedGangs}). Only for gangs that never change once offered.
   */
  readonly prepared?: PreparedGangs;
  /**
   * Keeps the capacity index of each cluster from one batch to the next, updated to each new
   * snapshot instead of rebuilt (see {@link PlacementIndex}). Only for snapshot nodes that never
   * change once offered.
   */
  readonly index?: PlacementIndex;
}

type Prepared = { ok: true; pg: PreparedGang } | { ok: false; error: PlacementError };

/** How often a cluster is tried again after its members' device claims competed on a node. */
const MAX_DEVICE_RETRIES = 4;

/**
 * What a batch works out about each gang before placing it (the gang checked, and translated to
 * the resource names of the snapshot), kept across batches for a caller that offers the same
 * gangs again and again, as a scheduler offers its queue every cycle. The caller promises that a
 * gang object it offers with this cache never changes afterwards: a changed gang must be a new
 * object. A translation is reused only while the snapshot's resource names are the same; entries
 * go with their gang objects (weakly held).
 */
export class PreparedGangs {
  private readonly entries = new WeakMap<Gang, { space: string; out: Prepared }>();

  /** @internal */
  lookup(gang: Gang, space: string): Prepared | undefined {
    const e = this.entries.get(gang);
    return e?.space === space ? e.out : undefined;
  }

  /** @internal */
  store(gang: Gang, space: string, out: Prepared): void {
    this.entries.set(gang, { space, out });
  }
}

/**
 * The capacity index of every cluster, kept from one batch to the next for a caller that places
 * against a snapshot that changes a little between batches, as a scheduler's does between cycles.
 * A batch given this index brings each cluster's index up to its snapshot by applying the free
 * capacity of the nodes that changed, and rebuilds only a cluster whose nodes changed in more
 * than free capacity (added, removed, relabelled, tainted, not ready, ...), or every cluster when
 * the resource names of the fleet change. Decisions are the same as with an index built afresh
 * (a property test checks this); what the batch places is deducted here too, and compared again
 * with the next snapshot.
 *
 * The caller promises that a snapshot node object never changes once offered: a changed node is
 * a new object (unchanged objects are not compared). One batch at a time: a batch that starts
 * ends any stream still open on the same index.
 */
export class PlacementIndex {
  /** @internal Clusters indexed by the last batch, by name (only those with a usable index). */
  clusters = new Map<string, ClusterIndex>();
  /** @internal The resource names of the last batch, joined. */
  spaceKey: string | undefined;
  /** @internal The batch allowed to use these clusters. */
  owner: object | undefined;
  /** How the last batch came by each cluster's index: kept and updated, or built anew. */
  readonly last = { kept: 0, built: 0 };
}

/** A topology domain of a cluster, identified by its label values. */
export interface TopologyDomainRef {
  /** Topology level key, e.g. `cloud.provider.com/topology-rack`. */
  readonly level: string;
  /** Label value of this domain at `level`, e.g. `rack-b`. */
  readonly value: string;
  /** Label values from the broadest level down to `level`; unique within the cluster. */
  readonly path: readonly string[];
}

/** Where the members of one pod set go. */
export interface PodSetPlacement {
  readonly podSet: string;
  /** Node name of each member (`nodes[i]` for member i); a node repeats when it takes several. */
  readonly nodes: readonly string[];
  /**
   * Domain the pod set was kept in: the required level's domain, the level a preferred
   * constraint ended up at, or the colocation domain; `null` when it may span the cluster.
   */
  readonly domain: TopologyDomainRef | null;
}

/** A gang's placement on one cluster. Plain, JSON-serialisable data. */
export interface Placement {
  readonly gangId: string;
  readonly cluster: string;
  /** One entry per pod set, in the gang's pod set order. */
  readonly podSets: readonly PodSetPlacement[];
  /** Narrowest topology domain containing every member; `null` when that is the whole cluster. */
  readonly domain: TopologyDomainRef | null;
  /**
   * The DRA devices the members' claims take, per node (only for gangs that claim devices):
   * what a scheduler deducts until the cluster reports them allocated.
   */
  readonly devices?: readonly NodeDeviceList[];
}

/** The gang is placed. */
export interface PlacedDecision {
  readonly status: 'placed';
  readonly gangId: string;
  readonly placement: Placement;
}

/** The gang fits no cluster right now. */
export interface UnplacedDecision {
  readonly status: 'unplaced';
  readonly gangId: string;
  /** One per cluster in the snapshot, sorted by cluster name (empty with `explain: false`). */
  readonly explanations: readonly FitExplanation[];
}

/** The gang itself is malformed; no cluster was considered. */
export interface InvalidGangDecision {
  readonly status: 'invalid';
  readonly gangId: string;
  readonly error: PlacementError;
}

export type GangDecision = PlacedDecision | UnplacedDecision | InvalidGangDecision;

/** Result of {@link placeBatch}. */
export interface BatchResult {
  /** One decision per gang, in input order. */
  readonly decisions: readonly GangDecision[];
  readonly placed: number;
  readonly unplaced: number;
  readonly invalid: number;
}

/**
 * Stateful engine behind the public functions: owns the index copy of one snapshot and deducts
 * each placement from it. Internal so callers only ever see plain values.
 */
class PlacementEngine {
  private readonly space: ResourceSpace;
  private readonly clusters: ClusterIndex[];
  private readonly policy: Policy;
  private readonly explain: (gang: Gang) => boolean;
  /**
   * Each gang object checked and translated once per engine (warm, then decide, see it twice):
   * gangs are plain values the engine never changes, and the resource space is fixed here.
   */
  private readonly prepared = new WeakMap<Gang, Prepared>();
  /** Kept across batches when the caller passes one (options.prepared). */
  private readonly kept: PreparedGangs | undefined;
  /** The cluster indexes, kept across batches when the caller passes one (options.index). */
  private readonly index: PlacementIndex | undefined;
  /** The resource names of this snapshot, as the key of a kept translation. */
  private readonly spaceKey: string;

  /** The batch's DRA devices, when some gang of an array batch claims them. */
  private readonly devices: DeviceLayer | undefined;

  constructor(
    snapshot: readonly ClusterSnapshot[],
    options: PlacementOptions | undefined,
    gangs: readonly Gang[] | undefined,
  ) {
    let input = Array.isArray(snapshot) ? snapshot : [];
    if (gangs && claimsDevices(gangs)) {
      const devices = new DeviceLayer(gangs);
      input = input.map((c) => devices.cluster(c));
      this.devices = devices;
    }
    this.policy = options?.policy === 'spread' ? 'spread' : 'pack';
    const explain = options?.explain;
    this.explain = typeof explain === 'function' ? explain : () => explain !== false;
    this.kept = options?.prepared instanceof PreparedGangs ? options.prepared : undefined;
    this.index = options?.index instanceof PlacementIndex ? options.index : undefined;
    const { space, clusters } = indexClusters(input, this.index);
    this.space = space;
    this.spaceKey = space.names.join('\n');
    this.clusters = clusters;
    if (this.index) this.index.owner = this;
  }

  /**
   * Builds, for every cluster, the capacity views of each distinct (node selector, tolerations)
   * in `gangs`, so that the first decision needing a view does not pay O(nodes) for it.
   */
  warm(gangs: readonly Gang[]): void {
    const seen = new Set<string>();
    for (const gang of gangs) {
      const prepared = this.prepare(gang);
      if (!prepared.ok) continue;
      for (const ps of prepared.pg.podSets) {
        if (ps.count === 0 || seen.has(ps.sig)) continue;
        seen.add(ps.sig);
        for (const cx of this.clusters) if (cx.status.ok) cx.view(ps);
      }
    }
  }

  decide(gang: Gang, heldOut?: ReadonlyMap<string, string>): GangDecision {
    if (this.index && this.index.owner !== this)
      throw new Error('placement stream used after a newer batch took over its PlacementIndex');
    const gangId = typeof gang?.id === 'string' ? gang.id : '';
    const prepared = this.prepare(gang);
    if (!prepared.ok) return { status: 'invalid', gangId, error: prepared.error };
    const { pg } = prepared;

    const excluded = gang.excludedClusters ?? {};
    const isExcluded = (cx: ClusterIndex): boolean =>
      Object.prototype.hasOwnProperty.call(excluded, cx.name) || heldOut?.has(cx.name) === true;
    const candidates: Array<{ cx: ClusterIndex; key: Ratio }> = [];
    for (const cx of this.clusters) {
      if (!cx.status.ok || isExcluded(cx) || !precheck(cx, pg)) continue;
      candidates.push({
        cx,
        key: scoreKey(cx.sumOf(cx.all, 0), cx.allocOf(cx.all, 0), pg.total, this.policy),
      });
    }
    candidates.sort(
      (a, b) => compareKeys(a.key, b.key, this.policy) || cmpStr(a.cx.name, b.cx.name),
    );

    const failures = new Map<string, AttemptFailure>();
    const deviceFailures = new Map<string, string>();
    for (const { cx } of candidates) {
      const decided =
        gang.matchDeviceAttribute !== undefined && this.devices
          ? this.placeInOneDomain(cx, gang, gang.matchDeviceAttribute, failures, deviceFailures)
          : this.placeIn(cx, gang, pg, failures, deviceFailures);
      if (decided) return { status: 'placed', gangId, placement: decided };
    }
    const explanations = this.explain(gang)
      ? this.clusters.map((cx): FitExplanation => {
          const held = cx.status.ok ? heldOut?.get(cx.name) : undefined;
          if (held !== undefined) return { cluster: cx.name, code: 'QuotaExceeded', message: held };
          if (cx.status.ok && isExcluded(cx))
            return { cluster: cx.name, code: 'ExcludedForGang', message: excluded[cx.name]! };
          const competing = deviceFailures.get(cx.name);
          if (competing) return { cluster: cx.name, code: 'NoDeviceFits', message: competing };
          return this.inDeviceTerms(
            gang,
            diagnose(cx, pg, this.space.names, failures.get(cx.name)),
          );
        })
      : [];
    return { status: 'unplaced', gangId, explanations };
  }

  /**
   * The gang placed in `cx`, or `undefined` (with why in `failures` or `deviceFailures`). With
   * device claims the placement's devices are then taken for real. Pod sets of different claims
   * may have been put on one node whose devices cannot serve both (each kind of claim counts
   * the node's devices on its own); the pod set that failed there is then kept off that node and
   * the cluster tried again, a few times, before the cluster is given up for this gang.
   */
  private placeIn(
    cx: ClusterIndex,
    gang: Gang,
    pg: PreparedGang,
    failures: Map<string, AttemptFailure>,
    deviceFailures: Map<string, string>,
  ): Placement | undefined {
    const kept: string[] = [];
    const restore = (except: ReadonlySet<string>) => {
      for (const node of kept)
        if (!except.has(node)) cx.setFree(cx.nodeId(node), this.devices!.amounts(cx.name, node));
    };
    for (let attempt = 0; attempt <= MAX_DEVICE_RETRIES; attempt++) {
      const res = placeInCluster(cx, pg, this.policy);
      if (!res.ok) {
        failures.set(cx.name, res.failure);
        break;
      }
      const placement = this.toPlacement(cx, pg, res.assignments);
      if (!this.devices || pg.gang === gang) return placement;
      const taken = this.devices.take(cx.name, gang, placement.podSets);
      if (taken.ok) {
        for (const { node, amounts } of taken.free) cx.setFree(cx.nodeId(node), amounts);
        restore(new Set(taken.free.map((f) => f.node)));
        return { ...placement, devices: taken.devices };
      }
      pg.podSets.forEach((ps, i) => {
        const counts = new Map<number, number>();
        for (const nid of res.assignments[i].nodes) counts.set(nid, (counts.get(nid) ?? 0) + 1);
        if (counts.size > 0) cx.apply(counts, ps.req, 1n);
      });
      deviceFailures.set(cx.name, taken.message);
      cx.setFree(cx.nodeId(taken.node), { [taken.resource]: 0n });
      kept.push(taken.node);
    }
    if (kept.length > 0) restore(new Set());
    return undefined;
  }

  /**
   * The gang placed in `cx` with every member that claims devices on nodes whose devices share
   * one value of `attribute`, the same for all (tried value by value, the one most nodes share
   * first), or `undefined` with why in `deviceFailures`.
   */
  private placeInOneDomain(
    cx: ClusterIndex,
    gang: Gang,
    attribute: string,
    failures: Map<string, AttemptFailure>,
    deviceFailures: Map<string, string>,
  ): Placement | undefined {
    const values = this.devices!.domains(cx.name, attribute);
    for (const value of values) {
      const variant = inDomain(gang, attribute, value);
      const prepared = this.prepare(variant);
      if (!prepared.ok || !precheck(cx, prepared.pg)) continue;
      const decided = this.placeIn(cx, variant, prepared.pg, failures, new Map());
      if (decided) return decided;
    }
    failures.delete(cx.name);
    deviceFailures.set(
      cx.name,
      values.length === 0
        ? `no node's devices all share one value of ${attribute}`
        : `no single ${attribute} domain has room for every member that claims devices (${values.length} tried)`,
    );
    return undefined;
  }

  /** An explanation that names a device shape, said in terms of the gang's device claims. */
  private inDeviceTerms(gang: Gang, e: FitExplanation): FitExplanation {
    if (!e.message.includes(DEVICE_SHAPE_PREFIX) && !e.resource?.startsWith(DEVICE_SHAPE_PREFIX))
      return e;
    const text =
      this.devices?.explain(e.cluster, gang) ??
      'device claims can only be placed in a batch given as an array';
    return { cluster: e.cluster, code: 'NoDeviceFits', message: text, podSet: e.podSet };
  }

  /** The gang checked and translated to this engine's resource space (once per gang object). */
  private prepare(gang: Gang): Prepared {
    // A non-object (bad input from an untyped caller) cannot be a WeakMap key: checked each time.
    const cacheable = typeof gang === 'object' && gang !== null;
    if (!cacheable) return this.prepareAnew(gang);
    let out = this.prepared.get(gang) ?? this.kept?.lookup(gang, this.spaceKey);
    if (!out) {
      out = this.prepareAnew(gang);
      this.kept?.store(gang, this.spaceKey, out);
    }
    this.prepared.set(gang, out);
    return out;
  }

  private prepareAnew(gang: Gang): Prepared {
    const valid = validateGang(gang);
    return valid.ok
      ? { ok: true, pg: prepareGang(withShapes(gang), this.space) }
      : { ok: false, error: valid.error };
  }

  private toPlacement(
    cx: ClusterIndex,
    pg: PreparedGang,
    assignments: ReadonlyArray<{ nodes: readonly number[]; domain: number }>,
  ): Placement {
    const podSets = pg.podSets.map((ps, i) => ({
      podSet: ps.name,
      nodes: assignments[i].nodes.map((nid) => cx.nodes[nid].name),
      domain: domainRef(cx, assignments[i].domain),
    }));
    const all = assignments.flatMap((a) => a.nodes);
    return {
      gangId: pg.gang.id,
      cluster: cx.name,
      podSets,
      domain: domainRef(cx, cx.commonDomain(all)),
    };
  }
}

/** Each gang's variants confined to one value of its matchDeviceAttribute, by value. */
const domainVariants = new WeakMap<Gang, Map<string, Gang>>();

/** The gang with each pod set that claims devices kept to nodes of one attribute value. */
function inDomain(gang: Gang, attribute: string, value: string): Gang {
  let byValue = domainVariants.get(gang);
  if (!byValue) domainVariants.set(gang, (byValue = new Map()));
  let variant = byValue.get(value);
  if (!variant) {
    const label = attributeDomainLabel(attribute);
    variant = {
      ...gang,
      podSets: gang.podSets.map((ps) =>
        Array.isArray(ps.claims) && ps.claims.length > 0
          ? { ...ps, nodeSelector: { ...ps.nodeSelector, [label]: value } }
          : ps,
      ),
    };
    byValue.set(value, variant);
  }
  return variant;
}

/** Whether a cluster is offered to placement at all, from its snapshot alone. */
function clusterStatus(
  c: ClusterSnapshot,
  problem: ReturnType<typeof clusterProblem>,
  sameName: number,
): ClusterStatus {
  if (problem)
    return {
      ok: false,
      code: 'InvalidClusterSnapshot',
      message: `cluster snapshot is invalid: ${problem.message}`,
    };
  return sameName > 1
    ? {
        ok: false,
        code: 'InvalidClusterSnapshot',
        message: `cluster name ${c.name} appears ${sameName} times in the snapshot`,
      }
    : readiness(c);
}

/** Ready and not cordoned, or why not (for a snapshot already found valid). */
function readiness(c: ClusterSnapshot): ClusterStatus {
  if (c.ready === false)
    return { ok: false, code: 'ClusterNotReady', message: 'cluster is not ready' };
  if (c.cordoned === true)
    return { ok: false, code: 'ClusterCordoned', message: 'cluster is cordoned' };
  return { ok: true };
}

/**
 * The resource space and one index per cluster (sorted by name) for a batch: each kept index
 * that can be brought up to its snapshot, the others built. The space is every resource name
 * the valid clusters' nodes report ({@link resourceNamesOf}); when it differs from
 * the kept indexes' space, every cluster is built anew in the new one.
 */
function indexClusters(
  input: readonly ClusterSnapshot[],
  kept: PlacementIndex | undefined,
): { space: ResourceSpace; clusters: ClusterIndex[] } {
  const nameOf = (c: ClusterSnapshot): string => (typeof c?.name === 'string' ? c.name : '');
  const nameCount = new Map<string, number>();
  for (const c of input) nameCount.set(nameOf(c), (nameCount.get(nameOf(c)) ?? 0) + 1);
  const reused = new Map<number, ClusterIndex>();
  const status = new Map<number, ClusterStatus>();
  const names = new Set<string>();
  input.forEach((c, i) => {
    const cx = kept?.clusters.get(nameOf(c));
    if (cx && nameCount.get(nameOf(c)) === 1 && cx.sync(c, readiness(c))) {
      reused.set(i, cx);
      for (const r of cx.resourceNames) names.add(r);
      return;
    }
    const problem = clusterProblem(c);
    status.set(i, clusterStatus(c, problem, nameCount.get(nameOf(c)) ?? 0));
    if (!problem) for (const r of resourceNamesOf(c)) names.add(r);
  });
  const space = resourceSpaceOf(names);
  const spaceKey = space.names.join('\n');
  if (kept && kept.spaceKey !== spaceKey) {
    // Every vector is laid out by the space: a new resource name means new indexes throughout.
    for (const i of reused.keys()) status.set(i, readiness(input[i]));
    reused.clear();
  }
  const clusters = input
    .map((c, i): ClusterIndex => {
      const cx = reused.get(i);
      if (cx) return cx;
      const name = nameOf(c) !== '' ? nameOf(c) : `clusters[${i}]`;
      return new ClusterIndex(c, space, name, status.get(i)!);
    })
    .sort((a, b) => cmpStr(a.name, b.name));
  if (kept) {
    kept.clusters = new Map(clusters.filter((cx) => cx.status.ok).map((cx) => [cx.name, cx]));
    kept.spaceKey = spaceKey;
    kept.last.kept = reused.size;
    kept.last.built = clusters.length - reused.size;
  }
  return { space, clusters };
}

function domainRef(cx: ClusterIndex, id: number): TopologyDomainRef | null {
  const d = cx.domains[id];
  if (!d || d.depth === 0) return null;
  return { level: cx.levels[d.depth - 1], value: d.value, path: [...d.path] };
}

/**
 * Decisions for `gangs`, one at a time and lazily, against one snapshot. Each placed gang is
 * deducted from an internal copy of the snapshot before the next decision, so nothing is booked
 * twice; `clusters` itself is never modified. The index is built when this function is called
 * (including, when `gangs` is an array, the per-node-selector capacity views its gangs need), so
 * the time of each `next()` is the time of one decision.
 */
export function placementStream(
  clusters: readonly ClusterSnapshot[],
  gangs: Iterable<Gang>,
  options?: PlacementOptions,
): IterableIterator<GangDecision> {
  const list = Array.isArray(gangs) ? (gangs as readonly Gang[]) : undefined;
  const engine = new PlacementEngine(clusters, options, list);
  if (list) engine.warm(list);
  function* run(): Generator<GangDecision, void, undefined> {
    for (const gang of gangs) yield engine.decide(gang);
  }
  return run();
}

/**
 * Decisions one at a time, in an order the caller chooses as it goes (a fair order that charges a
 * queue only for what was placed): `gangs` are the gangs that may be decided, prepared (and their
 * capacity views built) up front as for an array given to {@link placementStream}; each call
 * decides one and deducts it, if placed, before the next. `clusters` is never modified.
 * `heldOut` names clusters the gang may not go to this time (the caller's quota in their cluster
 * set is spent), with why; they are explained with code `QuotaExceeded`.
 */
export function placementSession(
  clusters: readonly ClusterSnapshot[],
  gangs: readonly Gang[],
  options?: PlacementOptions,
): (gang: Gang, heldOut?: ReadonlyMap<string, string>) => GangDecision {
  const engine = new PlacementEngine(clusters, options, gangs);
  engine.warm(gangs);
  return (gang, heldOut) => engine.decide(gang, heldOut);
}

/**
 * Places `gangs` in order against one snapshot of many clusters (see the module comment for how
 * a cluster is chosen). Equivalent to calling {@link placeGang} for each gang and applying each
 * placement to the snapshot with {@link applyPlacement} in between, but the index is built once.
 * The input snapshot is not modified.
 */
export function placeBatch(
  clusters: readonly ClusterSnapshot[],
  gangs: readonly Gang[],
  options?: PlacementOptions,
): BatchResult {
  const decisions = [...placementStream(clusters, gangs, options)];
  let placed = 0;
  let unplaced = 0;
  for (const d of decisions) {
    if (d.status === 'placed') placed++;
    else if (d.status === 'unplaced') unplaced++;
  }
  return { decisions, placed, unplaced, invalid: decisions.length - placed - unplaced };
}

/** Places one gang (a batch of one). */
export function placeGang(
  clusters: readonly ClusterSnapshot[],
  gang: Gang,
  options?: PlacementOptions,
): GangDecision {
  return placeBatch(clusters, [gang], options).decisions[0];
}

/**
 * Whether one gang fits one cluster: a `placed` decision with the placement the policy would
 * choose there, or an `unplaced` decision with exactly one explanation (also for a cluster that
 * is not ready or cordoned).
 */
export function fitGang(
  cluster: ClusterSnapshot,
  gang: Gang,
  options?: PlacementOptions,
): GangDecision {
  return placeGang([cluster], gang, { ...options, explain: true });
}

/**
 * The snapshot after a placement: the placed members' requests are subtracted from their nodes'
 * `free`. Returns new objects for changed clusters and nodes and shares the rest; the input is not
 * modified. Fails with `InvalidPlacement` if the placement names an unknown cluster, pod set or
 * node, has the wrong member count, or would over-commit a node.
 */
export function applyPlacement(
  clusters: readonly ClusterSnapshot[],
  gang: Gang,
  placement: Placement,
): Result<ClusterSnapshot[]> {
  const matches = clusters.filter((c) => c.name === placement.cluster);
  if (matches.length !== 1) {
    return err(
      'InvalidPlacement',
      'cluster',
      `placement names cluster ${placement.cluster}, which is not exactly once in the snapshot`,
    );
  }
  const cluster = matches[0];
  const perNode = new Map<string, Record<string, bigint>>();
  for (const psp of placement.podSets) {
    const ps = gang.podSets.find((p) => p.name === psp.podSet);
    if (!ps)
      return err('InvalidPlacement', 'podSets', `gang ${gang.id} has no pod set ${psp.podSet}`);
    if (psp.nodes.length !== ps.count) {
      return err(
        'InvalidPlacement',
        'podSets',
        `pod set ${ps.name} has ${ps.count} members but ${psp.nodes.length} nodes`,
      );
    }
    for (const node of psp.nodes) {
      const acc = perNode.get(node) ?? {};
      for (const r of Object.keys(ps.requests))
        acc[r] = (acc[r] ?? 0n) + quantityOf(ps.requests, r);
      perNode.set(node, acc);
    }
  }
  const known = new Set(cluster.nodes.map((n) => n.name));
  for (const name of perNode.keys()) {
    if (!known.has(name))
      return err('InvalidPlacement', 'nodes', `cluster ${cluster.name} has no node ${name}`);
  }
  const nodes: NodeSnapshot[] = [];
  for (const n of cluster.nodes) {
    const used = perNode.get(n.name);
    if (!used) {
      nodes.push(n);
      continue;
    }
    const free: Record<string, bigint> = { ...n.free };
    for (const r of Object.keys(used)) {
      const left = quantityOf(n.free, r) - (used[r] ?? 0n);
      if (left < 0n && (used[r] ?? 0n) > 0n) {
        return err('InvalidPlacement', 'nodes', `placement over-commits ${r} on node ${n.name}`);
      }
      free[r] = left;
    }
    nodes.push({ ...n, free });
  }
  return ok(clusters.map((c) => (c === cluster ? { ...cluster, nodes } : c)));
}

/** One line for logs and CLIs: where the gang went, or why it went nowhere. */
export function formatDecision(decision: GangDecision): string {
  switch (decision.status) {
    case 'placed': {
      const p = decision.placement;
      const where = p.domain ? ` (${p.domain.path.join('/')})` : '';
      return `gang ${decision.gangId} placed on ${p.cluster}${where}`;
    }
    case 'unplaced':
      return (
        `gang ${decision.gangId} not placed` +
        (decision.explanations.length
          ? `: ${decision.explanations.map((e) => `${e.cluster}: ${e.message}`).join('; ')}`
          : '')
      );
    case 'invalid':
      return `gang ${decision.gangId} is invalid: ${decision.error.message}`;
  }
}
