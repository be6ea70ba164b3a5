// The scheduling cycle's decision as a value: what a cycle does with the queue, given what it
// loaded. No I/O and no clock but the snapshot's `now`, so every verdict is table-tested; the
// Scheduler around it only loads, commits and enqueues. Kueue's `schedule()` is the model: the
// phases are numbered and timed, so a slow cycle says where its time went.
import {
  deviceKey,
  formatQuantity,
  type Device,
  type DeviceAttributeValue,
  type DeviceClaim,
  parseResourceList,
  placementSession,
  type PlacementIndex,
  type PreparedGangs,
  type ClusterSnapshot,
  type Gang,
  type GangDecision,
  type NodeSnapshot,
} from '@muster/placement';
import { errorText, gangRefKey } from '@muster/common';
import { podClaimsOf } from '../jobs/device-claims';
import { requiredNodeAffinityOf } from '@muster/k8s';
import type { GangSpec, StoredExplanation } from '../jobs/job.domain';
import type { ClusterUnavailable } from '../inventory/cluster.domain';
import {
  explanationDigest,
  type ExplanationDigest,
  type NewReservation,
  type NodeRequests,
  type QueuedGang,
  type ReservationRow,
} from './cycle.repository';
import { activeExclusions } from '../dispatch/cluster-exclusion';
import { fairOrder, type Admission } from './fair-share';
import {
  QuotaLedger,
  scopedTo,
  type Amounts,
  type CohortQuota,
  type QueueQuota,
  type QuotaShortfall,
} from './quota';
import { quotaRequest, usageByQueue } from './queue-quotas';
import { planPreemptions, type PlannedEviction } from './cycle-preemption';
import type { QueuePreemption } from './preemption';

/** A ready cluster as the cycle places against it. */
export interface CycleCluster extends ClusterSnapshot {
  /** `gangRefKey`s of the dispatches the cluster's report already counts in its free capacity. */
  readonly reflected: ReadonlySet<string>;
  /** The cluster's cluster set ('' or absent: none): where quotas scoped to a set apply. */
  readonly clusterSet?: string;
}

/** Everything one cycle decides from, loaded before it starts. */
export interface CycleSnapshot {
  /** Ready clusters with their reported nodes. */
  readonly clusters: readonly CycleCluster[];
  /** Registered clusters not offered to placement, and why. */
  readonly unavailable: readonly ClusterUnavailable[];
  /** Every reservation still holding capacity. */
  readonly reservations: readonly ReservationRow[];
  /** Queue name → fair-share weight. */
  readonly weights: ReadonlyMap<string, number>;
  /**
   * Each queue's decayed usage history (milli-unit-seconds per resource) and its half-life in
   * seconds: fair share by usage, so a queue that ran a lot lately yields. Absent: none.
   */
  readonly history?: {
    readonly usage: ReadonlyMap<string, Readonly<Record<string, number>>>;
    readonly halfLifeSeconds: number;
  };
  /** The quotas of the queues that have one (a queue not here is not limited). */
  readonly quotas?: readonly QueueQuota[];
  /** The cohorts' parents and own quotas (a cohort not here is a root without quota). */
  readonly cohorts?: readonly CohortQuota[];
  /** What each queue's waiting gangs may preempt (a queue not here: nothing). */
  readonly preemption?: ReadonlyMap<string, QueuePreemption>;
  /** Queues whose budget is spent, with why (see budgetHold): their gangs wait. */
  readonly budgetHolds?: ReadonlyMap<string, string>;
  readonly now: Date;
}

export interface CycleSettings {
  readonly policy: 'pack' | 'spread';
  /**
   * Placement's work on each gang, kept from cycle to cycle (the views gangOf gives never change;
   * a gang with new exclusions is a new object).
   */
  readonly prepared?: PreparedGangs;
  /**
   * Each cluster's capacity index, kept from cycle to cycle and updated by what changed (node
   * snapshots are never edited: see nodeSnapshotOf).
   */
  readonly index?: PlacementIndex;
  /** Reservations' node requests, parsed once while they hold capacity. */
  readonly reservations?: ReservationRequests;
  /**
   * When this scheduler last evaluated each queued gang's explanation (job id → epoch ms). With
   * it, a gang explained less than {@link EXPLANATION_CHECK_MS} ago is placed without one; the
   * cycle updates it. Without it, every gang left queued is explained every cycle.
   */
  readonly explainedAt?: Map<string, number>;
  /** Notice a victim gets when its job sets none, in seconds. Default 30. */
  readonly evictionGraceSeconds?: number;
}

