// Fair order across queues: weighted dominant-resource fair share (DRF) plus fair share by usage
// history, in place of the weighted round-robin of queue-order.ts.
//
// A queue's share of one resource is what it holds of it over the ready fleet's capacity; its
// dominant share is the largest of those, so a queue that holds half the CPUs counts as using
// half the fleet even when it holds no GPU. Its decayed usage history adds a second dominant share
// of the same kind (normalised by the decayed integral of a full fleet), so yesterday's heavy user
// waits behind a queue that ran nothing when both hold the same now. The sum over the weight is
// what orders: a queue of weight 2 may hold twice what one of weight 1 holds before it goes second.
//
// Queues of one cohort compete first as one entity (their usage and history summed, their weights
// summed over the members with gangs in this cycle, fixed for the cycle so that a member whose
// gangs were all taken still answers for what it was charged), then among themselves. Cohorts
// nest: a cohort with a parent is one member of it, competing beside the parent's own queues, so
// the tree is shared level by level (an organisation between its divisions, a division between
// its teams).
//
// The order is greedy progressive filling: the root entity with the lowest share, within it the
// member with the lowest share, and so down to a queue, gives its next gang, which is charged to
// the queue and every cohort above it as if admitted. Only the shares on that path change, so a
// binary heap per cohort keeps a step at O(d (R + log q)) for depth d, R resources and q queues.
//
// Head-of-line: the order never blocks. The caller offers the whole order to quota and placement,
// and a gang that does not fit does not stop those behind it, even in its own queue. Its charge
// here only makes its queue look fuller for the rest of this order; the next cycle starts again
// from what was actually admitted.
//
// Pure and synchronous. Amounts are bigint milli-units and sums of them stay exact; shares are
// floats (exact ties are broken by name, so equal input gives one order).

import { cohortParents, type Amounts } from './quota';

/** What became of a gang offered in fair order (see fairOrder). */
export type Admission = 'admitted' | 'unfit' | 'held';

export interface FairShareQueue {
  name: string;
  /** Admin-set weight, > 0 (a queue with weight 2 deserves twice the share of weight 1). */
  weight: number;
  /**
   * Queues of one cohort compete first as one (with the sum of the weights of those with gangs),
   * then among themselves.
   */
  cohort?: string;
}

export interface FairShareInput {
  queues: readonly FairShareQueue[];
  /**
   * Cohorts' parents: a cohort with a parent competes inside it as one, like a queue of it (see
   * cohortParents for loops). Absent: every cohort is a root.
   */
  cohorts?: readonly { name: string; parent?: string }[];
  /**
   * Total of each resource across the ready fleet (milli-units): the denominator of every share.
   * A resource absent or 0 is ignored.
   */
  capacity: Amounts;
  /** What each queue's admitted gangs hold now (milli-units). Queue absent: nothing. */
  usage: ReadonlyMap<string, Amounts>;
  /**
   * Each queue's decayed usage history in milli-unit-seconds per resource (see decayedUsage).
   * Absent: no history.
   */
  history?: ReadonlyMap<string, Readonly<Record<string, number>>>;
  /**
   * The history's half-life in seconds; the history's share is
   * history_r / (capacity_r × halfLifeSeconds / ln 2), i.e. normalised by the decayed integral of
   * a full fleet. Required (> 0) when history is given.
   */
  halfLifeSeconds?: number;
  /**
   * How much the history counts next to the current usage (0 = only current, 1 = equal).
   * Default 1.
   */
  historyWeight?: number;
}

/** What fairOrder needs of a queued gang. */
export interface FairShareGang {
  id: string;
  queue: string;
  priority: number;
  createdAt: Date;
  /** The whole gang's request (milli-units), charged to its queue once it is ordered. */
  request: Amounts;
}

