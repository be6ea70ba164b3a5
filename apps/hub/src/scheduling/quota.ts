// Queue quotas: an exact ledger of what each queue uses and what one more gang may still take,
// with Kueue's cohort semantics, cohorts nested in cohorts included (pkg/cache, resource_node.go).
//
// The quotas form a forest: queues are leaves, cohorts inner nodes; a queue without cohort, or a
// cohort without parent, is a root. Per resource r that a node tracks (a queue: the resources its
// nominal quota names; a cohort: its own and everything below it), with N its own nominal:
// - subtree quota S = N + the lendable parts of its children (a child's S - G);
// - guaranteed part G: what only the node itself may use. Under a parent it is S - min(L, S) with
//   a lending limit L, else 0 (everything is lent); for a root, all of S;
// - usage U: a queue's is what its gangs hold; a cohort's is the sum of what its children use
//   beyond their guaranteed parts (max(0, U - G) each);
// - available: a root may take S - U; a node under a parent its unused guaranteed part plus what
//   the parent has available, the latter held to (S - G) - max(0, U - G) + B when it has a
//   borrowing limit B for r.
// A queue thus never takes what another keeps for itself, and no subtree ever holds more than
// its quota plus what it may borrow, at any depth.
//
// Resources are plain names or scoped to a cluster set as `SET:NAME` (e.g. `east:nvidia.com/gpu`,
// unambiguous because neither part may hold a colon): a scoped resource is an ordinary one to
// the ledger; the caller adds a gang's scoped amounts for the cluster set it is placed in.
//
// Pure and synchronous: the caller builds one ledger per scheduling cycle from the quotas and
// current usage, then checks and charges gang by gang. Amounts are bigint milli-units, as in
// @muster/placement; nothing here ever uses floats.

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

/**
 * A cohort's own settings: its parent, and its own quota (shared by everything under it) with
 * what it borrows from and lends to its parent. A cohort that queues or other cohorts name but
 * that is not listed is a root without quota of its own.
 */
export interface CohortQuota {
  readonly name: string;
  /** Absent: a root. A parent that would close a loop is ignored (the API refuses loops). */
  readonly parent?: string;
  readonly nominal?: Amounts;
  /** Most the cohort's subtree borrows from its parent, per resource; not named: no limit. */
  readonly borrowingLimit?: Amounts;
  /** Most of its subtree's unused quota lent to its parent, per resource; not named: all. */
  readonly lendingLimit?: Amounts;
}

/** Why a gang does not fit its queue's quota now: the first resource that does not fit. */
export interface QuotaShortfall {
  readonly queue: string;
  /** The resource as the ledger keys it (`SET:NAME` when scoped to a cluster set). */
  readonly resource: string;
  /** What the gang asks of this resource. */
  readonly requested: bigint;
  /** What the queue could take of it now. */
  readonly available: bigint;
  readonly nominal: bigint;
  readonly used: bigint;
  readonly cohort?: string;
  /** The cluster set the resource is scoped to, if it is. */
  readonly clusterSet?: string;
  /** E.g. `queue research: needs 8 nvidia.com/gpu, 4 available (nominal 16, used 12, cohort labs lends 0 more)`. */
  readonly message: string;
}

/** The cluster set and resource name of a ledger resource (`SET:NAME` or `NAME`). */
export function splitScoped(resource: string): { clusterSet?: string; name: string } {
  const i = resource.indexOf(':');
  return i < 0
    ? { name: resource }
    : { clusterSet: resource.slice(0, i), name: resource.slice(i + 1) };
}

/** `request` scoped to a cluster set: each resource NAME as `SET:NAME`. */
export function scopedTo(clusterSet: string, request: Amounts): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(request)) if (!k.includes(':')) out[`${clusterSet}:${k}`] = v;
  return out;
}

/**
 * Each cohort's parent, from the cohorts' settings: the last entry of a name wins, and parents are
 * linked in name order, each unless it would close a loop with those linked before it (the API
 * refuses loops; this keeps a forest whatever the rows say).
 */
export function cohortParents(
  cohorts: readonly { readonly name: string; readonly parent?: string }[] | undefined,
): Map<string, string> {
  const wanted = new Map<string, string | undefined>();
  for (const c of Array.isArray(cohorts) ? cohorts : []) {
    const name = isObject(c) ? nameOf(c.name) : undefined;
    if (name !== undefined) wanted.set(name, nameOf(c.parent));
  }
  const out = new Map<string, string>();
  for (const name of [...wanted.keys()].sort()) {
    const parent = wanted.get(name);
    if (parent === undefined) continue;
    let up: string | undefined = parent;
    while (up !== undefined && up !== name) up = out.get(up);
    if (up !== name) out.set(name, parent);
  }
  return out;
}