/** The phases of a cycle's decision, in order. */
export const CYCLE_PHASES = ['capacity', 'order', 'place', 'verdicts', 'preempt'] as const;
export type CyclePhase = (typeof CYCLE_PHASES)[number];

/** What a cycle will commit: reservations to take and explanations to store. */
export interface CyclePlan {
  /** Gangs to reserve, in the order they were placed. */
  readonly reservations: NewReservation[];
  /** Explanations that changed since they were stored, for gangs that stay queued. */
  readonly explanations: { jobId: string; explanation: StoredExplanation }[];
  /** Gangs to give an eviction notice: the victims of this cycle's preemptions. */
  readonly evictions: PlannedEviction[];
  readonly considered: number;
  readonly unplaced: number;
  /** Gangs placement refused as malformed (a corrupt stored spec); each is explained. */
  readonly invalid: number;
  /** Ready clusters offered to placement. */
  readonly clusters: number;
  /**
   * Reservations whose stored node requests cannot be read. Their nodes count as full for this
   * cycle (never as free), and the Scheduler logs them: a corrupt row must not over-book.
   */
  readonly unreadableReservations: readonly string[];
  /** Milliseconds each phase took. */
  readonly phases: Readonly<Record<CyclePhase, number>>;
}

/**
 * One cycle's decision:
 *  1. capacity: each ready cluster's reported free capacity minus what its report does not
 *     reflect yet;
 *  2. order: each queued gang as placement sees it, prepared for placement;
 *  3. place: in fair order (fair-share.ts), each held by its budget, its quota or fair share,
 *     or placed against the capacity, deducting its own; only what is placed is charged;
 *  4. verdicts: a reservation per placed gang, a changed explanation per gang left queued;
 *  5. preempt: a few gangs left waiting whose queues allow it choose victims in one cluster
 *     (see cycle-preemption), given notice in the same commit.
 */