/** The resources that count (capacity > 0), in name order, with their denominators. */
interface Fleet {
  readonly resources: readonly string[];
  readonly capacity: readonly number[];
  /** Decayed integral of the full fleet per resource: the history's denominator. */
  readonly decayedCapacity: readonly number[];
  readonly historyWeight: number;
}

function fleetOf(input: FairShareInput): Fleet {
  const resources = Object.keys(input.capacity)
    .filter((r) => input.capacity[r]! > 0n)
    .sort();
  const capacity = resources.map((r) => Number(input.capacity[r]!));
  const halfLife = input.halfLifeSeconds;
  if (input.history !== undefined && !(halfLife !== undefined && halfLife > 0))
    throw new RangeError('fair share: halfLifeSeconds must be > 0 when a history is given');
  return {
    resources,
    capacity,
    // Without a history no history share is computed, so its denominator does not matter.
    decayedCapacity: capacity.map((c) => (c * (halfLife ?? 1)) / Math.LN2),
    historyWeight: input.historyWeight ?? 1,
  };
}

/** Admin weights are checked where they are set; a bad one here counts as the default 1. */
function weightOf(queue: FairShareQueue | undefined): number {
  const w = queue?.weight;
  return w !== undefined && Number.isFinite(w) && w > 0 ? w : 1;
}

/** The first entry of each name (queue names are unique where they are set). */
function queuesByName(queues: readonly FairShareQueue[]): Map<string, FairShareQueue> {
  const out = new Map<string, FairShareQueue>();
  for (const q of queues) if (!out.has(q.name)) out.set(q.name, q);
  return out;
}

/** The largest values[i] / over[i]: the dominant share, never below 0. */
function maxRatio(values: readonly (bigint | number)[], over: readonly number[]): number {
  let m = 0;
  for (let i = 0; i < over.length; i++) {
    const s = Number(values[i]!) / over[i]!;
    if (s > m) m = s;
  }
  return m;
}

/** Adds `amounts` to `acc` for the fleet's resources (the others never count). */
function addAmounts(fleet: Fleet, acc: bigint[], amounts: Amounts | undefined): void {
  if (amounts === undefined) return;
  for (let i = 0; i < fleet.resources.length; i++) {
    const a = amounts[fleet.resources[i]!];
    if (a !== undefined) acc[i] = acc[i]! + a;
  }
}

/** Summed usage of some queues (plus `extra`), per fleet resource. */
function usageOf(
  fleet: Fleet,
  input: FairShareInput,
  queues: readonly string[],
  extra?: Amounts,
): bigint[] {
  const acc = fleet.resources.map(() => 0n);
  for (const q of queues) addAmounts(fleet, acc, input.usage.get(q));
  addAmounts(fleet, acc, extra);
  return acc;
}

/** historyWeight × the dominant share of the summed history of some queues. */
function historyPartOf(fleet: Fleet, input: FairShareInput, queues: readonly string[]): number {
  if (input.history === undefined || fleet.historyWeight === 0) return 0;
  const acc = fleet.resources.map(() => 0);
  for (const q of queues) {
    const h = input.history.get(q);
    if (h !== undefined)
      fleet.resources.forEach((r, i) => {
        acc[i] = acc[i]! + (h[r] ?? 0);
      });
  }
  return fleet.historyWeight * maxRatio(acc, fleet.decayedCapacity);
}

/** What orders: the dominant share now plus the history's part, over the weight. */
function shareOf(fleet: Fleet, used: readonly bigint[], historyPart: number, weight: number) {
  return (maxRatio(used, fleet.capacity) + historyPart) / weight;
}

/**
 * One queue's dominant share: max over resources of (usage_r / capacity_r), plus historyWeight ×
 * the same over the history, divided by its weight. `extra` counts as used too (a what-if).
 */
export function queueShare(queue: string, input: FairShareInput, extra?: Amounts): number {
  const fleet = fleetOf(input);
  const config = input.queues.find((q) => q.name === queue);
  return shareOf(
    fleet,
    usageOf(fleet, input, [queue], extra),
    historyPartOf(fleet, input, [queue]),
    weightOf(config),
  );
}

