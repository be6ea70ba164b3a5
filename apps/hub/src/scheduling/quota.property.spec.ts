/**
 * The quota ledger against an independent oracle. The oracle knows only the quota rules as
 * limits on usage (below) and reads usage back through `used()`; it never asks the ledger what is
 * available. What a queue may take is, by the oracle, the most it can add without breaking a
 * limit, found by bisection over the limits themselves. Fixed seed, so a run is repeatable.
 *
 * The quotas form a forest: queues are leaves, cohorts (nested up to three deep) inner nodes.
 * Per resource r and node n (N own nominal, S subtree quota = N + the sum over children of
 * S - G, G guaranteed = S - min(L, S) under a parent with lending limit L, 0 under one without,
 * S at a root; U = a queue's usage, or for a cohort the sum over its children of max(0, U - G)),
 * the limits are:
 *   - a root: U <= S;
 *   - a node under a parent with borrowing limit B: U <= S + B.
 */
import fc from 'fast-check';
import { QuotaLedger, type Amounts, type CohortQuota, type QueueQuota } from './quota';

const SEED = { seed: 20260417 };
const RESOURCES = ['cpu', 'memory', 'nvidia.com/gpu'] as const;
/** Requested now and then; named by no queue, so never limited. */
const UNNAMED = 'example.com/fpga';

// ---- the oracle -------------------------------------------------------------------------------

type Usage = Map<string, Map<string, bigint>>;

const max0 = (a: bigint) => (a > 0n ? a : 0n);

interface OracleLimit {
  n: bigint;
  lendable: bigint;
  g: bigint;
  b: bigint | undefined;
}

/** A queue's own limits for r (what only it keeps, what it lends); undefined: r is not limited. */
function limitOf(q: QueueQuota, r: string): OracleLimit | undefined {
  if (!(r in q.nominal)) return undefined;
  const n = q.nominal[r]!;
  if (q.cohort === undefined) return { n, lendable: 0n, g: n, b: undefined };
  const l = q.lendingLimit?.[r];
  const lendable = l === undefined ? n : l < n ? l : n;
  return { n, lendable, g: n - lendable, b: q.borrowingLimit?.[r] };
}

const usedOf = (u: Usage, q: string, r: string) => u.get(q)?.get(r) ?? 0n;

/** The forest as the oracle sees it: every cohort's parent and children. */
interface Forest {
  queues: readonly QueueQuota[];
  cohorts: ReadonlyMap<string, CohortQuota>;
  /** Cohort → the queues and cohorts right under it. */
  children: ReadonlyMap<string, { queues: QueueQuota[]; cohorts: string[] }>;
  roots: readonly string[];
}

function forestOf(queues: readonly QueueQuota[], cohorts: readonly CohortQuota[]): Forest {
  const byName = new Map(cohorts.map((c) => [c.name, c]));
  const children = new Map<string, { queues: QueueQuota[]; cohorts: string[] }>();
  const at = (c: string) => {
    let e = children.get(c);
    if (!e) children.set(c, (e = { queues: [], cohorts: [] }));
    return e;
  };
  for (const q of queues) if (q.cohort !== undefined) at(q.cohort).queues.push(q);
  for (const c of cohorts) {
    at(c.name);
    if (c.parent !== undefined) at(c.parent).cohorts.push(c.name);
  }
  const roots = [...children.keys()].filter((c) => byName.get(c)?.parent === undefined);
  return { queues, cohorts: byName, children, roots };
}

/** A cohort's subtree quota S and guaranteed part G for r, and the usage U it counts. */
function cohortFigures(f: Forest, c: string, u: Usage, r: string) {
  const cfg = f.cohorts.get(c);
  const kids = f.children.get(c)!;
  let s = cfg?.nominal?.[r] ?? 0n;
  let used = 0n;
  let tracked = cfg?.nominal?.[r] !== undefined;
  for (const q of kids.queues) {
    const l = limitOf(q, r);
    if (!l) continue;
    tracked = true;
    s += l.lendable;
    used += max0(usedOf(u, q.name, r) - l.g);
  }
  for (const k of kids.cohorts) {
    const sub = cohortFigures(f, k, u, r);
    if (!sub.tracked) continue;
    tracked = true;
    s += sub.s - sub.g;
    used += max0(sub.used - sub.g);
  }
  const l = cfg?.lendingLimit?.[r];
  const g = cfg?.parent === undefined ? s : l === undefined ? 0n : s - (l < s ? l : s);
  return {
    s,
    g,
    used,
    tracked,
    b: cfg?.parent === undefined ? undefined : cfg.borrowingLimit?.[r],
  };
}