/** A queue or a cohort of the forest. */
interface QuotaNode {
  readonly name: string;
  readonly kind: 'queue' | 'cohort';
  parent: QuotaNode | undefined;
  readonly children: QuotaNode[];
  /** Own nominal quota, per resource named (a queue tracks exactly these). */
  readonly nominal: ReadonlyMap<string, bigint>;
  readonly borrowingLimit: ReadonlyMap<string, bigint>;
  readonly lendingLimit: ReadonlyMap<string, bigint>;
  /** Per tracked resource, set once the forest is complete. */
  readonly subtree: Map<string, bigint>;
  readonly guaranteed: Map<string, bigint>;
  readonly used: Map<string, bigint>;
}

/** Breakdown of what a node may take of one resource now. */
interface Availability {
  readonly total: bigint;
  /** From the parent (0 for a root). */
  readonly fromCohort: bigint;
  /** The node's borrowing limit held `fromCohort` below what the parent has available. */
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
const amountsMap = (a: unknown): Map<string, bigint> =>
  new Map(names(a).map((r) => [r, qty((a as Record<string, unknown>)[r])]));
const nameOf = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

function node(
  name: string,
  kind: QuotaNode['kind'],
  q?: { nominal?: unknown; borrowingLimit?: unknown; lendingLimit?: unknown },
): QuotaNode {
  return {
    name,
    kind,
    parent: undefined,
    children: [],
    nominal: amountsMap(q?.nominal),
    borrowingLimit: amountsMap(q?.borrowingLimit),
    lendingLimit: amountsMap(q?.lendingLimit),
    subtree: new Map(),
    guaranteed: new Map(),
    used: new Map(),
  };
}

/**
 * What each queue uses of its quota, and what one more gang may take now. Build it from the
 * queues' quotas, the cohorts' settings and the queues' current usage; `check` a gang's request,
 * then `charge` it when it is admitted, `release` it when it ends. The inputs are copied, never
 * changed.
 *
 * Queues the ledger does not know, and resources a queue does not name in its nominal quota, are
 * not limited: never refused, not tracked. Usage given to the constructor may exceed the limits
 * (a quota was lowered); the queue then has nothing available of that resource until enough is
 * released, except what is left of its guaranteed part.
 */
export class QuotaLedger {
  private readonly queues = new Map<string, QuotaNode>();

