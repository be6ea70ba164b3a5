// Queue quotas as the ledger counts them: the stored quantity strings parsed to milli-units,
// and what admitted gangs hold, summed from their reservations' node requests.
import {
  formatQuantity,
  parseQuantity,
  parseResourceList,
  type DeviceClaim,
  type ExactDeviceRequest,
} from '@muster/placement';
import type * as wire from '@muster/api';
import type { QueueQuotaSpec } from '../inventory/cluster.domain';
import type { ReservationRow } from './cycle.repository';
import {
  QuotaLedger,
  scopedTo,
  splitScoped,
  type Amounts,
  type CohortQuota,
  type QueueQuota,
} from './quota';

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

/** The device counts of a reservation's stored usage (what heldAmounts reads of it). */
export function deviceCountsOf(usage: Record<string, number> | null | undefined) {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(usage ?? {})) if (k.endsWith(DEVICE_CLASS_QUOTA)) out[k] = v;
  return out;
}

/** A cohort's stored settings as the ledger reads them. */
export function cohortQuotaOf(c: {
  name: string;
  parent?: string | null;
  quota?: {
    nominal: Record<string, string>;
    borrowingLimit?: Record<string, string>;
    lendingLimit?: Record<string, string>;
  } | null;
}): CohortQuota {
  return {
    name: c.name,
    ...(c.parent ? { parent: c.parent } : {}),
    ...(c.quota
      ? {
          nominal: amountsOf(c.quota.nominal),
          ...(c.quota.borrowingLimit ? { borrowingLimit: amountsOf(c.quota.borrowingLimit) } : {}),
          ...(c.quota.lendingLimit ? { lendingLimit: amountsOf(c.quota.lendingLimit) } : {}),
        }
      : {}),
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

/** What a reservation holds of a queue's quota, beyond its node requests. */
export interface HeldQuota {
  /** The cluster set of the reservation's cluster ('' or absent: none). */
  readonly clusterSet?: string;
  /** The devices its gang claims per device class (DEVICE_CLASS_QUOTA keys, milli-units). */
  readonly deviceCounts?: Readonly<Record<string, number>> | null;
}

/** What usage is summed from: a reservation's queue, its requests per node, its devices. */
type Held = Pick<ReservationRow, 'queue' | 'nodeRequests'> & HeldQuota;

/** Parses a reservation's node requests afresh (the scheduling cycle passes its kept ones). */
function parseNodeRequests(r: Held): Array<ReadonlyMap<string, bigint> | null> {
  return Object.values(r.nodeRequests ?? {}).map((requests) => {
    const parsed = parseResourceList(requests);
    return parsed.ok ? new Map(Object.entries(parsed.value)) : null;
  });
}

/**
 * What one reservation holds of its queue's quota: its node requests summed, the devices its
 * gang claims per device class, and all of that again scoped to its cluster's cluster set
 * (`SET:NAME`), which only a queue with a quota in that set tracks. `requestsOf` gives its parsed
 * requests per node (null: unreadable, counts nothing).
 */
export function heldAmounts<R extends Held>(
  r: R,
  requestsOf: (r: R) => Iterable<ReadonlyMap<string, bigint> | null> = parseNodeRequests,
): Record<string, bigint> {
  const acc: Record<string, bigint> = {};
  for (const node of requestsOf(r)) for (const [k, v] of node ?? []) acc[k] = (acc[k] ?? 0n) + v;
  for (const [k, v] of Object.entries(r.deviceCounts ?? {}))
    if (k.endsWith(DEVICE_CLASS_QUOTA) && Number.isSafeInteger(v) && v > 0)
      acc[k] = (acc[k] ?? 0n) + BigInt(v);
  return r.clusterSet ? { ...acc, ...scopedTo(r.clusterSet, acc) } : acc;
}

/**
 * What the reservations of each queue's admitted gangs hold (see heldAmounts), summed per queue.
 */
export function usageByQueue<R extends Held>(
  rows: readonly R[],
  requestsOf: (r: R) => Iterable<ReadonlyMap<string, bigint> | null> = parseNodeRequests,
): Map<string, Amounts> {
  const out = new Map<string, Record<string, bigint>>();
  for (const r of rows) {
    if (r.queue === undefined) continue;
    const acc = out.get(r.queue) ?? {};
    for (const [k, v] of Object.entries(heldAmounts(r, requestsOf))) acc[k] = (acc[k] ?? 0n) + v;
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

/**
 * The suffix of a quota resource that counts devices of one DRA device class, as Kubernetes'
 * ResourceQuota names it: `gpu.nvidia.com.deviceclass.resource.k8s.io/devices` counts devices of
 * the class `gpu.nvidia.com`.
 */
export const DEVICE_CLASS_QUOTA = '.deviceclass.resource.k8s.io/devices';

/**
 * Most devices one request with `allocationMode: All` counts for, as Kubernetes' ResourceQuota
 * charges it (the most one allocation result may hold).
 */
export const ALL_DEVICES_QUOTA = 32;

/**
 * The devices a gang's claims ask for per device class (milli-units, as quota amounts), counted
 * the way Kubernetes' ResourceQuota counts a ResourceClaim: an exact count as it is, `All` as
 * {@link ALL_DEVICES_QUOTA}, and a prioritised list (`firstAvailable`) as its largest
 * alternative of each class. Every member of a pod set makes its pod set's claims.
 */
export function deviceCounts(
  podSets: ReadonlyArray<{ count: number; claims?: readonly DeviceClaim[] }>,
): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  const countOf = (e: ExactDeviceRequest) =>
    BigInt(e.allocationMode === 'All' ? ALL_DEVICES_QUOTA : (e.count ?? 1));
  for (const ps of podSets)
    for (const claim of ps.claims ?? [])
      for (const request of claim.requests) {
        const perClass = new Map<string, bigint>();
        for (const e of request.exactly ? [request.exactly] : (request.firstAvailable ?? [])) {
          const n = countOf(e);
          if (n > (perClass.get(e.deviceClassName) ?? 0n)) perClass.set(e.deviceClassName, n);
        }
        for (const [cls, n] of perClass) {
          const k = `${cls}${DEVICE_CLASS_QUOTA}`;
          out[k] = (out[k] ?? 0n) + n * 1000n * BigInt(ps.count);
        }
      }
  return out;
}

/** What a gang asks of its queue's quota: its requests and its devices per device class. */
export function quotaRequest(
  podSets: ReadonlyArray<{
    count: number;
    requests: Readonly<Record<string, bigint>>;
    claims?: readonly DeviceClaim[];
  }>,
): Amounts {
  return { ...gangRequest(podSets), ...deviceCounts(podSets) };
}

/** The quota's part of QueueUsage: used, borrowed and available per resource of the quota. */
export type QuotaUsage = Pick<wire.QueueUsage, 'used' | 'borrowed' | 'available'>;

/** The queue's quota usage on the wire (used, borrowed, available per resource of its quota). */
export function usageToProto(ledger: QuotaLedger, queue: string): QuotaUsage {
  const text = (a: Amounts) =>
    Object.fromEntries(
      Object.entries(a).map(([k, v]) => [k, formatQuantity(v, splitScoped(k).name)]),
    );
  return {
    used: text(ledger.used(queue)),
    borrowed: text(ledger.borrowed(queue)),
    available: text(ledger.available(queue)),
  };
}
