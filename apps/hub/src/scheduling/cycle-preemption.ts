// The scheduling cycle's preemption step: after placement, a few of the gangs left waiting whose
// queues allow it get the fewest victims of one cluster (choosePreemption), committed as
// evictions with notice in the cycle's own transaction. The waiting gang is not placed now: it is
// placed by a later cycle, once its victims are confirmed gone.
import {
  deviceKey,
  fitGang,
  type ClusterSnapshot,
  type Gang,
  type Placement,
} from '@muster/placement';
import type { Eviction, StoredExplanation } from '../jobs/job.domain';
import type { QueuedGang, ReservationRow } from './cycle.repository';
import { choosePreemption, type Holder, type QueuePreemption } from './preemption';
import { QuotaLedger, type CohortQuota, type QueueQuota } from './quota';
import { heldAmounts, quotaRequest, usageByQueue } from './queue-quotas';
import { memberRequestsPerNode, type ReservationRequests } from './plan-cycle';

/** Most waiting gangs that choose victims in one cycle (each costs a placement per candidate). */
export const MAX_PREEMPTORS_PER_CYCLE = 4;

/** A gang's eviction, to commit with the cycle. */
export interface PlannedEviction {
  jobId: string;
  fencingToken: number;
  eviction: Eviction;
}

export interface PreemptionInput {
  /** Capacity after every reservation and this cycle's placements (see deductReservations). */
  clusters: readonly ClusterSnapshot[];
  reservations: readonly ReservationRow[];
  /** This cycle's placements, as reservation rows (they hold quota now too). */
  placed: readonly ReservationRow[];
  /** The gangs left waiting (unplaced, or held by quota), in the cycle's order. */
  waiting: readonly { q: QueuedGang; gang: Gang }[];
  rules: ReadonlyMap<string, QueuePreemption>;
  quotas: readonly QueueQuota[];
  cohorts?: readonly CohortQuota[];
  /** Each ready cluster's cluster set ('' for none). */
  clusterSets?: ReadonlyMap<string, string>;
  parsed: ReservationRequests;
  policy: 'pack' | 'spread';
  defaultGraceSeconds: number;
  now: Date;
}

export interface PreemptionPlan {
  evictions: PlannedEviction[];
  /** Explanations of the waiting gangs that preempt now, or wait for their victims to go. */
  explanations: Map<string, StoredExplanation>;
}

