// Queue quotas: an exact ledger of what each queue uses and what one more gang may still take,
// with Kueue's cohort semantics for a flat (one-level) cohort tree.
//
// Per resource r of a queue q that names r in its nominal quota (N nominal, U used):
// - No cohort: q may use up to N.
// - In a cohort: q lends `lendable` = min(lendingLimit, N) (all of N when no lending limit) to the
//   cohort's pool and keeps the rest, G = N - lendable, for itself alone. The pool C is the sum of
//   the members' lendable parts; the cohort's usage CU is the sum of what members use beyond their
//   own guaranteed part. q may take its unused guaranteed part plus what the pool has free, the
//   latter held to `lendable - (U - G) + borrowingLimit` when q has a borrowing limit for r.
// This is Kueue's `available` (pkg/cache, resource_node.go) for a tree of depth one.
//
// Pure and synchronous: the caller builds one ledger per scheduling cycle from the queues'
// configuration and current usage, then checks and charges gang by gang. Amounts are bigint
// milli-units, as in @muster/placement; nothing here ever uses floats.

import { formatQuantity } from '@muster/placement';

/** Amounts per resource name, in milli-units. */
export type Amounts = Readonly<Record<string, bigint>>;

export interface QueueQuota {
  readonly name: string;
  /** Queues of one cohort lend each other unused nominal quota; absent: no lending or borrowing. */
  readonly cohort?: string;
  /** Per resource; a resource not named is NOT limited for this queue (never refused for it). */
  readonly nominal: Amounts;
  /** Most it may borrow beyond nominal, per resource; not named: as much as the cohort lends. */
  readonly borrowingLimit?: Amounts;
  /** Most of its unused nominal it lends, per resource; not named: all of it. */
  readonly lendingLimit?: Amounts;
}

/** Why a gang does not fit its queue's quota now: the first resource that does not fit. */
export interface QuotaShortfall {
  readonly queue: string;
  readonly resource: string;
  /** What the gang asks of this resource. */
  readonly requested: bigint;
  /** What the queue could take of it now. */
  readonly available: bigint;
  readonly nominal: bigint;
  readonly used: bigint;
  readonly cohort?: string;
  /** E.g. `queue research: needs 8 nvidia.com/gpu, 4 available (nominal 16, used 12, cohort labs lends 0 more)`. */
  readonly message: string;
}

/** The limits of one queue for one resource it names, all clamped at 0. */
interface Limit {
  readonly nominal: bigint;
  /** Part of nominal the queue lends to its cohort (0 without a cohort). */
  readonly lendable: bigint;
  /** Part of nominal only the queue itself may use (nominal without a cohort). */
  readonly guaranteed: bigint;
  readonly borrowingLimit: bigint | undefined;
}

interface QueueState {
  readonly name: string;
  readonly cohort: CohortState | undefined;
  /** Only the resources the queue names in its nominal quota. */
  readonly limits: ReadonlyMap<string, Limit>;
  /** Usage of the resources in `limits`; the others are not tracked. */
  readonly used: Map<string, bigint>;
}

interface CohortState {
  readonly name: string;
  /** Sum of the members' lendable parts, per resource. */
  readonly pool: Map<string, bigint>;
  /** Sum of what the members use beyond their guaranteed parts, per resource. */
  readonly used: Map<string, bigint>;
}

/** Breakdown of what a queue may take of one resource now. */
interface Availability {
  readonly total: bigint;
  /** From the cohort's pool (0 without a cohort). */
  readonly fromCohort: bigint;
  /** The borrowing limit held `fromCohort` below what the pool has free. */
  readonly heldByBorrowingLimit: boolean;
}

const max0 = (a: bigint): bigint => (a > 0n ? a : 0n);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
/** An amount as given, or 0 for anything odd (negative, not a bigint). */
const qty = (v: unknown): bigint => (typeof v === 'bigint' && v > 0n ? v : 0n);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
/** Resource names of an amounts record (own keys only), in code-unit order. */
const names = (a: unknown): string[] =>
  isObject(a) ? Object.keys(a).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)) : [];