export function planCycle(
  snapshot: CycleSnapshot,
  queued: readonly QueuedGang[],
  settings: CycleSettings,
): CyclePlan {
  const phases: Record<CyclePhase, number> = {
    capacity: 0,
    order: 0,
    place: 0,
    verdicts: 0,
    preempt: 0,
  };
  let mark = performance.now();
  const lap = (phase: CyclePhase): void => {
    const now = performance.now();
    phases[phase] = now - mark;
    mark = now;
  };

  const parsed = settings.reservations ?? new ReservationRequests();
  const { clusters, unreadable } = deductReservations(
    snapshot.clusters,
    snapshot.reservations,
    parsed,
  );
  // What each queue's reservations hold, from the same parsed requests.
  const usage = usageByQueue(snapshot.reservations, (r) => parsed.of(r).values());
  const ledger =
    snapshot.quotas && snapshot.quotas.length > 0
      ? new QuotaLedger(snapshot.quotas, usage, snapshot.cohorts)
      : undefined;
  const setOf = new Map(snapshot.clusters.map((c) => [c.name, c.clusterSet ?? '']));
  settings.reservations?.endCycle();
  lap('capacity');

  const views = queued.map((q) => ({ q, view: gangOf(q, snapshot.now) }));
  // Explaining a gang that stays queued costs a diagnosis per cluster: in a deep queue on a full
  // fleet that is most of a cycle. A gang is explained when it has no explanation yet, and then
  // at most every EXPLANATION_CHECK_MS, so a new verdict is stored within that time.
  const nowMs = snapshot.now.getTime();
  const checked = settings.explainedAt;
  const explainNow = new Set<Gang>();
  for (const { q, view } of views) {
    const last = checked?.get(q.id);
    if (
      view.ok &&
      (!checked ||
        q.explained === null ||
        last === undefined ||
        nowMs - last >= EXPLANATION_CHECK_MS)
    )
      explainNow.add(view.gang);
  }
  const decide = placementSession(
    clusters,
    views.flatMap(({ view }) => (view.ok ? [view.gang] : [])),
    {
      policy: settings.policy,
      explain: (gang) => explainNow.has(gang),
      prepared: settings.prepared,
      index: settings.index,
    },
  );
  lap('order');

  // In fair order, each gang: held if its queue spent its budget, or its queue's quota (with
  // what the cohort lends) cannot hold it now, or its queue is at its fair share while one below
  // its own waits for room; else placed if a cluster can hold it whole. Only a placed gang is
  // charged to its queue's quota and fair share, so a gang that finds no room takes nothing from
  // the gangs after it, and its queue's next gang comes next.
  const held = new Map<string, string>();
  /** Gangs held back by fair share (they may not preempt either: they have had their share). */
  const yielded = new Set<string>();
  const decisions = new Map<string, GangDecision>();
  let unplaced = 0;
  // Summed over every node, so only once a gang is unfit (most cycles place or hold them all).
  let roomy: Record<string, bigint> | undefined;
  let starved = '';
  const ordered = fairlyOrdered(views, snapshot, usage, ({ q, view }, request, yields) => {
    if (!view.ok) return 'held';
    const spent = snapshot.budgetHolds?.get(q.queue);
    if (spent) {
      held.set(q.id, `held by its queue's budget: ${spent}`);
      return 'held';
    }
    const short: QuotaShortfall | undefined = ledger?.check(q.queue, request);
    if (short) {
      held.set(q.id, `held by its queue's quota: ${short.message}`);
      return 'held';
    }
    // A quota scoped to cluster sets keeps the gang out of the clusters of a set it is spent in.
    const heldOut = ledger && heldOutByClusterSet(ledger, q.queue, request, clusters, setOf);
    if (heldOut && heldOut.size >= clusters.length) {
      held.set(q.id, `held by its queue's quota: ${[...new Set(heldOut.values())].join('; ')}`);
      return 'held';
    }
    if (yields) {
      yielded.add(q.id);
      held.set(
        q.id,
        `waiting for its turn: queue ${q.queue} has its fair share of the fleet while queue ${starved}, below its own, waits for room`,
      );
      return 'held';
    }
    const decision = decide(view.gang, heldOut);
    decisions.set(q.id, decision);
    if (decision.status === 'placed') {
      const set = setOf.get(decision.placement.cluster);
      ledger?.charge(q.queue, set ? { ...request, ...scopedTo(set, request) } : request);
      return 'admitted';
    }
    if (decision.status !== 'unplaced') return 'held';
    unplaced++;
    // Only a gang that waits for room, and some cluster could hold when empty, holds the others
    // back; one its selectors, taints or exclusions keep out must not.
    roomy ??= largestCluster(clusters);
    if (!fitsWithin(request, roomy) || !waitsForRoom(decision, q)) return 'held';
    starved ||= q.queue;
    return 'unfit';
  });
  lap('place');

  const reservations: NewReservation[] = [];
  const explanations: { jobId: string; explanation: StoredExplanation }[] = [];
  const evaluatedAt = snapshot.now.toISOString();
  let invalid = 0;
  /** Gangs left waiting that could preempt: unplaced or held by quota, valid. */
  const waiting: { q: QueuedGang; gang: Gang }[] = [];
  const preempts = (q: QueuedGang) => snapshot.preemption?.has(q.queue) === true;
  for (const { q, view } of ordered) {
    const summary = held.get(q.id);
    // A spent budget is not worked around by preempting, nor a fair share already had.
    if (
      summary &&
      view.ok &&
      preempts(q) &&
      !snapshot.budgetHolds?.has(q.queue) &&
      !yielded.has(q.id)
    )
      waiting.push({ q, gang: view.gang });
    if (summary) {
      if (view.ok && !explainNow.has(view.gang)) continue; // explained a moment ago
      const explanation: StoredExplanation = { evaluatedAt, summary, clusters: [] };
      checked?.set(q.id, nowMs);
      if (explanationDue(q.explained, explanationDigest(explanation)!))
        explanations.push({ jobId: q.id, explanation });
      continue;
    }
    const decision = view.ok ? decisions.get(q.id)! : view.error;
    if (typeof decision !== 'string' && decision.status === 'placed') {
      const { placement } = decision;
      const where = placement.domain ? ` in ${placement.domain.path.join('/')}` : '';
      const gang = (view as { gang: Gang }).gang; // placed: its view was valid
      reservations.push({
        jobId: q.id,
        cluster: placement.cluster,
        placement,
        nodeRequests: nodeRequestsOf(gang, placement.podSets),
        message: `placed on ${placement.cluster}${where}`,
        queue: q.queue,
        usage: Object.fromEntries(
          Object.entries(quotaRequest(gang.podSets)).map(([k, v]) => [k, Number(v)]),
        ),
      });
      continue;
    }
    if (typeof decision === 'string' || decision.status === 'invalid') invalid++;
    else if (view.ok) {
      if (preempts(q)) waiting.push({ q, gang: view.gang });
      if (!explainNow.has(view.gang)) continue; // explained a moment ago
    }
    const explanation = explain(q, decision, clusters.length, snapshot.unavailable, evaluatedAt);
    checked?.set(q.id, nowMs);
    if (explanationDue(q.explained, explanationDigest(explanation)!))
      explanations.push({ jobId: q.id, explanation });
  }
  if (checked) {
    // Only the gangs of this batch are kept: one that left the queue is forgotten, and one not
    // in this batch is explained afresh when it comes back.
    const batch = new Set(queued.map((q) => q.id));
    for (const id of checked.keys()) if (!batch.has(id)) checked.delete(id);
  }
  lap('verdicts');

  const evictions: PlannedEviction[] = [];
  if (waiting.length > 0) {
    // Capacity after the cycle's own placements: they come first, preemption only fills gaps.
    const queueOf = new Map(ordered.map((o) => [o.q.id, o.q.queue]));
    const placedRows = reservations.map((r): ReservationRow => ({
      jobId: r.jobId,
      queue: queueOf.get(r.jobId),
      cluster: r.cluster,
      fencingToken: -1,
      nodeRequests: r.nodeRequests,
      devices: (r.placement as { devices?: ReservationRow['devices'] }).devices ?? null,
      clusterSet: setOf.get(r.cluster) ?? '',
      deviceCounts: r.usage ?? null,
    }));
    const after = deductReservations(snapshot.clusters, [...snapshot.reservations, ...placedRows]);
    const planned = planPreemptions({
      clusters: after.clusters,
      reservations: snapshot.reservations,
      placed: placedRows,
      waiting,
      rules: snapshot.preemption!,
      quotas: snapshot.quotas ?? [],
      ...(snapshot.cohorts ? { cohorts: snapshot.cohorts } : {}),
      clusterSets: setOf,
      parsed,
      policy: settings.policy,
      defaultGraceSeconds: settings.evictionGraceSeconds ?? 30,
      now: snapshot.now,
    });
    evictions.push(...planned.evictions);
    const stored = new Map(waiting.map((w) => [w.q.id, w.q.explained]));
    for (const [jobId, explanation] of planned.explanations) {
      const i = explanations.findIndex((e) => e.jobId === jobId);
      if (i >= 0) explanations.splice(i, 1);
      checked?.set(jobId, nowMs);
      if (explanationDue(stored.get(jobId) ?? null, explanationDigest(explanation)!))
        explanations.push({ jobId, explanation });
    }
  }
  lap('preempt');

  return {
    reservations,
    explanations,
    evictions,
    considered: queued.length,
    unplaced,
    invalid,
    clusters: clusters.length,
    unreadableReservations: unreadable,
    phases,
  };
}