/** How far each limit is exceeded (positive: broken), keyed by the limit. */
function excess(f: Forest, u: Usage): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const q of f.queues)
    for (const r of Object.keys(q.nominal)) {
      const l = limitOf(q, r)!;
      const used = usedOf(u, q.name, r);
      if (q.cohort === undefined) out.set(`${q.name} ${r} nominal`, used - l.n);
      else if (l.b !== undefined) out.set(`${q.name} ${r} nominal+borrowing`, used - (l.n + l.b));
    }
  for (const c of f.children.keys())
    for (const r of RESOURCES) {
      const fig = cohortFigures(f, c, u, r);
      if (!fig.tracked) continue;
      if (f.roots.includes(c)) out.set(`cohort ${c} ${r}`, fig.used - fig.s);
      else if (fig.b !== undefined)
        out.set(`cohort ${c} ${r} borrowing`, fig.used - (fig.s + fig.b));
    }
  return out;
}

function broken(f: Forest, u: Usage): string[] {
  return [...excess(f, u)].filter(([, e]) => e > 0n).map(([k, e]) => `${k} by ${e}`);
}

function withCharge(u: Usage, q: string, r: string, a: bigint): Usage {
  const next: Usage = new Map([...u].map(([k, m]) => [k, new Map(m)]));
  const m = next.get(q) ?? new Map<string, bigint>();
  m.set(r, (m.get(r) ?? 0n) + a);
  next.set(q, m);
  return next;
}

/** The most queue q can add of r without breaking a limit (the state keeps them all). */
function oracleAvailable(f: Forest, u: Usage, q: string, r: string): bigint {
  let hi = 1n;
  for (const p of f.queues) hi += 2n * (p.nominal[r] ?? 0n);
  for (const c of f.cohorts.values()) hi += 2n * (c.nominal?.[r] ?? 0n);
  const ok = (a: bigint) => broken(f, withCharge(u, q, r, a)).length === 0;
  let lo = 0n; // ok(lo); !ok(hi)
  if (!ok(lo)) return 0n;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (ok(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Usage as the ledger reports it, for the oracle. */
function usageOf(ledger: QuotaLedger, queues: readonly QueueQuota[]): Usage {
  return new Map(queues.map((q) => [q.name, new Map(Object.entries(ledger.used(q.name)))]));
}

const snapshot = (ledger: QuotaLedger, queues: readonly QueueQuota[]) =>
  queues.map((q) => ({ used: ledger.used(q.name), available: ledger.available(q.name) }));

// ---- arbitraries -----------------------------------------------------------------------------

/** Mostly whole units (so amounts meet exactly), now and then an odd milli amount. */
const amount = (maxUnits: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: maxUnits }).map((n) => BigInt(n) * 1000n) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: BigInt(maxUnits) * 1000n }) },
  );

const arbResourceQuota = fc.record({
  named: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  nominal: amount(12),
  borrowing: fc.option(amount(8), { nil: undefined }),
  lending: fc.option(amount(14), { nil: undefined }),
});

const arbQueue = fc.record({
  cohort: fc.constantFrom(undefined, 'c0', 'c1', 'c2'),
  perResource: fc.tuple(arbResourceQuota, arbResourceQuota, arbResourceQuota),
  /** How much of each resource it tries to use before the operations start. */
  initial: fc.tuple(amount(24), amount(24), amount(24)),
});

/** A cohort's settings: its parent (a cohort before it, or an implicit one) and own quota. */
const arbCohort = fc.record({
  parent: fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant('top') },
    { weight: 3, arbitrary: fc.nat(3) },
  ),
  perResource: fc.tuple(arbResourceQuota, arbResourceQuota, arbResourceQuota),
});

interface Setup {
  queues: QueueQuota[];
  /** Settings of some of the cohorts c0..c3 (a cohort not listed is a root without quota). */
  cohorts: CohortQuota[];
  forest: Forest;
  usage: Map<string, Amounts>;
  resources: string[];
}