const has = (a: unknown, r: string): a is Record<string, unknown> =>
  isObject(a) && Object.prototype.hasOwnProperty.call(a, r);

/**
 * What each queue uses of its quota, and what one more gang may take now. Build it from the
 * queues' configuration and their current usage; `check` a gang's request, then `charge` it when
 * it is admitted, `release` it when it ends. The inputs are copied, never changed.
 *
 * Queues the ledger does not know, and resources a queue does not name in its nominal quota, are
 * not limited: never refused, not tracked. Usage given to the constructor may exceed the limits
 * (a quota was lowered); the queue then has nothing available of that resource until enough is
 * released, except what is left of its guaranteed part.
 */
export class QuotaLedger {
  private readonly queues = new Map<string, QueueState>();

  constructor(queues: readonly QueueQuota[], usage: ReadonlyMap<string, Amounts>) {
    const cohorts = new Map<string, CohortState>();
    for (const q of Array.isArray(queues) ? queues : []) {
      if (typeof q !== 'object' || q === null || typeof q.name !== 'string') continue;
      const cohortName = typeof q.cohort === 'string' && q.cohort !== '' ? q.cohort : undefined;
      let cohort: CohortState | undefined;
      if (cohortName !== undefined) {
        cohort = cohorts.get(cohortName);
        if (!cohort) {
          cohort = { name: cohortName, pool: new Map(), used: new Map() };
          cohorts.set(cohortName, cohort);
        }
      }
      const limits = new Map<string, Limit>();
      for (const r of names(q.nominal)) {
        const nominal = qty(q.nominal[r]);
        const lendable = !cohort
          ? 0n
          : has(q.lendingLimit, r)
            ? min(qty(q.lendingLimit[r]), nominal)
            : nominal;
        const borrowingLimit =
          cohort && has(q.borrowingLimit, r) ? qty(q.borrowingLimit[r]) : undefined;
        limits.set(r, { nominal, lendable, guaranteed: nominal - lendable, borrowingLimit });
      }
      // A queue named twice: the last entry wins; undo what the earlier one added to its cohort.
      const earlier = this.queues.get(q.name);
      if (earlier) this.forget(earlier);
      const state: QueueState = { name: q.name, cohort, limits, used: new Map() };
      this.queues.set(q.name, state);
      if (cohort) for (const [r, l] of limits) add(cohort.pool, r, l.lendable);
    }
    const given: ReadonlyMap<string, unknown> | undefined =
      isObject(usage) && typeof usage.get === 'function' ? usage : undefined;
    for (const q of this.queues.values()) {
      const u = given?.get(q.name);
      for (const r of q.limits.keys()) this.setUsed(q, r, has(u, r) ? qty(u[r]) : 0n);
    }
  }

  /**
   * Whether `request` fits queue `queue` now: undefined when it does, else the first resource (in
   * name order) that does not. Only resources with a positive amount that the queue names in its
   * nominal quota are checked; a queue the ledger does not know always fits.
   */
  check(queue: string, request: Amounts): QuotaShortfall | undefined {
    const q = this.queues.get(queue);
    if (!q) return undefined;
    for (const r of names(request)) {
      const requested = qty(request[r]);
      const limit = q.limits.get(r);
      if (requested === 0n || !limit) continue;
      const a = this.availability(q, r, limit);
      if (requested <= a.total) continue;
      const used = q.used.get(r) ?? 0n;
      const f = (v: bigint) => formatQuantity(v, r);
      let detail = `nominal ${f(limit.nominal)}, used ${f(used)}`;
      if (q.cohort) {
        detail += `, cohort ${q.cohort.name} lends ${f(a.fromCohort)} more`;
        if (a.heldByBorrowingLimit && limit.borrowingLimit !== undefined)
          detail += ` within borrowing limit ${f(limit.borrowingLimit)}`;
      }
      return {
        queue,
        resource: r,
        requested,
        available: a.total,
        nominal: limit.nominal,
        used,
        ...(q.cohort ? { cohort: q.cohort.name } : {}),
        message: `queue ${queue}: needs ${f(requested)} ${r}, ${f(a.total)} available (${detail})`,
      };
    }
    return undefined;
  }

