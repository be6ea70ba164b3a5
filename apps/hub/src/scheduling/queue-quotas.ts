// Queue quotas as the ledger counts them: the stored quantity strings parsed to milli-units,
// and what admitted gangs hold, summed from their reservations' node requests.
import { formatQuantity, parseQuantity } from '@muster/placement';
import type * as wire from '@muster/api';
import type { QueueQuotaSpec } from '../inventory/cluster.domain';
import type { NodeRequests } from './cycle.repository';
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
export function amountsOf(m: Readonly<Record<string, string>>): Amounts {
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(m)) {
    const parsed = parseQuantity(v);
    out[k] = parsed.ok ? parsed.value : 0n;
  }
  return out;
}

/** What the reservations of each queue's admitted gangs hold, summed over their nodes. */
export function usageByQueue(
  rows: ReadonlyArray<{ queue?: string; nodeRequests: NodeRequests }>,
): Map<string, Amounts> {
  const out = new Map<string, Record<string, bigint>>();
  for (const r of rows) {
    if (r.queue === undefined) continue;
    const acc = out.get(r.queue) ?? {};
    for (const node of Object.values(r.nodeRequests ?? {}))
      for (const [k, v] of Object.entries(node)) {
        const parsed = parseQuantity(v);
        if (parsed.ok) acc[k] = (acc[k] ?? 0n) + parsed.value;
      }
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

/** The queue's usage on the wire (used, borrowed, available per resource of its quota). */
export function usageToProto(ledger: QuotaLedger, queue: string): wire.QueueUsage {
  const text = (a: Amounts) =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, formatQuantity(v, k)]));
  return {
    used: text(ledger.used(queue)),
    borrowed: text(ledger.borrowed(queue)),
    available: text(ledger.available(queue)),
  };
}
