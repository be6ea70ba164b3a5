// Preemption, decided once at the hub with the whole fleet in view. A gang that waits may take
// the place of others when its queue allows it:
//  - within its queue, from gangs of lower priority (`withinQueue: LowerPriority`);
//  - across its cohort, taking back quota other queues borrowed (`reclaimWithinCohort`), when
//    its own queue's nominal quota would admit it: the victims are gangs of queues that hold
//    more than their nominal quota, of lower priority or of any (`LowerPriority` / `Any`).
// The victims are the fewest gangs of ONE cluster whose going lets the gang in there, quota
// included: never several clusters for one gang (MultiKueue starts preemption in every worker
// at once, kueue #8303). Pure: the Scheduler's cycle gives the capacity left after its own
// placements and commits the choice as evictions with notice.
import { gangRefKey } from '@muster/common';
import type { ClusterSnapshot, Gang, NodeSnapshot, Placement } from '@muster/placement';
import type { QueuePreemptionSpec } from '../inventory/cluster.domain';
import { scopedTo, type Amounts, type QuotaLedger } from './quota';

/** What a queue's waiting gangs may preempt. */
export type QueuePreemption = QueuePreemptionSpec;

/** A gang holding capacity (Dispatched or Running, not being evicted): a possible victim. */
export interface Holder {
  jobId: string;
  fencingToken: number;
  queue: string;
  priority: number;
  cluster: string;
  /** When it was placed (epoch ms): of equal priority the newest goes first, losing least work. */
  placedAt: number;
  /** What it holds per node. */
  nodes: ReadonlyMap<string, ReadonlyMap<string, bigint>>;
  /** Its whole request (what its queue's quota counts). */
  request: Amounts;
}

/** The waiting gang. */
export interface Preemptor {
  gang: Gang;
  queue: string;
  priority: number;
  request: Amounts;
}

export interface PreemptionContext {
  /** Each ready cluster's capacity after the cycle's own placements. */
  clusters: readonly ClusterSnapshot[];
  /** The gangs that may be chosen (others' evictions in flight are left out). */
  holders: readonly Holder[];
  /** A queue's rules; undefined: its gangs never preempt. */
  rules: (queue: string) => QueuePreemption | undefined;
  /** The cohort tree a queue's quota is in (its root): reclaim stays within it. */
  cohortOf: (queue: string) => string | undefined;
  /** A cluster's cluster set, whose scoped quota a gang placed there also takes. Absent: none. */
  clusterSetOf?: (cluster: string) => string | undefined;
  /** The quotas, with what holders (and the cycle's placements) use; changed and restored. */
  ledger?: QuotaLedger;
  /** The placement the gang would get on `cluster`, or undefined when it does not fit. */
  fit: (cluster: ClusterSnapshot, gang: Gang) => Placement | undefined;
}

export interface PreemptionChoice {
  cluster: string;
  victims: Holder[];
  /** Why these victims may go, for the preemptor's explanation. */
  kinds: ReadonlySet<'withinQueue' | 'reclaim'>;
  /** Where the gang fits once the victims are gone. */
  placement: Placement;
  /** What the gang takes of its queue's quota there (its request, scoped to the cluster's set). */
  request: Amounts;
}

/** Most victims tried on one cluster for one gang (bounds the cost of a cycle). */
export const MAX_CANDIDATES_PER_CLUSTER = 200;

/**
 * The fewest victims in one cluster that let `p` in, or undefined when no cluster has a set.
 * On each cluster the candidates go lowest priority first (then newest), added one by one until
 * the gang fits and its quota admits it; then each is spared again, the most valuable first, if
 * the gang still fits without it. Of the clusters, the one with the fewest victims wins, then the
 * lowest top priority among them, then the cluster name.
 */
export function choosePreemption(
  p: Preemptor,
  ctx: PreemptionContext,
): PreemptionChoice | undefined {
  const rules = ctx.rules(p.queue);
  if (!rules) return undefined;
  const kindOf = victimKind(p, rules, ctx);
  const byCluster = new Map<string, { h: Holder; kind: 'withinQueue' | 'reclaim' }[]>();
  for (const h of ctx.holders) {
    const kind = kindOf(h);
    if (!kind) continue;
    const list = byCluster.get(h.cluster) ?? [];
    list.push({ h, kind });
    byCluster.set(h.cluster, list);
  }
  let best: PreemptionChoice | undefined;
  for (const cluster of ctx.clusters) {
    const candidates = (byCluster.get(cluster.name) ?? [])
      .sort((a, b) => victimOrder(a.h, b.h))
      .slice(0, MAX_CANDIDATES_PER_CLUSTER);
    if (candidates.length === 0) continue;
    const choice = onCluster(p, cluster, candidates, ctx);
    if (choice && (!best || better(choice, best))) best = choice;
  }
  return best;
}

/** Whether a holder may be a victim of `p`, and by which rule. */
function victimKind(
  p: Preemptor,
  rules: QueuePreemption,
  ctx: PreemptionContext,
): (h: Holder) => 'withinQueue' | 'reclaim' | undefined {
  const cohort = ctx.cohortOf(p.queue);
  // Reclaiming is for a gang its own nominal quota admits: what it takes back was only lent.
  const reclaim =
    rules.reclaimWithinCohort !== 'Never' &&
    cohort !== undefined &&
    ctx.ledger !== undefined &&
    withinNominal(ctx.ledger, p.queue, p.request);
  return (h) => {
    if (h.queue === p.queue)
      return rules.withinQueue === 'LowerPriority' && h.priority < p.priority
        ? 'withinQueue'
        : undefined;
    if (!reclaim || ctx.cohortOf(h.queue) !== cohort || !borrows(ctx.ledger!, h.queue))
      return undefined;
    return rules.reclaimWithinCohort === 'Any' || h.priority < p.priority ? 'reclaim' : undefined;
  };
}