/**
 * The queued gangs in fair order (dominant-resource fair share by weight, usage now and usage
 * history; see fair-share.ts), each offered to `admit` as it is taken and charged to its queue
 * only when admitted; malformed ones last, to be explained.
 */
function fairlyOrdered(
  views: readonly CycleEntry[],
  snapshot: CycleSnapshot,
  usage: ReadonlyMap<string, Record<string, bigint>>,
  admit: (entry: CycleEntry, request: Record<string, bigint>, yields: boolean) => Admission,
): CycleEntry[] {
  const capacity: Record<string, bigint> = {};
  for (const c of snapshot.clusters)
    for (const n of c.nodes)
      if (n.ready !== false && !n.unschedulable)
        for (const [k, v] of Object.entries(n.allocatable)) capacity[k] = (capacity[k] ?? 0n) + v;
  const cohorts = new Map((snapshot.quotas ?? []).map((q) => [q.name, q.cohort]));
  const valid = views.flatMap((e) =>
    e.view.ok
      ? [
          {
            id: e.q.id,
            queue: e.q.queue,
            priority: e.q.priority,
            createdAt: e.q.createdAt,
            request: quotaRequest(e.view.gang.podSets),
            e,
          },
        ]
      : [],
  );
  const queues = [...snapshot.weights].map(([name, weight]) => {
    const cohort = cohorts.get(name);
    return { name, weight, ...(cohort ? { cohort } : {}) };
  });
  return [
    ...fairOrder(
      valid,
      {
        queues,
        ...(snapshot.cohorts ? { cohorts: snapshot.cohorts } : {}),
        capacity,
        usage,
        ...(snapshot.history
          ? { history: snapshot.history.usage, halfLifeSeconds: snapshot.history.halfLifeSeconds }
          : {}),
      },
      (g, yields) => admit(g.e, g.request, yields),
    ).map((g) => g.e),
    ...views.filter((e) => !e.view.ok),
  ];
}