  constructor(
    queues: readonly QueueQuota[],
    usage: ReadonlyMap<string, Amounts>,
    cohortQuotas: readonly CohortQuota[] = [],
  ) {
    // Cohorts: the last entry of a name wins; then every cohort a queue or parent names.
    const cohorts = new Map<string, QuotaNode>();
    for (const c of Array.isArray(cohortQuotas) ? cohortQuotas : []) {
      const name = isObject(c) ? nameOf(c.name) : undefined;
      if (name !== undefined) cohorts.set(name, node(name, 'cohort', c));
    }
    const cohort = (name: string): QuotaNode => {
      let c = cohorts.get(name);
      if (!c) cohorts.set(name, (c = node(name, 'cohort')));
      return c;
    };
    for (const [name, parent] of cohortParents(cohortQuotas)) {
      const c = cohort(name);
      c.parent = cohort(parent);
      c.parent.children.push(c);
    }
    const byName = new Map<string, QueueQuota>();
    // The last entry of a name wins.
    for (const q of Array.isArray(queues) ? (queues as unknown[]) : [])
      if (isObject(q) && typeof q.name === 'string') byName.set(q.name, q as unknown as QueueQuota);
    for (const [name, q] of byName) {
      const n = node(name, 'queue', q);
      const c = nameOf(q.cohort);
      if (c !== undefined) {
        n.parent = cohort(c);
        n.parent.children.push(n);
      }
      this.queues.set(name, n);
    }
    for (const root of [...this.queues.values(), ...cohorts.values()])
      if (!root.parent) settle(root);
    const given: ReadonlyMap<string, unknown> | undefined =
      isObject(usage) && typeof usage.get === 'function' ? usage : undefined;
    for (const q of this.queues.values()) {
      const u = given?.get(q.name);
      for (const r of q.nominal.keys()) this.setUsed(q, r, has(u, r) ? qty(u[r]) : 0n);
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
      const nominal = q.nominal.get(r);
      if (requested === 0n || nominal === undefined) continue;
      const a = availability(q, r);
      if (requested <= a.total) continue;
      const used = q.used.get(r) ?? 0n;
      const { clusterSet, name } = splitScoped(r);
      const f = (v: bigint) => formatQuantity(v, name);
      let detail = `nominal ${f(nominal)}, used ${f(used)}`;
      if (q.parent) {
        const above = ancestry(q.parent);
        detail += `, cohort ${above} lends ${f(a.fromCohort)} more`;
        const limit = q.borrowingLimit.get(r);
        if (a.heldByBorrowingLimit && limit !== undefined)
          detail += ` within borrowing limit ${f(limit)}`;
      }
      const where = clusterSet !== undefined ? ` in cluster set ${clusterSet}` : '';
      return {
        queue,
        resource: r,
        requested,
        available: a.total,
        nominal,
        used,
        ...(q.parent ? { cohort: q.parent.name } : {}),
        ...(clusterSet !== undefined ? { clusterSet } : {}),
        message: `queue ${queue}: needs ${f(requested)} ${name}${where}, ${f(a.total)} available (${detail})`,
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

  /** The cluster sets the queue's quota names scoped resources of (`SET:NAME`). */
  clusterSets(queue: string): ReadonlySet<string> {
    const out = new Set<string>();
    for (const r of this.queues.get(queue)?.nominal.keys() ?? []) {
      const { clusterSet } = splitScoped(r);
      if (clusterSet !== undefined) out.add(clusterSet);
    }
    return out;
  }

  /** The cohort the queue's quota names and the cohorts above it, nearest first. */
  cohortsOf(queue: string): string[] {
    const out: string[] = [];
    for (let c = this.queues.get(queue)?.parent; c; c = c.parent) out.push(c.name);
    return out;
  }

  /** The queue's nominal quota, per resource it names. */
  nominal(queue: string): Amounts {
    return this.perResource(queue, (q, r) => q.nominal.get(r)!);
  }

  /** What the queue uses, per resource of its nominal quota. */
  used(queue: string): Amounts {
    return this.perResource(queue, (q, r) => q.used.get(r) ?? 0n);
  }

  /** What the queue uses beyond its nominal quota, per resource of its nominal quota. */
  borrowed(queue: string): Amounts {
    return this.perResource(queue, (q, r) => max0((q.used.get(r) ?? 0n) - q.nominal.get(r)!));
  }

  /** What one more gang of the queue could take now, per resource of its nominal quota. */
  available(queue: string): Amounts {
    return this.perResource(queue, (q, r) => availability(q, r).total);
  }

  private apply(queue: string, request: Amounts, sign: 1n | -1n): void {
    const q = this.queues.get(queue);
    if (!q) return;
    for (const r of names(request)) {
      const amount = qty(request[r]);
      if (amount === 0n || !q.nominal.has(r)) continue;
      this.setUsed(q, r, max0((q.used.get(r) ?? 0n) + sign * amount));
    }
  }

  /** Sets a node's usage of r, keeping its ancestors' usage in step. */
  private setUsed(n: QuotaNode, r: string, value: bigint): void {
    for (let at: QuotaNode | undefined = n, next = value; at; at = at.parent) {
      const before = at.used.get(r) ?? 0n;
      at.used.set(r, next);
      const parent = at.parent;
      if (!parent) return;
      const g = at.guaranteed.get(r) ?? 0n;
      const delta = max0(next - g) - max0(before - g);
      if (delta === 0n) return;
      next = (parent.used.get(r) ?? 0n) + delta;
    }
  }

  private perResource(queue: string, value: (q: QuotaNode, r: string) => bigint): Amounts {
    const q = this.queues.get(queue);
    const out: Record<string, bigint> = {};
    // defineProperty: a resource named `__proto__` is a key like any other.
    if (q)
      for (const r of q.nominal.keys())
        Object.defineProperty(out, r, {
          value: value(q, r),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    return out;
  }
}

/**
 * Computes the subtree quota and guaranteed part of every resource `n` and its subtree track,
 * children first. A queue tracks what its nominal names; a cohort its own and its children's.
 */
function settle(n: QuotaNode): void {
  for (const r of n.nominal.keys()) n.subtree.set(r, n.nominal.get(r)!);
  for (const child of n.children) {
    settle(child);
    for (const [r, s] of child.subtree)
      n.subtree.set(r, (n.subtree.get(r) ?? 0n) + s - child.guaranteed.get(r)!);
  }
  for (const [r, s] of n.subtree) {
    const limit = n.lendingLimit.get(r);
    n.guaranteed.set(r, !n.parent ? s : limit === undefined ? 0n : s - min(limit, s));
  }
}

/** What `n` may take of r now (see the module comment). */
function availability(n: QuotaNode, r: string): Availability {
  const used = n.used.get(r) ?? 0n;
  const subtree = n.subtree.get(r) ?? 0n;
  if (!n.parent)
    return { total: max0(subtree - used), fromCohort: 0n, heldByBorrowingLimit: false };
  const g = n.guaranteed.get(r) ?? 0n;
  const local = max0(g - used);
  let fromCohort = availability(n.parent, r).total;
  let held = false;
  const limit = n.borrowingLimit.get(r);
  if (limit !== undefined) {
    const cap = max0(subtree - g - max0(used - g) + limit);
    if (cap < fromCohort) {
      fromCohort = cap;
      held = true;
    }
  }
  return { total: local + fromCohort, fromCohort, heldByBorrowingLimit: held };
}

/** `labs` or `labs (in org/research)` for a cohort with ancestors. */
function ancestry(c: QuotaNode): string {
  const up: string[] = [];
  for (let p = c.parent; p; p = p.parent) up.push(p.name);
  return up.length === 0 ? c.name : `${c.name} (in ${up.join(', in ')})`;
}