function onCluster(
  p: Preemptor,
  cluster: ClusterSnapshot,
  candidates: readonly { h: Holder; kind: 'withinQueue' | 'reclaim' }[],
  ctx: PreemptionContext,
): PreemptionChoice | undefined {
  const ledger = ctx.ledger;
  const chosen: { h: Holder; kind: 'withinQueue' | 'reclaim' }[] = [];
  const set = ctx.clusterSetOf?.(cluster.name);
  const request = set ? { ...p.request, ...scopedTo(set, p.request) } : p.request;
  const admits = () => !ledger || ledger.check(p.queue, request) === undefined;
  const release = (h: Holder) => ledger?.release(h.queue, h.request);
  const restore = (h: Holder) => ledger?.charge(h.queue, h.request);
  let placement: Placement | undefined;
  try {
    for (const c of candidates) {
      // A reclaim victim only while its queue still borrows after the victims before it.
      if (c.kind === 'reclaim' && !borrows(ledger!, c.h.queue)) continue;
      chosen.push(c);
      release(c.h);
      if (admits()) placement = ctx.fit(freed(cluster, chosen), p.gang);
      if (placement) break;
    }
    if (!placement) return undefined;
    // Spare each victim the gang does not need, the most valuable (last added) first.
    for (let i = chosen.length - 1; i >= 0 && chosen.length > 1; i--) {
      const spared = chosen[i]!;
      restore(spared.h);
      const rest = chosen.filter((_, j) => j !== i);
      const reclaimStillBorrowed = rest.every((c) => c.kind !== 'reclaim' || borrowsAfter(c));
      const fits =
        reclaimStillBorrowed && admits() ? ctx.fit(freed(cluster, rest), p.gang) : undefined;
      if (fits) {
        chosen.splice(i, 1);
        placement = fits;
      } else release(spared.h);
    }
    return {
      cluster: cluster.name,
      victims: chosen.map((c) => c.h),
      kinds: new Set(chosen.map((c) => c.kind)),
      placement,
      request,
    };
  } finally {
    for (const c of chosen) restore(c.h);
  }

  /** A reclaim victim's queue, with the other victims gone, still holds more than its nominal. */
  function borrowsAfter(c: { h: Holder }): boolean {
    if (!ledger) return true;
    ledger.charge(c.h.queue, c.h.request);
    const still = borrows(ledger, c.h.queue);
    ledger.release(c.h.queue, c.h.request);
    return still;
  }
}

/** The cluster with the victims' holdings free again (their devices too). */
export function freed(
  cluster: ClusterSnapshot,
  victims: readonly { h: Holder }[] | readonly Holder[],
): ClusterSnapshot {
  const holders = victims.map((v) => ('h' in v ? v.h : v));
  const keys = new Set(holders.map((h) => gangRefKey(h.jobId, h.fencingToken)));
  const back = new Map<string, Map<string, bigint>>();
  for (const h of holders)
    for (const [node, requests] of h.nodes) {
      const acc = back.get(node) ?? new Map<string, bigint>();
      for (const [k, v] of requests) acc.set(k, (acc.get(k) ?? 0n) + v);
      back.set(node, acc);
    }
  const nodes = cluster.nodes.map((n): NodeSnapshot => {
    const add = back.get(n.name);
    const held = n.devices?.some((d) => d.heldBy !== undefined && keys.has(d.heldBy));
    if (!add && !held) return n;
    const free: Record<string, bigint> = { ...n.free };
    for (const [k, v] of add ?? []) free[k] = (free[k] ?? 0n) + v;
    return {
      ...n,
      free,
      ...(held
        ? {
            devices: n.devices!.map((d) =>
              d.heldBy !== undefined && keys.has(d.heldBy)
                ? { ...d, allocated: false, heldBy: undefined }
                : d,
            ),
          }
        : {}),
    };
  });
  return { ...cluster, nodes };
}

/** Lowest priority first; of equal priority the newest; then by id. */
function victimOrder(a: Holder, b: Holder): number {
  return (
    a.priority - b.priority ||
    b.placedAt - a.placedAt ||
    (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0)
  );
}

function better(a: PreemptionChoice, b: PreemptionChoice): boolean {
  if (a.victims.length !== b.victims.length) return a.victims.length < b.victims.length;
  const top = (c: PreemptionChoice) => Math.max(...c.victims.map((v) => v.priority));
  if (top(a) !== top(b)) return top(a) < top(b);
  return a.cluster < b.cluster;
}

/** The queue uses more than its nominal quota of some resource. */
function borrows(ledger: QuotaLedger, queue: string): boolean {
  return Object.values(ledger.borrowed(queue)).some((v) => v > 0n);
}

/** The queue's nominal quota alone would hold `request` on top of what it uses. */
function withinNominal(ledger: QuotaLedger, queue: string, request: Amounts): boolean {
  const nominal = ledger.nominal(queue);
  const used = ledger.used(queue);
  for (const [r, amount] of Object.entries(request)) {
    const n = nominal[r];
    if (n !== undefined && (used[r] ?? 0n) + amount > n) return false;
  }
  return true;
}