/**
 * The clusters a gang may not go to because its queue's quota in their cluster set would not
 * hold it, with the shortfall's message; undefined when the queue has no quota scoped to a set
 * or every set has room.
 */
function heldOutByClusterSet(
  ledger: QuotaLedger,
  queue: string,
  request: Amounts,
  clusters: readonly ClusterSnapshot[],
  setOf: ReadonlyMap<string, string>,
): Map<string, string> | undefined {
  const sets = ledger.clusterSets(queue);
  if (sets.size === 0) return undefined;
  const short = new Map<string, string | undefined>();
  for (const set of sets) short.set(set, ledger.check(queue, scopedTo(set, request))?.message);
  let out: Map<string, string> | undefined;
  for (const c of clusters) {
    const why = short.get(setOf.get(c.name) ?? '');
    if (why !== undefined) (out ??= new Map()).set(c.name, why);
  }
  return out;
}

/** The placement reasons that say a gang waits for room to free up. */
const ROOM_CODES: ReadonlySet<string> = new Set([
  'InsufficientCapacity',
  'FragmentedCapacity',
  'TopologyDomainTooSmall',
  'ColocationDomainTooSmall',
]);

/**
 * Whether some cluster turned the gang down for want of free room: from this cycle's
 * explanation, or, when the gang was explained a moment ago and not now, from its stored one.
 */
function waitsForRoom(decision: Extract<GangDecision, { status: 'unplaced' }>, q: QueuedGang) {
  if (decision.explanations.length > 0)
    return decision.explanations.some((e) => ROOM_CODES.has(e.code));
  if (!q.explained) return false;
  try {
    const [, clusters] = JSON.parse(q.explained.verdict) as [string, [string, boolean, string][]];
    return clusters.some(([, , code]) => ROOM_CODES.has(code));
  } catch {
    return false;
  }
}

/** Per resource, the most any one ready cluster has allocatable in all. */
function largestCluster(clusters: readonly ClusterSnapshot[]): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const c of clusters) {
    const sum: Record<string, bigint> = {};
    for (const n of c.nodes)
      if (n.ready !== false && !n.unschedulable)
        for (const [k, v] of Object.entries(n.allocatable)) sum[k] = (sum[k] ?? 0n) + v;
    for (const [k, v] of Object.entries(sum)) if (v > (out[k] ?? 0n)) out[k] = v;
  }
  return out;
}

/** Whether `request` is within `room` for every resource it asks for. */
function fitsWithin(request: Record<string, bigint>, room: Record<string, bigint>): boolean {
  return Object.entries(request).every(([k, v]) => v <= 0n || v <= (room[k] ?? 0n));
}

/** A queued gang with its placement view, as the cycle goes through them. */
type CycleEntry = { q: QueuedGang; view: ReturnType<typeof gangOf> };

/**
 * A stored explanation whose messages changed but whose verdict did not is rewritten at most this
 * often, in ms: the messages carry free-capacity figures that move nearly every cycle, and each
 * rewrite of every queued gang's row (one verdict per cluster) would bloat the jobs table.
 */
export const EXPLANATION_REFRESH_MS = 60_000;