/** Within a queue: higher priority first, then older, then by id. */
function byPriorityThenAge(a: FairShareGang, b: FairShareGang): number {
  return (
    b.priority - a.priority ||
    a.createdAt.getTime() - b.createdAt.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** A binary min-heap; only the top's key ever changes, and `updateTop` restores the order then. */
class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  top(): T {
    return this.items[0]!;
  }

  push(item: T): void {
    const items = this.items;
    let i = items.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  popTop(): void {
    const last = this.items.pop()!;
    if (this.items.length === 0) return;
    this.items[0] = last;
    this.updateTop();
  }

  updateTop(): void {
    const items = this.items;
    const n = items.length;
    const item = items[0]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const child = l + 1 < n && this.less(items[l + 1]!, items[l]!) ? l + 1 : l;
      if (!this.less(items[child]!, item)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}

/** A queue with gangs in this order. */
interface QueueTurn<T> {
  readonly name: string;
  readonly weight: number;
  /** Its gangs, in the order it gives them. */
  readonly gangs: readonly T[];
  next: number;
  readonly used: bigint[];
  readonly historyPart: number;
  share: number;
}

/**
 * A node of the order's tree: a cohort with members (queues and cohorts) in this order, or a
 * queue without cohort (a root that is its own only member).
 */
interface Entity<T> {
  readonly name: string;
  readonly isCohort: boolean;
  /** Sum of the active queues' weights under it (fixed for the order). */
  readonly weight: number;
  /** A cohort's members, lowest share first; empty for a lone queue. */
  readonly members: MinHeap<Member<T>>;
  /** A lone queue's turn. */
  readonly turn?: QueueTurn<T>;
  /** Everything under it, active or not, plus what this order charged. */
  readonly used: bigint[];
  readonly historyPart: number;
  share: number;
}

/** A member of a cohort: one of its queues, or a cohort under it. */
type Member<T> = { readonly queue: QueueTurn<T> } | { readonly cohort: Entity<T> };

const nameLess = (a: string, b: string) => a < b;

// A cohort and a queue may share a name; the queue goes first then, so the order stays total.
const entityLess = <T>(a: Entity<T>, b: Entity<T>) =>
  a.share < b.share ||
  (a.share === b.share &&
    (nameLess(a.name, b.name) || (a.name === b.name && !a.isCohort && b.isCohort)));

const memberOf = <T>(m: Member<T>): { name: string; share: number; isCohort: boolean } =>
  'queue' in m
    ? { name: m.queue.name, share: m.queue.share, isCohort: false }
    : { name: m.cohort.name, share: m.cohort.share, isCohort: true };

const memberLess = <T>(a: Member<T>, b: Member<T>) => {
  const x = memberOf(a);
  const y = memberOf(b);
  return (
    x.share < y.share ||
    (x.share === y.share &&
      (nameLess(x.name, y.name) || (x.name === y.name && !x.isCohort && y.isCohort)))
  );
};

/**
 * The fair order of one cycle's queued gangs. Repeatedly: pick the root entity (a cohort without
 * parent, or a queue without cohort) with the lowest weighted dominant share, within it the member
 * (a queue, or a cohort nested in it) with the lowest share, and so down to a queue; take that
 * queue's next gang (higher priority first, then older createdAt, then id); charge the gang's
 * request to the queue and every cohort above it as if admitted, so the queue's next gang counts
 * it. Queues whose gangs all got taken drop out. Every input gang appears exactly once.
 * Deterministic for equal input (ties by name). O(n (d + log q)) for n gangs at depth d.
 *
 * With `admit`, each gang is offered as it is taken, and charged only when `admit` says it was
 * `admitted`: a queue whose gang did not fit keeps its share, so its next gang comes next; the
 * queue that deserves most gets every chance first.
 *
 * Backfill is bounded by fair share: once a gang of a root entity below its fair share (its share
 * under 1 / the active weights' sum: it holds less than its weight's part of the fleet) did not
 * fit (`unfit`), the gangs of root entities at or above their fair share are offered with `yields`
 * for the rest of the order, and the caller holds them back: the room that frees up goes to the
 * queue below its share. Without it, the small gangs of queues over their share fill every hole
 * and a queue with big gangs never gets its share (in the fairness benchmark, the heaviest of
 * four tenants fell 8 points short over half an hour). Queues below their share still backfill.
 */
export function fairOrder<T extends FairShareGang>(
  gangs: readonly T[],
  input: FairShareInput,
  admit: (gang: T, yields: boolean) => Admission = () => 'admitted',
): T[] {
  const fleet = fleetOf(input);
  const config = queuesByName(input.queues);

  const byQueue = new Map<string, T[]>();
  for (const g of gangs) {
    const list = byQueue.get(g.queue);
    if (list) list.push(g);
    else byQueue.set(g.queue, [g]);
  }

  const turns = new Map<string, QueueTurn<T>>();
  for (const [name, list] of byQueue) {
    const used = usageOf(fleet, input, [name]);
    const historyPart = historyPartOf(fleet, input, [name]);
    const weight = weightOf(config.get(name));
    turns.set(name, {
      name,
      weight,
      gangs: list.sort(byPriorityThenAge),
      next: 0,
      used,
      historyPart,
      share: shareOf(fleet, used, historyPart, weight),
    });
  }

  // The cohort forest: every cohort a queue names, and the parents above them.
  const parents = cohortParents(input.cohorts);
  const queuesUnder = new Map<string, string[]>();
  const subCohorts = new Map<string, string[]>();
  const under = (m: Map<string, string[]>, c: string) => {
    let list = m.get(c);
    if (!list) m.set(c, (list = []));
    return list;
  };
  for (const q of config.values())
    if (q.cohort !== undefined) under(queuesUnder, q.cohort).push(q.name);
  for (const [c, p] of parents) under(subCohorts, p).push(c);
  /** Every queue in a cohort's subtree (for its usage and history). */
  const allQueues = (c: string): string[] => [
    ...(queuesUnder.get(c) ?? []),
    ...(subCohorts.get(c) ?? []).flatMap(allQueues),
  ];
  /** A cohort's entity, or undefined when no queue under it has gangs in this order. */
  const cohortEntity = (name: string): Entity<T> | undefined => {
    const members = new MinHeap<Member<T>>(memberLess);
    let weight = 0;
    for (const q of queuesUnder.get(name) ?? []) {
      const t = turns.get(q);
      if (!t) continue;
      members.push({ queue: t });
      weight += t.weight;
    }
    for (const c of subCohorts.get(name) ?? []) {
      const e = cohortEntity(c);
      if (!e) continue;
      members.push({ cohort: e });
      weight += e.weight;
    }
    if (members.size === 0) return undefined;
    const all = allQueues(name);
    const used = usageOf(fleet, input, all);
    const historyPart = historyPartOf(fleet, input, all);
    const share = shareOf(fleet, used, historyPart, weight);
    return { name, isCohort: true, weight, members, used, historyPart, share };
  };

  const entities = new MinHeap<Entity<T>>(entityLess);
  const cohortNames = new Set([...queuesUnder.keys(), ...subCohorts.keys()]);
  for (const c of cohortNames) {
    if (parents.has(c)) continue;
    const e = cohortEntity(c);
    if (e) entities.push(e);
  }
  for (const t of turns.values())
    if (config.get(t.name)?.cohort === undefined)
      // A lone queue's entity holds its queue's very usage, so one charge counts for both.
      entities.push({
        name: t.name,
        isCohort: false,
        weight: t.weight,
        members: new MinHeap<Member<T>>(memberLess),
        turn: t,
        used: t.used,
        historyPart: t.historyPart,
        share: t.share,
      });

  // An entity's fair share, normalised like its share: 1 over the active weights' sum.
  let activeWeight = 0;
  for (const t of turns.values()) activeWeight += t.weight;
  const fairLine = 1 / activeWeight;
  let waiting = false;
  const out: T[] = [];
  const path: Entity<T>[] = [];
  while (entities.size > 0) {
    const root = entities.top();
    // Down the tree along the lowest shares to a queue.
    path.length = 0;
    let turn = root.turn;
    for (let e: Entity<T> | undefined = root; e && !turn;) {
      path.push(e);
      const m = e.members.top();
      if ('queue' in m) turn = m.queue;
      else e = m.cohort;
    }
    if (!root.isCohort) path.push(root);
    const gang = turn!.gangs[turn!.next++]!;
    out.push(gang);
    const below = root.share < fairLine;
    const admission = admit(gang, waiting && !below);
    if (admission === 'unfit' && below) waiting = true;
    if (admission === 'admitted') {
      addAmounts(fleet, turn!.used, gang.request);
      turn!.share = shareOf(fleet, turn!.used, turn!.historyPart, turn!.weight);
      for (const e of path) {
        if (!e.isCohort) {
          e.share = turn!.share; // same usage, history and weight
          continue;
        }
        addAmounts(fleet, e.used, gang.request);
        e.share = shareOf(fleet, e.used, e.historyPart, e.weight);
      }
    }
    // Each node of the path is the top of its parent's heap: restore the order bottom-up.
    let done = turn!.next >= turn!.gangs.length;
    for (let i = path.length - 1; i >= 0; i--) {
      const e = path[i]!;
      if (!e.isCohort) continue; // a lone queue: its root entry is handled below
      if (done) e.members.popTop();
      else e.members.updateTop();
      done = e.members.size === 0;
    }
    if (done) entities.popTop();
    else entities.updateTop();
  }
  return out;
}

/**
 * The share of the fleet each queue with demand (listed in `active`) is entitled to, as fractions
 * summing to 1: weight-proportional, cohorts first by the sum of their active members' weights
 * then split by weight within. For display ("fair share" column) and the fairness benchmark.
 */
export function fairShares(
  queues: readonly FairShareQueue[],
  active: ReadonlySet<string>,
): Map<string, number> {
  // A cohort is entitled to its active members' weights over all active weights and splits that
  // by weight, so each member ends with its weight over all active weights, as a lone queue does.
  const config = queuesByName(queues);
  const names = [...active].sort();
  const weights = names.map((n) => weightOf(config.get(n)));
  const total = weights.reduce((sum, w) => sum + w, 0);
  return new Map(names.map((n, i) => [n, weights[i]! / total]));
}

/**
 * Exponentially decayed sum of usage buckets: each bucket {start, lengthSeconds, seconds: per
 * resource milli-unit-seconds} weighs 2^(-(now - bucketMid)/halfLife). Buckets in the future
 * count fully.
 */
export function decayedUsage(
  buckets: readonly {
    start: Date;
    lengthSeconds: number;
    seconds: Readonly<Record<string, number>>;
  }[],
  now: Date,
  halfLifeSeconds: number,
): Record<string, number> {
  if (!(halfLifeSeconds > 0)) throw new RangeError('decayedUsage: halfLifeSeconds must be > 0');
  const out: Record<string, number> = {};
  for (const b of buckets) {
    const midMs = b.start.getTime() + (b.lengthSeconds * 1000) / 2;
    // The bucket still filling (its middle ahead of now) counts fully, never more.
    const ageSeconds = Math.max(0, (now.getTime() - midMs) / 1000);
    const weight = 2 ** (-ageSeconds / halfLifeSeconds);
    for (const [r, s] of Object.entries(b.seconds)) out[r] = (out[r] ?? 0) + s * weight;
  }
  return out;
}