export function planPreemptions(input: PreemptionInput): PreemptionPlan {
  const evictions: PlannedEviction[] = [];
  const explanations = new Map<string, StoredExplanation>();
  const evaluatedAt = input.now.toISOString();
  // Gangs whose victims are still going: they wait for them, and never preempt twice.
  const inFlight = new Map<string, { cluster: string; n: number }>();
  for (const r of input.reservations) {
    const f = r.eviction?.for;
    if (!f) continue;
    const e = inFlight.get(f) ?? { cluster: r.cluster, n: 0 };
    e.n++;
    inFlight.set(f, e);
  }
  const candidates = input.waiting.filter(({ q }) => input.rules.has(q.queue));
  for (const { q } of candidates) {
    const e = inFlight.get(q.id);
    if (e)
      explanations.set(q.id, {
        evaluatedAt,
        summary: `waiting for ${e.n} gang${e.n === 1 ? '' : 's'} it preempted in ${e.cluster} to end (they have their notice)`,
        clusters: [],
      });
  }
  const preemptors = candidates.filter(({ q }) => !inFlight.has(q.id));
  if (preemptors.length === 0) return { evictions, explanations };

  const ledger =
    input.quotas.length > 0
      ? new QuotaLedger(
          input.quotas,
          usageByQueue([...input.reservations, ...input.placed], (r) =>
            input.parsed.of(r).values(),
          ),
          input.cohorts,
        )
      : undefined;
  // Reclaim is across a whole cohort tree: queues compete for what its root lends.
  const rootOf = new Map(
    input.quotas.map((q) => [q.name, ledger?.cohortsOf(q.name).at(-1) ?? q.cohort]),
  );
  let holders = input.reservations.flatMap((r) => holderOf(r, input.parsed));
  const reservationOf = new Map(input.reservations.map((r) => [r.jobId, r]));
  let clusters = [...input.clusters];
  let chosen = 0;
  for (const { q, gang } of preemptors) {
    if (chosen >= MAX_PREEMPTORS_PER_CYCLE) break;
    const request = quotaRequest(gang.podSets);
    const choice = choosePreemption(
      { gang, queue: q.queue, priority: q.priority, request },
      {
        clusters,
        holders,
        rules: (queue) => input.rules.get(queue),
        cohortOf: (queue) => rootOf.get(queue),
        clusterSetOf: (cluster) => input.clusterSets?.get(cluster) || undefined,
        ledger,
        fit: (cluster, g) => {
          const d = fitGang(cluster, g, { policy: input.policy, explain: false });
          return d.status === 'placed' ? d.placement : undefined;
        },
      },
    );
    if (!choice) continue;
    chosen++;
    const victims = new Set(choice.victims.map((v) => v.jobId));
    holders = holders.filter((h) => !victims.has(h.jobId));
    // The room the victims leave is this gang's: the next preemptor does not count on it.
    for (const v of choice.victims) ledger?.release(v.queue, v.request);
    ledger?.charge(q.queue, choice.request);
    clusters = clusters.map((c) =>
      c.name === choice.cluster ? taken(c, gang, choice.placement) : c,
    );
    const why = [
      choice.kinds.has('withinQueue')
        ? `lower priority than ${q.priority} in queue ${q.queue}`
        : '',
      choice.kinds.has('reclaim')
        ? `holding quota borrowed from cohort ${rootOf.get(q.queue)}`
        : '',
    ]
      .filter(Boolean)
      .join('; ');
    for (const v of choice.victims) {
      const row = reservationOf.get(v.jobId)!;
      evictions.push({
        jobId: v.jobId,
        fencingToken: v.fencingToken,
        eviction: {
          reason: 'Preempted',
          message: `preempted by gang ${q.id} (queue ${q.queue}, priority ${q.priority}) in ${choice.cluster}: the gang is deleted once its grace period after the notice ends, then requeued keeping its place`,
          graceSeconds: row.graceSeconds ?? input.defaultGraceSeconds,
          decidedAt: evaluatedAt,
          for: q.id,
        },
      });
    }
    explanations.set(q.id, {
      evaluatedAt,
      summary: `preempting ${choice.victims.length} gang${choice.victims.length === 1 ? '' : 's'} in ${choice.cluster} (${why}): ${[...victims].join(', ')}; placed once they are gone`,
      clusters: [],
    });
  }
  return { evictions, explanations };
}

/** A reservation as a possible victim: Dispatched or Running, readable, not being evicted. */
function holderOf(r: ReservationRow, parsed: ReservationRequests): Holder[] {
  if (r.queue === undefined || r.eviction || (r.state !== 'Dispatched' && r.state !== 'Running'))
    return [];
  const nodes = new Map<string, ReadonlyMap<string, bigint>>();
  for (const [node, requests] of parsed.of(r)) {
    if (!requests) return []; // unreadable: never freed by guesswork
    nodes.set(node, requests);
  }
  // What its queue's quota counts of it: node requests, devices, its cluster set's share.
  const request = heldAmounts(r, (row) => parsed.of(row).values());
  return [
    {
      jobId: r.jobId,
      fencingToken: r.fencingToken,
      queue: r.queue,
      priority: r.priority ?? 0,
      cluster: r.cluster,
      placedAt: r.placedAt?.getTime() ?? 0,
      nodes,
      request,
    },
  ];
}

/** The cluster with the placement's members and devices taken out of its nodes' free capacity. */
function taken(cluster: ClusterSnapshot, gang: Gang, placement: Placement): ClusterSnapshot {
  const perNode = memberRequestsPerNode(gang, placement.podSets);
  const devices = new Map((placement.devices ?? []).map((d) => [d.node, new Set(d.devices)]));
  return {
    ...cluster,
    nodes: cluster.nodes.map((n) => {
      const use = perNode.get(n.name);
      const mine = devices.get(n.name);
      if (!use && !mine) return n;
      const free: Record<string, bigint> = { ...n.free };
      for (const [k, v] of use ?? []) free[k] = (free[k] ?? 0n) - v;
      return {
        ...n,
        free,
        ...(mine && n.devices
          ? {
              devices: n.devices.map((d) =>
                mine.has(deviceKey(d)) ? { ...d, allocated: true } : d,
              ),
            }
          : {}),
      };
    }),
  };
}