/** A queued gang's explanation is evaluated again at most this often, in ms (see explainedAt). */
export const EXPLANATION_CHECK_MS = 5_000;

/**
 * Whether a cycle writes its explanation: there is none yet, the verdict changed (a cluster's fit
 * or reason, or the summary), or only the figures changed and the stored one is a refresh old.
 */
function explanationDue(stored: ExplanationDigest | null, next: ExplanationDigest): boolean {
  if (!stored || stored.verdict !== next.verdict) return true;
  return stored.text !== next.text && next.at - stored.at >= EXPLANATION_REFRESH_MS;
}

/** Why a gang stays queued: a malformed gang's error, or every cluster's reason. */
function explain(
  q: QueuedGang,
  decision: Exclude<GangDecision, { status: 'placed' }> | string,
  ready: number,
  unavailable: readonly ClusterUnavailable[],
  evaluatedAt: string,
): StoredExplanation {
  if (typeof decision === 'string' || decision.status === 'invalid') {
    const why = typeof decision === 'string' ? decision : decision.error.message;
    return { evaluatedAt, summary: `gang cannot be placed: ${why}`, clusters: [] };
  }
  const members = q.gang.podSets.reduce((n, p) => n + p.count, 0);
  const summary =
    ready === 0
      ? 'no cluster is ready: no agent is connected, or every cluster is cordoned'
      : decision.explanations.every((e) => e.code === 'ExcludedForGang')
        ? `every ready cluster failed to run all ${members} members; waiting until an exclusion ends`
        : `no cluster can hold all ${members} members now`;
  const clusters = [
    ...decision.explanations.map((e) => ({
      cluster: e.cluster,
      fits: false,
      reasonCode: e.code as string,
      message: e.message,
    })),
    ...unavailable.map((u) => ({ ...u, fits: false })),
  ].sort((a, b) => (a.cluster < b.cluster ? -1 : 1));
  return { evaluatedAt, summary, clusters };
}

/**
 * The placement view of a queued gang. Stored requests were checked at submit with the same
 * parser, so a failure here means a corrupt row: the gang is explained as invalid, never placed
 * as a gang that requests nothing.
 */
export function gangOf(
  q: QueuedGang,
  now: Date,
): { ok: true; gang: Gang } | { ok: false; error: string } {
  const base = baseViewOf(q.id, q.gang);
  if (!base.ok) return base;
  const excluded = activeExclusions(q.excludedClusters, now);
  return Object.keys(excluded).length > 0
    ? { ok: true, gang: { ...base.gang, excludedClusters: excluded } }
    : base;
}

type BaseView = { ok: true; gang: Gang } | { ok: false; error: string };

/**
 * The view without exclusions, once per gang spec object: specs are never changed once read
 * (the cycle repository hands the same object to every cycle while the gang is queued), so the
 * requests of a long queue are not parsed again each cycle. Keyed by the job id too, since the
 * view carries it.
 */
const baseViews = new WeakMap<GangSpec, { id: string; view: BaseView }>();

function baseViewOf(id: string, spec: GangSpec): BaseView {
  const hit = baseViews.get(spec);
  if (hit?.id === id) return hit.view;
  const view = parseBaseView(id, spec);
  baseViews.set(spec, { id, view });
  return view;
}

function parseBaseView(id: string, spec: GangSpec): BaseView {
  const group = spec.groups[0];
  const podSets: Gang['podSets'][number][] = [];
  for (const ps of spec.podSets) {
    const parsed = parseResourceList(ps.requests);
    if (!parsed.ok)
      return {
        ok: false,
        error: `stored requests of pod set "${ps.name}" cannot be read: ${parsed.error.message}`,
      };
    const template = (ps.template.spec ?? {}) as {
      nodeSelector?: Record<string, string>;
      tolerations?: Gang['podSets'][number]['tolerations'];
    };
    let claims: DeviceClaim[];
    try {
      claims = podClaimsOf(ps.template, spec.claimTemplates ?? []);
    } catch (e) {
      return {
        ok: false,
        error: `stored device claims of pod set "${ps.name}" cannot be read: ${errorText(e)}`,
      };
    }
    podSets.push({
      name: ps.name,
      count: ps.count,
      requests: parsed.value,
      nodeSelector: template.nodeSelector,
      nodeAffinity: requiredNodeAffinityOf(template),
      tolerations: template.tolerations,
      topology: ps.topology,
      ...(claims.length > 0 ? { claims } : {}),
    });
  }
  return {
    ok: true,
    gang: {
      id,
      podSets,
      colocation: group ? { podSets: group.podSets, level: group.level } : undefined,
      ...(spec.matchDeviceAttribute ? { matchDeviceAttribute: spec.matchDeviceAttribute } : {}),
    },
  };
}