const arbSetup: fc.Arbitrary<Setup> = fc
  .tuple(
    fc.shuffledSubarray([...RESOURCES], { minLength: 1 }),
    fc.array(arbQueue, { minLength: 1, maxLength: 6 }),
    fc.boolean(),
    fc.oneof(
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(arbCohort, { minLength: 4, maxLength: 4 }) },
    ),
  )
  .map(([resources, specs, extraUsage, cohortSpecs]) => {
    const queues: QueueQuota[] = specs.map((s, i) => {
      const nominal: Record<string, bigint> = {};
      const borrowingLimit: Record<string, bigint> = {};
      const lendingLimit: Record<string, bigint> = {};
      resources.forEach((r, j) => {
        const p = s.perResource[j]!;
        if (!p.named) return;
        nominal[r] = p.nominal;
        if (p.borrowing !== undefined) borrowingLimit[r] = p.borrowing;
        if (p.lending !== undefined) lendingLimit[r] = p.lending;
      });
      return {
        name: `q${i}`,
        ...(s.cohort ? { cohort: s.cohort } : {}),
        nominal,
        borrowingLimit,
        lendingLimit,
      };
    });
    // Cohorts with settings: c_i's parent is one before it (so the forest has no loop) or an
    // implicit cohort; their own quotas sparse, so most of what is shared comes from the queues.
    const cohorts: CohortQuota[] = cohortSpecs.flatMap((c, i) => {
      const parent =
        typeof c.parent === 'number' ? (c.parent < i ? `c${c.parent}` : undefined) : c.parent;
      const nominal: Record<string, bigint> = {};
      const borrowingLimit: Record<string, bigint> = {};
      const lendingLimit: Record<string, bigint> = {};
      resources.forEach((r, j) => {
        const p = c.perResource[j]!;
        if (p.named && p.nominal % 3n === 0n) nominal[r] = p.nominal;
        if (parent !== undefined && p.borrowing !== undefined) borrowingLimit[r] = p.borrowing;
        if (parent !== undefined && p.lending !== undefined) lendingLimit[r] = p.lending;
      });
      return [
        { name: `c${i}`, ...(parent ? { parent } : {}), nominal, borrowingLimit, lendingLimit },
      ];
    });
    const forest = forestOf(queues, cohorts);
    // Initial usage within the limits: each queue in turn gets what it wants, as far as the
    // oracle allows.
    let u: Usage = new Map();
    specs.forEach((s, i) => {
      resources.forEach((r, j) => {
        if (!(r in queues[i]!.nominal)) return;
        const want = s.initial[j]!;
        const can = oracleAvailable(forest, u, `q${i}`, r);
        u = withCharge(u, `q${i}`, r, want < can ? want : can);
      });
    });
    const usage = new Map<string, Amounts>(
      [...u].map(([q, m]) => [q, Object.fromEntries(m) as Amounts]),
    );
    if (extraUsage) {
      // Usage of resources and queues the quota does not know is ignored.
      usage.set('q0', { ...usage.get('q0'), [UNNAMED]: 5000n });
      usage.set('ghost', { cpu: 1000n });
    }
    return { queues, cohorts, forest, usage, resources };
  });