  /** Adds `request` to the queue's usage (the caller checked it first). */
  charge(queue: string, request: Amounts): void {
    this.apply(queue, request, 1n);
  }

  /** Takes `request` off the queue's usage again, clamped at 0. */
  release(queue: string, request: Amounts): void {
    this.apply(queue, request, -1n);
  }

  /** The queue's nominal quota, per resource it names. */
  nominal(queue: string): Amounts {
    return this.perResource(queue, (_q, _r, l) => l.nominal);
  }

  /** What the queue uses, per resource of its nominal quota. */
  used(queue: string): Amounts {
    return this.perResource(queue, (q, r) => q.used.get(r) ?? 0n);
  }

  /** What the queue uses beyond its nominal quota, per resource of its nominal quota. */
  borrowed(queue: string): Amounts {
    return this.perResource(queue, (q, r, l) => max0((q.used.get(r) ?? 0n) - l.nominal));
  }

  /** What one more gang of the queue could take now, per resource of its nominal quota. */
  available(queue: string): Amounts {
    return this.perResource(queue, (q, r, l) => this.availability(q, r, l).total);
  }

  private availability(q: QueueState, r: string, l: Limit): Availability {
    const used = q.used.get(r) ?? 0n;
    if (!q.cohort)
      return { total: max0(l.nominal - used), fromCohort: 0n, heldByBorrowingLimit: false };
    const local = max0(l.guaranteed - used);
    const free = max0((q.cohort.pool.get(r) ?? 0n) - (q.cohort.used.get(r) ?? 0n));
    let fromCohort = free;
    let held = false;
    if (l.borrowingLimit !== undefined) {
      const cap = max0(l.lendable - max0(used - l.guaranteed) + l.borrowingLimit);
      if (cap < free) {
        fromCohort = cap;
        held = true;
      }
    }
    return { total: local + fromCohort, fromCohort, heldByBorrowingLimit: held };
  }

  private apply(queue: string, request: Amounts, sign: 1n | -1n): void {
    const q = this.queues.get(queue);
    if (!q) return;
    for (const r of names(request)) {
      const amount = qty(request[r]);
      if (amount === 0n || !q.limits.has(r)) continue;
      this.setUsed(q, r, max0((q.used.get(r) ?? 0n) + sign * amount));
    }
  }

  /** Sets the queue's usage of r, keeping its cohort's usage in step. */
  private setUsed(q: QueueState, r: string, value: bigint): void {
    const l = q.limits.get(r);
    if (!l) return;
    const before = q.used.get(r) ?? 0n;
    q.used.set(r, value);
    if (q.cohort) add(q.cohort.used, r, max0(value - l.guaranteed) - max0(before - l.guaranteed));
  }

  /** Takes a queue's contribution out of its cohort (a later entry of the same name replaces it). */
  private forget(q: QueueState): void {
    if (!q.cohort) return;
    for (const [r, l] of q.limits) {
      add(q.cohort.pool, r, -l.lendable);
      add(q.cohort.used, r, -max0((q.used.get(r) ?? 0n) - l.guaranteed));
    }
  }

  private perResource(
    queue: string,
    value: (q: QueueState, r: string, l: Limit) => bigint,
  ): Amounts {
    const q = this.queues.get(queue);
    const out: Record<string, bigint> = {};
    // defineProperty: a resource named `__proto__` is a key like any other.
    if (q)
      for (const [r, l] of q.limits)
        Object.defineProperty(out, r, {
          value: value(q, r, l),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    return out;
  }
}

function add(m: Map<string, bigint>, r: string, delta: bigint): void {
  m.set(r, (m.get(r) ?? 0n) + delta);
}