/** Per node, the sum of the requests of the members placed there. */
export function memberRequestsPerNode(
  gang: Gang,
  podSets: readonly { podSet: string; nodes: readonly string[] }[],
): Map<string, Map<string, bigint>> {
  const perNode = new Map<string, Map<string, bigint>>();
  for (const psp of podSets) {
    const requests = gang.podSets.find((p) => p.name === psp.podSet)?.requests ?? {};
    for (const node of psp.nodes) {
      const acc = perNode.get(node) ?? new Map<string, bigint>();
      for (const [k, v] of Object.entries(requests)) acc.set(k, (acc.get(k) ?? 0n) + v);
      perNode.set(node, acc);
    }
  }
  return perNode;
}

/** Per node, the sum of the requests of the members placed there, as quantity strings. */
function nodeRequestsOf(
  gang: Gang,
  podSets: readonly { podSet: string; nodes: readonly string[] }[],
): NodeRequests {
  const out: NodeRequests = {};
  for (const [node, m] of memberRequestsPerNode(gang, podSets))
    out[node] = Object.fromEntries([...m].map(([k, v]) => [k, formatQuantity(v, k)]));
  return out;
}

/** A reservation's node requests as amounts: per node, per resource; `null` when unreadable. */
type HeldRequests = ReadonlyMap<string, ReadonlyMap<string, bigint> | null>;

/**
 * Each reservation's node requests, parsed once while it holds capacity (the Scheduler keeps one
 * across cycles): they never change, and every cycle reads every reservation still holding
 * capacity, up to thousands in a busy fleet, each with up to hundreds of nodes.
 */
export class ReservationRequests {
  private held = new Map<string, HeldRequests>();
  private seen = new Map<string, HeldRequests>();

  /** The requests of `r`, parsed on first sight. */
  of(r: ReservationRow): HeldRequests {
    const key = gangRefKey(r.jobId, r.fencingToken);
    let held = this.seen.get(key) ?? this.held.get(key);
    if (!held) {
      const perNode = new Map<string, ReadonlyMap<string, bigint> | null>();
      for (const [node, requests] of Object.entries(r.nodeRequests)) {
        const parsed = parseResourceList(requests);
        perNode.set(node, parsed.ok ? new Map(Object.entries(parsed.value)) : null);
      }
      held = perNode;
    }
    this.seen.set(key, held);
    return held;
  }

  /** Forgets the reservations the cycle that ends did not read (released since). */
  endCycle(): void {
    this.held = this.seen;
    this.seen = new Map();
  }
}

/**
 * The capacity a cycle places against: each cluster's reported free capacity minus the
 * reservations its report does not reflect yet. Never more than the cluster shows free; a
 * reservation whose requests cannot be read leaves its nodes with nothing free.
 */
export function deductReservations(
  clusters: readonly CycleCluster[],
  reservations: readonly ReservationRow[],
  parsed: ReservationRequests = new ReservationRequests(),
): { clusters: ClusterSnapshot[]; unreadable: string[] } {
  const byCluster = new Map<string, ReservationRow[]>();
  for (const r of reservations) {
    const list = byCluster.get(r.cluster) ?? [];
    list.push(r);
    byCluster.set(r.cluster, list);
  }
  const unreadable: string[] = [];
  const out = clusters.map(({ reflected, ...reported }): ClusterSnapshot => {
    const held = byCluster.get(reported.name) ?? [];
    const cluster = withHeldDevices(reported, held);
    const pending = held.filter((r) => !reflected.has(gangRefKey(r.jobId, r.fencingToken)));
    if (pending.length === 0) return cluster;
    const used = new Map<string, Map<string, bigint>>();
    const full = new Set<string>();
    for (const r of pending) {
      for (const [node, requests] of parsed.of(r)) {
        if (!requests) {
          full.add(node);
          if (!unreadable.includes(r.jobId)) unreadable.push(r.jobId);
          continue;
        }
        const acc = used.get(node) ?? new Map<string, bigint>();
        for (const [k, v] of requests) acc.set(k, (acc.get(k) ?? 0n) + v);
        used.set(node, acc);
      }
    }
    const nodes: NodeSnapshot[] = cluster.nodes.map((n) => {
      if (full.has(n.name))
        return { ...n, free: Object.fromEntries(Object.keys(n.free).map((k) => [k, 0n])) };
      const u = used.get(n.name);
      if (!u) return n;
      const free: Record<string, bigint> = { ...n.free };
      for (const [k, v] of u) free[k] = (free[k] ?? 0n) - v;
      return { ...n, free };
    });
    return { ...cluster, nodes };
  });
  return { clusters: out, unreadable };
}