type Op =
  | { kind: 'charge'; queue: number; request: (bigint | undefined)[]; unnamed: bigint | undefined }
  | { kind: 'exact'; queue: number; resource: number }
  | { kind: 'release'; pick: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('charge' as const),
      queue: fc.nat(5),
      request: fc.array(fc.option(amount(10), { nil: undefined }), { minLength: 3, maxLength: 3 }),
      unnamed: fc.option(amount(10), { nil: undefined }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('exact' as const),
      queue: fc.nat(5),
      resource: fc.nat(2),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
);

const arbRun = fc.tuple(arbSetup, fc.array(arbOp, { maxLength: 30 }));

interface Charge {
  queue: string;
  request: Amounts;
}

/**
 * Runs the operations: a charge is checked first and made only when it fits; `exact` charges
 * exactly what the queue has available of one resource; a release takes back an earlier charge.
 * `after` sees the ledger after each step (and once before the first).
 */
function run(
  { queues, cohorts, usage, resources }: Setup,
  ops: readonly Op[],
  after: (ledger: QuotaLedger, step: Op | undefined, charged: readonly Charge[]) => void,
): void {
  const ledger = new QuotaLedger(queues, usage, cohorts);
  const charged: Charge[] = [];
  after(ledger, undefined, charged);
  for (const op of ops) {
    if (op.kind === 'release') {
      if (charged.length === 0) continue;
      const [c] = charged.splice(op.pick % charged.length, 1);
      ledger.release(c!.queue, c!.request);
    } else {
      const queue = queues[op.queue % queues.length]!.name;
      let request: Record<string, bigint> = {};
      if (op.kind === 'charge') {
        resources.forEach((r, j) => {
          const a = op.request[j];
          if (a !== undefined) request[r] = a;
        });
        if (op.unnamed !== undefined) request[UNNAMED] = op.unnamed;
      } else {
        const r = resources[op.resource % resources.length]!;
        if (!(r in queues[op.queue % queues.length]!.nominal)) continue;
        request = { [r]: ledger.available(queue)[r]! };
      }
      if (ledger.check(queue, request) === undefined) {
        ledger.charge(queue, request);
        charged.push({ queue, request });
      } else if (op.kind === 'exact') {
        throw new Error(`charging exactly what ${queue} has available was refused`);
      }
    }
    after(ledger, op, charged);
  }
}

// ---- the properties --------------------------------------------------------------------------

describe('QuotaLedger properties', () => {
  it('1. never lets usage above a limit: nominal, borrowing limit, cohort pool', () => {
    fc.assert(
      fc.property(arbRun, ([setup, ops]) => {
        run(setup, ops, (ledger) => {
          const u = usageOf(ledger, setup.queues);
          expect(broken(setup.forest, u)).toEqual([]);
          for (const q of setup.queues) {
            const used = ledger.used(q.name);
            const borrowed = ledger.borrowed(q.name);
            expect(Object.keys(used).sort()).toEqual(Object.keys(q.nominal).sort());
            for (const r of Object.keys(q.nominal)) {
              expect(borrowed[r]).toBe(max0(used[r]! - q.nominal[r]!));
              expect(ledger.available(q.name)[r]! >= 0n).toBe(true);
            }
          }
        });
      }),
      { ...SEED, numRuns: 400 },
    );
  });

  it('2. is exact: available is the most a queue can add without breaking a limit, and check agrees', () => {
    fc.assert(
      fc.property(arbRun, fc.bigInt({ min: 0n, max: 30000n }), ([setup, ops], probe) => {
        run(setup, ops, (ledger, step) => {
          const u = usageOf(ledger, setup.queues);
          for (const q of setup.queues) {
            const available = ledger.available(q.name);
            for (const r of Object.keys(q.nominal)) {
              const want = oracleAvailable(setup.forest, u, q.name, r);
              expect(available[r]).toBe(want);
              for (const a of [want, want + 1n, probe, 0n, 1n])
                expect(ledger.check(q.name, { [r]: a }) === undefined).toBe(a <= want);
            }
            // A request of several resources fits iff each of its resources does.
            const all = Object.fromEntries(Object.keys(q.nominal).map((r) => [r, probe]));
            const fitsEach = Object.keys(q.nominal).every(
              (r) => probe === 0n || probe <= oracleAvailable(setup.forest, u, q.name, r),
            );
            expect(ledger.check(q.name, all) === undefined).toBe(fitsEach);
          }
          if (step?.kind === 'exact') {
            const q = setup.queues[step.queue % setup.queues.length]!;
            const r = setup.resources[step.resource % setup.resources.length]!;
            if (r in q.nominal) expect(ledger.available(q.name)[r]).toBe(0n);
          }
        });
      }),
      { ...SEED, numRuns: 150 },
    );
  });

  it('2b. reports the first refused resource in name order, with the true figures', () => {
    fc.assert(
      fc.property(
        arbRun,
        fc.array(amount(14), { minLength: 3, maxLength: 3 }),
        ([setup, ops], req) => {
          run(setup, ops, (ledger) => {
            const u = usageOf(ledger, setup.queues);
            for (const q of setup.queues) {
              const request = Object.fromEntries(setup.resources.map((r, j) => [r, req[j]!]));
              const refused = Object.keys(q.nominal)
                .sort()
                .find(
                  (r) =>
                    request[r]! > 0n && request[r]! > oracleAvailable(setup.forest, u, q.name, r),
                );
              const s = ledger.check(q.name, request);
              if (refused === undefined) expect(s).toBeUndefined();
              else
                expect(s).toMatchObject({
                  queue: q.name,
                  resource: refused,
                  requested: request[refused],
                  available: oracleAvailable(setup.forest, u, q.name, refused),
                  nominal: q.nominal[refused],
                  used: usedOf(u, q.name, refused),
                  ...(q.cohort ? { cohort: q.cohort } : {}),
                });
            }
          });
        },
      ),
      { ...SEED, numRuns: 150 },
    );
  });

  it('3. always lets a queue take the rest of its guaranteed part, however much the others use', () => {
    fc.assert(
      fc.property(arbRun, fc.nat(5), ([setup, ops], pick) => {
        const q = setup.queues[pick % setup.queues.length]!;
        run(setup, ops, (ledger) => {
          const used = ledger.used(q.name);
          for (const r of Object.keys(q.nominal)) {
            const rest = max0(limitOf(q, r)!.g - used[r]!);
            expect(ledger.check(q.name, { [r]: rest })).toBeUndefined();
          }
        });
        // Now every other queue grabs all it can, repeatedly; q still gets its guaranteed part.
        const ledger = new QuotaLedger(setup.queues, setup.usage, setup.cohorts);
        fillOthers(ledger, setup.queues, q.name);
        const used = ledger.used(q.name);
        const rest: Record<string, bigint> = {};
        for (const r of Object.keys(q.nominal)) rest[r] = max0(limitOf(q, r)!.g - used[r]!);
        expect(ledger.check(q.name, rest)).toBeUndefined();
        ledger.charge(q.name, rest);
        expect(broken(setup.forest, usageOf(ledger, setup.queues))).toEqual([]);
      }),
      { ...SEED, numRuns: 300 },
    );
  });

  it('4. lets the others use at most the lendable part of a queue`s nominal', () => {
    fc.assert(
      fc.property(arbSetup, fc.nat(5), (setup, pick) => {
        const q = setup.queues[pick % setup.queues.length]!;
        // q idle, the others as greedy as they can be.
        const usage = new Map(setup.usage);
        usage.delete(q.name);
        const ledger = new QuotaLedger(setup.queues, usage, setup.cohorts);
        fillOthers(ledger, setup.queues, q.name);
        const u = usageOf(ledger, setup.queues);
        expect(broken(setup.forest, u)).toEqual([]);
        if (q.cohort === undefined) return;
        for (const r of Object.keys(q.nominal)) {
          // q's guaranteed part is all there for it, at any depth.
          expect(ledger.available(q.name)[r]! >= limitOf(q, r)!.g).toBe(true);
          // In a cohort of one level, what the others use beyond what they themselves bring to
          // the pool comes out of q's lendable part (nested, it may come from above too).
          if (setup.cohorts.length > 0) continue;
          let beyond = 0n;
          for (const p of setup.queues) {
            if (p.cohort !== q.cohort || p.name === q.name) continue;
            const l = limitOf(p, r);
            if (l) beyond += max0(usedOf(u, p.name, r) - l.g) - l.lendable;
          }
          expect(beyond <= limitOf(q, r)!.lendable).toBe(true);
        }
      }),
      { ...SEED, numRuns: 400 },
    );
  });

  it('5. release then charge (and charge then release) restores the same state', () => {
    fc.assert(
      fc.property(arbRun, fc.nat(), ([setup, ops], pick) => {
        run(setup, ops, (ledger, _step, charged) => {
          const before = snapshot(ledger, setup.queues);
          if (charged.length > 0) {
            const c = charged[pick % charged.length]!;
            ledger.release(c.queue, c.request);
            expect(ledger.check(c.queue, c.request)).toBeUndefined();
            ledger.charge(c.queue, c.request);
            expect(snapshot(ledger, setup.queues)).toEqual(before);
          }
          const q = setup.queues[pick % setup.queues.length]!;
          const all = ledger.available(q.name);
          ledger.charge(q.name, all);
          ledger.release(q.name, all);
          expect(snapshot(ledger, setup.queues)).toEqual(before);
        });
      }),
      { ...SEED, numRuns: 300 },
    );
  });

  it('never goes negative and never makes a broken limit worse when usage starts above the limits', () => {
    const arbWild = arbSetup.chain((setup) =>
      fc
        .array(fc.tuple(amount(30), amount(30), amount(30)), {
          minLength: setup.queues.length,
          maxLength: setup.queues.length,
        })
        .map((amounts) => {
          const usage = new Map<string, Amounts>(
            setup.queues.map((q, i) => [
              q.name,
              Object.fromEntries(setup.resources.map((r, j) => [r, amounts[i]![j]!])),
            ]),
          );
          return { ...setup, usage };
        }),
    );
    fc.assert(
      fc.property(arbWild, fc.nat(5), (setup, pick) => {
        const ledger = new QuotaLedger(setup.queues, setup.usage, setup.cohorts);
        const q = setup.queues[pick % setup.queues.length]!;
        const before = excess(setup.forest, usageOf(ledger, setup.queues));
        const available = ledger.available(q.name);
        for (const r of Object.keys(q.nominal)) expect(available[r]! >= 0n).toBe(true);
        expect(ledger.check(q.name, available)).toBeUndefined();
        ledger.charge(q.name, available);
        const after = excess(setup.forest, usageOf(ledger, setup.queues));
        for (const [k, e] of after) if (e > 0n) expect(e <= max0(before.get(k)!)).toBe(true);
      }),
      { ...SEED, numRuns: 400 },
    );
  });
});

/** Every queue but `except` charges all it has available, round after round, until none can. */
function fillOthers(ledger: QuotaLedger, queues: readonly QueueQuota[], except: string): void {
  for (let round = 0; round < 4; round++)
    for (const p of queues) {
      if (p.name === except) continue;
      const all = ledger.available(p.name);
      if (ledger.check(p.name, all) === undefined) ledger.charge(p.name, all);
    }
}
