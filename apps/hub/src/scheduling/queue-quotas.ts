// Queue quotas as the ledger counts them: the stored quantity strings parsed to milli-units,
// and what admitted gangs hold, summed from their reservations' node requests.
import { formatQuantity, parseQuantity, parseResourceList } from '@muster/placement';
import type * as wire from '@muster/api';
import type { QueueQuotaSpec } from '../inventory/cluster.domain';
import type { ReservationRow } from './cycle.repository';
import { QuotaLedger, type Amounts, type QueueQuota } from './quota';

/** A queue's stored quota in milli-units (checked at the API: a bad amount here is a bad row). */
export function queueQuotaOf(name: string, spec: QueueQuotaSpec): QueueQuota {
  return {
    name,
    ...(spec.cohort ? { cohort: spec.cohort } : {}),
    nominal: amountsOf(spec.nominal),
    ...(spec.borrowingLimit ? { borrowingLimit: amountsOf(spec.borrowingLimit) } : {}),
    ...(spec.lendingLimit ? { lendingLimit: amountsOf(spec.lendingLimit) } : {}),
  };
}

/** Quantity strings to milli-units; an unreadable one counts as 0 (it was checked at the API). */
function amountsOf(m: Readonly<Record<string, string>>): Amounts {
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(m)) {
    const parsed = parseQuantity(v);
    out[k] = parsed.ok ? parsed.value : 0n;
  }
  return out;
}

/** What usage is summed from: a reservation's queue and its requests per node. */
type Held = Pick<ReservationRow, 'queue' | 'nodeRequests'>;

/** Parses a reservation's node requests afresh (the scheduling cycle passes its kept ones). */
function parseNodeRequests(r: Held): Array<ReadonlyMap<string, bigint> | null> {
  return Object.values(r.nodeRequests ?? {}).map((requests) => {
    const parsed = parseResourceList(requests);
    return parsed.ok ? new Map(Object.entries(parsed.value)) : null;
  });
}

/**
 * What the reservations of each queue's admitted gangs hold, summed over their nodes;
 * `requestsOf` gives a reservation's parsed requests per node (null: unreadable, counts nothing).
 */
export function usageByQueue<R extends Held>(
  rows: readonly R[],
  requestsOf: (r: R) => Iterable<ReadonlyMap<string, bigint> | null> = parseNodeRequests,
): Map<string, Amounts> {
  const out = new Map<string, Record<string, bigint>>();
  for (const r of rows) {
    if (r.queue === undefined) continue;
    const acc = out.get(r.queue) ?? {};
    for (const node of requestsOf(r)) for (const [k, v] of node ?? []) acc[k] = (acc[k] ?? 0n) + v;
    out.set(r.queue, acc);
  }
  return out;
}

/** A gang's whole request: every member of every pod set. */
export function gangRequest(
  podSets: ReadonlyArray<{ count: number; requests: Readonly<Record<string, bigint>> }>,
): Amounts {
  const out: Record<string, bigint> = {};
  for (const ps of podSets)
    for (const [k, v] of Object.entries(ps.requests))
      out[k] = (out[k] ?? 0n) + v * BigInt(ps.count);
  return out;
}

/** The quota's part of QueueUsage: used, borrowed and available per resource of the quota. */
export type QuotaUsage = Pick<wire.QueueUsage, 'used' | 'borrowed' | 'available'>;

/** The queue's quota usage on the wire (used, borrowed, available per resource of its quota). */
export function usageToProto(ledger: QuotaLedger, queue: string): QuotaUsage {
  const text = (a: Amounts) =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, formatQuantity(v, k)]));
  return {
    used: text(ledger.used(queue)),
    borrowed: text(ledger.borrowed(queue)),
    available: text(ledger.available(queue)),
  };
}