/**
 * The cluster with the devices reservations hold marked allocated. A reservation holds as many
 * devices on a node as placement chose there until the report shows that many devices of the
 * node held by its gang, not only until the report reflects its pods: the worker's scheduler
 * allocates claims only once the members are ungated, so a report can show the pods with their
 * devices still free. From then on the report's allocations count.
 *
 * The worker's scheduler picks devices by its own order, so another gang may hold a device this
 * reservation's placement chose (each got "some 2 free H100s", not the same two). The
 * reservation then still needs that many devices: it takes its chosen ones that are free first,
 * then other free devices of the same pools, the most alike first. Counting only the chosen
 * devices would count a displaced one once for two gangs, and book the node over.
 */
function withHeldDevices(
  cluster: Omit<CycleCluster, 'reflected'>,
  held: readonly ReservationRow[],
): Omit<CycleCluster, 'reflected'> {
  const byName = new Map(cluster.nodes.map((n) => [n.name, n]));
  const taken = new Map<string, Set<string>>();
  for (const r of held) {
    const holder = gangRefKey(r.jobId, r.fencingToken);
    for (const { node, devices: chosen } of r.devices ?? []) {
      const reported = byName.get(node)?.devices ?? [];
      let need = chosen.length;
      for (const d of reported) if (d.heldBy === holder) need--;
      if (need <= 0) continue;
      const set = taken.get(node) ?? new Set<string>();
      taken.set(node, set);
      const free = (d: Device) => !d.allocated && !set.has(deviceKey(d));
      const byKey = new Map(reported.map((d) => [deviceKey(d), d]));
      const wanted = chosen.map((k) => byKey.get(k)).filter((d): d is Device => d !== undefined);
      for (const d of wanted) {
        if (need === 0) break;
        if (free(d)) {
          set.add(deviceKey(d));
          need--;
        }
      }
      if (need === 0) continue;
      const pools = new Set(wanted.map((d) => `${d.driver}/${d.pool}`));
      const others = reported
        .filter((d) => free(d) && pools.has(`${d.driver}/${d.pool}`))
        .map((d) => ({ d, alike: Math.max(0, ...wanted.map((w) => likeness(d, w))) }))
        .sort((a, b) => b.alike - a.alike || deviceKey(a.d).localeCompare(deviceKey(b.d)));
      for (const { d } of others.slice(0, need)) set.add(deviceKey(d));
    }
  }
  if (taken.size === 0) return cluster;
  const nodes = cluster.nodes.map((n) => {
    const set = taken.get(n.name);
    if (!set || set.size === 0 || !n.devices) return n;
    return {
      ...n,
      devices: n.devices.map((d) =>
        !d.allocated && set.has(deviceKey(d)) ? { ...d, allocated: true } : d,
      ),
    };
  });
  return { ...cluster, nodes };
}

/** How many attributes and capacities two devices share (same name, same value). */
function likeness(a: Device, b: Device): number {
  let n = 0;
  for (const [k, v] of Object.entries(a.attributes ?? {}))
    if (sameAttribute(v, b.attributes?.[k])) n++;
  for (const [k, v] of Object.entries(a.capacity ?? {})) if (b.capacity?.[k] === v) n++;
  return n;
}

function sameAttribute(a: DeviceAttributeValue, b: DeviceAttributeValue | undefined): boolean {
  if (typeof a === 'object' && typeof b === 'object') return a.version === b.version;
  return a === b;
}
