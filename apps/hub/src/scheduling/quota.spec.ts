import {
  cohortParents,
  QuotaLedger,
  scopedTo,
  splitScoped,
  type Amounts,
  type CohortQuota,
  type QueueQuota,
} from './quota';

const GPU = 'nvidia.com/gpu';
const gpus = (n: number): Amounts => ({ [GPU]: BigInt(n) * 1000n });
const GI = 1024n * 1024n * 1024n * 1000n;

describe('QuotaLedger', () => {
  describe('worked example: cohort labs, a (16 GPUs, borrows at most 8), b (8 GPUs, lends at most 4)', () => {
    // a lends all 16 and keeps nothing for itself; b lends 4 and keeps 4. The pool is 20.
    const queues: QueueQuota[] = [
      { name: 'a', cohort: 'labs', nominal: gpus(16), borrowingLimit: gpus(8) },
      { name: 'b', cohort: 'labs', nominal: gpus(8), lendingLimit: gpus(4) },
    ];
    const ledger = (used: Record<string, number>) =>
      new QuotaLedger(queues, new Map(Object.entries(used).map(([q, n]) => [q, gpus(n)])));

    it('both idle: a can take 20 (its 16 and the 4 b lends), b 24 (its 8 and all of a)', () => {
      const l = ledger({});
      expect(l.available('a')).toEqual(gpus(20));
      expect(l.available('b')).toEqual(gpus(24));
      expect(l.check('a', gpus(20))).toBeUndefined();
      expect(l.check('a', gpus(21))?.available).toBe(20000n);
      expect(l.check('b', gpus(24))).toBeUndefined();
      expect(l.check('b', gpus(25))?.available).toBe(24000n);
    });

    it('a busy with its own 16: b can still take its 8, no more', () => {
      const l = ledger({ a: 16 });
      expect(l.available('a')).toEqual(gpus(4));
      expect(l.available('b')).toEqual(gpus(8));
      expect(l.borrowed('a')).toEqual(gpus(0));
    });

    it('a borrowing all b lends: b keeps its guaranteed 4, a can take nothing more', () => {
      const l = ledger({ a: 20 });
      expect(l.borrowed('a')).toEqual(gpus(4));
      expect(l.available('a')).toEqual(gpus(0));
      expect(l.available('b')).toEqual(gpus(4));
      expect(l.check('b', gpus(4))).toBeUndefined();
      expect(l.check('b', gpus(5))).toMatchObject({ queue: 'b', available: 4000n, used: 0n });
    });

    it('b busy with its own 8: a can take its 16, nothing to borrow; b can borrow all of idle a', () => {
      const l = ledger({ b: 8 });
      expect(l.available('a')).toEqual(gpus(16));
      expect(l.available('b')).toEqual(gpus(16));
    });

    it('b borrowing from a: a gets back only what b has not taken', () => {
      const l = ledger({ b: 18 });
      expect(l.borrowed('b')).toEqual(gpus(10));
      expect(l.available('a')).toEqual(gpus(6));
      l.release('b', gpus(10));
      expect(l.available('a')).toEqual(gpus(16));
    });

    it('charging and releasing move the figures exactly', () => {
      const l = ledger({});
      expect(l.check('a', gpus(18))).toBeUndefined();
      l.charge('a', gpus(18));
      expect(l.used('a')).toEqual(gpus(18));
      expect(l.borrowed('a')).toEqual(gpus(2));
      expect(l.available('a')).toEqual(gpus(2));
      expect(l.available('b')).toEqual(gpus(6));
      l.release('a', gpus(18));
      expect(l.used('a')).toEqual(gpus(0));
      expect(l.available('a')).toEqual(gpus(20));
      expect(l.available('b')).toEqual(gpus(24));
    });
  });

  it('holds a borrower to its borrowing limit even when the pool has more', () => {
    const l = new QuotaLedger(
      [
        { name: 'a', cohort: 'labs', nominal: gpus(16), borrowingLimit: gpus(8) },
        { name: 'c', cohort: 'labs', nominal: gpus(32) },
      ],
      new Map(),
    );
    expect(l.available('a')).toEqual(gpus(24));
    expect(l.available('c')).toEqual(gpus(48));
    const s = l.check('a', gpus(25));
    expect(s?.message).toBe(
      'queue a: needs 25 nvidia.com/gpu, 24 available (nominal 16, used 0, cohort labs lends 24 more within borrowing limit 8)',
    );
    l.charge('a', gpus(24));
    expect(l.borrowed('a')).toEqual(gpus(8));
    expect(l.available('a')).toEqual(gpus(0));
    expect(l.available('c')).toEqual(gpus(24));
  });

  it('lets others use at most the lending limit of a queue', () => {
    // q lends 3 of its 10; p has no quota of its own and borrows from q alone.
    const l = new QuotaLedger(
      [
        { name: 'q', cohort: 'k', nominal: gpus(10), lendingLimit: gpus(3) },
        { name: 'p', cohort: 'k', nominal: gpus(0) },
      ],
      new Map(),
    );
    expect(l.available('p')).toEqual(gpus(3));
    expect(l.check('p', gpus(4))).toMatchObject({ resource: GPU, available: 3000n });
    l.charge('p', gpus(3));
    expect(l.available('p')).toEqual(gpus(0));
    expect(l.available('q')).toEqual(gpus(7));
    // A lending limit above nominal lends all of nominal, no more.
    const over = new QuotaLedger(
      [
        { name: 'q', cohort: 'k', nominal: gpus(2), lendingLimit: gpus(50) },
        { name: 'p', cohort: 'k', nominal: gpus(0) },
      ],
      new Map(),
    );
    expect(over.available('p')).toEqual(gpus(2));
  });

  describe('worked example: org lends to research and prod; research (a, b) borrows at most 4 from it', () => {
    // a and b lend all of their 8 each to research; research lends all 16 on to org (no lending
    // limit) and may take at most 4 beyond them. prod keeps 6 of p's 8 and lends 2. org's pool
    // is its own 4, research's 16 and prod's 2: 22.
    const queues: QueueQuota[] = [
      { name: 'a', cohort: 'research', nominal: gpus(8) },
      { name: 'b', cohort: 'research', nominal: gpus(8) },
      { name: 'p', cohort: 'prod', nominal: gpus(8) },
    ];
    const cohorts: CohortQuota[] = [
      { name: 'research', parent: 'org', borrowingLimit: gpus(4) },
      { name: 'prod', parent: 'org', lendingLimit: gpus(2) },
      { name: 'org', nominal: gpus(4) },
    ];
    const ledger = (used: Record<string, number>) =>
      new QuotaLedger(queues, new Map(Object.entries(used).map(([q, n]) => [q, gpus(n)])), cohorts);

    it('all idle: a can take research`s 16 and 4 more from org; p its 8 and all org has', () => {
      const l = ledger({});
      expect(l.available('a')).toEqual(gpus(20));
      // p may take prod's own 6 and all 22 of org's pool.
      expect(l.available('p')).toEqual(gpus(28));
      expect(l.cohortsOf('a')).toEqual(['research', 'org']);
    });

    it('research at its borrowing limit: b gets nothing more, p still its guaranteed 6 and org`s rest', () => {
      const l = ledger({ a: 20 });
      expect(l.available('b')).toEqual(gpus(0));
      expect(l.check('b', gpus(1))?.message).toBe(
        'queue b: needs 1 nvidia.com/gpu, 0 available (nominal 8, used 0, cohort research (in org) lends 0 more)',
      );
      // research uses 20 of org's 22: p may take prod's own 6 and the 2 left.
      expect(l.available('p')).toEqual(gpus(8));
    });

    it('p busy with all it may take: research keeps its own 16, no more', () => {
      const l = ledger({ p: 12 });
      expect(l.available('a')).toEqual(gpus(16));
      l.charge('a', gpus(16));
      expect(l.available('b')).toEqual(gpus(0));
      l.release('p', gpus(12));
      expect(l.available('b')).toEqual(gpus(4));
    });
  });

  it('takes a quota scoped to a cluster set as a resource of its own', () => {
    const l = new QuotaLedger(
      [{ name: 'q', nominal: { ...gpus(8), ...scopedTo('east', gpus(2)) } }],
      new Map([['q', { ...gpus(3), ...scopedTo('east', gpus(1)) }]]),
    );
    expect(l.clusterSets('q')).toEqual(new Set(['east']));
    expect(l.check('q', gpus(5))).toBeUndefined();
    const east = l.check('q', { ...gpus(2), ...scopedTo('east', gpus(2)) });
    expect(east).toMatchObject({ resource: `east:${GPU}`, clusterSet: 'east', available: 1000n });
    expect(east?.message).toBe(
      'queue q: needs 2 nvidia.com/gpu in cluster set east, 1 available (nominal 2, used 1)',
    );
    expect(splitScoped(`east:${GPU}`)).toEqual({ clusterSet: 'east', name: GPU });
    expect(splitScoped(GPU)).toEqual({ name: GPU });
    // Already scoped amounts are not scoped again.
    expect(scopedTo('west', { ...gpus(1), ...scopedTo('east', gpus(1)) })).toEqual(
      scopedTo('west', gpus(1)),
    );
  });

  it('links cohort parents in name order, skipping one that would close a loop', () => {
    expect(
      cohortParents([
        { name: 'b', parent: 'a' },
        { name: 'a', parent: 'c' },
        { name: 'c', parent: 'b' }, // closes a → c → b → a: dropped
        { name: 'd', parent: 'd' },
        { name: 'e' },
      ]),
    ).toEqual(
      new Map([
        ['a', 'c'],
        ['b', 'a'],
      ]),
    );
    // A loop in the rows leaves a forest in the ledger too: nothing hangs, limits still hold.
    const l = new QuotaLedger([{ name: 'q', cohort: 'a', nominal: gpus(4) }], new Map(), [
      { name: 'a', parent: 'b' },
      { name: 'b', parent: 'a' },
    ]);
    expect(l.available('q')).toEqual(gpus(4));
    expect(l.cohortsOf('q')).toEqual(['a', 'b']);
  });

  it('explains a shortfall in Kubernetes quantities', () => {
    const l = new QuotaLedger(
      [
        { name: 'research', cohort: 'labs', nominal: gpus(16), lendingLimit: gpus(0) },
        { name: 'other', cohort: 'labs', nominal: gpus(8) },
      ],
      new Map([
        ['research', gpus(12)],
        ['other', gpus(8)],
      ]),
    );
    expect(l.check('research', gpus(8))).toEqual({
      queue: 'research',
      resource: GPU,
      requested: 8000n,
      available: 4000n,
      nominal: 16000n,
      used: 12000n,
      cohort: 'labs',
      message:
        'queue research: needs 8 nvidia.com/gpu, 4 available (nominal 16, used 12, cohort labs lends 0 more)',
    });

    const m = new QuotaLedger(
      [{ name: 'q', nominal: { cpu: 2500n, memory: 16n * GI } }],
      new Map([['q', { cpu: 2000n, memory: 14n * GI + 512n * 1024n * 1024n * 1000n }]]),
    );
    expect(m.check('q', { memory: 2n * GI })?.message).toBe(
      'queue q: needs 2Gi memory, 1536Mi available (nominal 16Gi, used 14848Mi)',
    );
    expect(m.check('q', { cpu: 750n })?.message).toBe(
      'queue q: needs 750m cpu, 500m available (nominal 2500m, used 2)',
    );
  });

  it('reports the first resource in name order that does not fit', () => {
    const l = new QuotaLedger(
      [{ name: 'q', nominal: { cpu: 1000n, memory: GI, [GPU]: 0n } }],
      new Map(),
    );
    const s = l.check('q', { [GPU]: 1000n, memory: 2n * GI, cpu: 2000n });
    expect(s?.resource).toBe('cpu');
    expect(l.check('q', { [GPU]: 1000n, memory: 2n * GI })?.resource).toBe('memory');
    expect(l.check('q', { [GPU]: 1000n })?.resource).toBe(GPU);
    expect(l.check('q', { cpu: 1000n, memory: GI })).toBeUndefined();
  });

  it('limits a queue without cohort to its nominal quota', () => {
    const l = new QuotaLedger(
      [
        { name: 'solo', nominal: gpus(4), borrowingLimit: gpus(100), lendingLimit: gpus(0) },
        { name: 'idle', cohort: 'k', nominal: gpus(100) },
      ],
      new Map([['solo', gpus(1)]]),
    );
    expect(l.available('solo')).toEqual(gpus(3));
    expect(l.check('solo', gpus(3))).toBeUndefined();
    const s = l.check('solo', gpus(4));
    expect(s).toMatchObject({ available: 3000n, nominal: 4000n, used: 1000n });
    expect(s).not.toHaveProperty('cohort');
    expect(s?.message).toBe('queue solo: needs 4 nvidia.com/gpu, 3 available (nominal 4, used 1)');
    l.charge('solo', gpus(3));
    expect(l.available('solo')).toEqual(gpus(0));
    expect(l.borrowed('solo')).toEqual(gpus(0));
    expect(l.available('idle')).toEqual(gpus(100));
  });

  it('does not limit a queue it does not know', () => {
    const l = new QuotaLedger([{ name: 'q', nominal: gpus(1) }], new Map([['ghost', gpus(5)]]));
    expect(l.check('ghost', gpus(1000))).toBeUndefined();
    l.charge('ghost', gpus(1000));
    l.release('ghost', gpus(1));
    expect(l.used('ghost')).toEqual({});
    expect(l.available('ghost')).toEqual({});
    expect(l.borrowed('ghost')).toEqual({});
    expect(l.available('q')).toEqual(gpus(1));
  });

  it('does not limit or track a resource the queue does not name', () => {
    const l = new QuotaLedger(
      [
        { name: 'q', cohort: 'k', nominal: { cpu: 1000n } },
        { name: 'p', cohort: 'k', nominal: gpus(2) },
      ],
      new Map([['q', { cpu: 500n, [GPU]: 7000n }]]),
    );
    expect(l.used('q')).toEqual({ cpu: 500n });
    expect(l.available('q')).toEqual({ cpu: 500n });
    expect(l.check('q', { ...gpus(1000), cpu: 500n })).toBeUndefined();
    l.charge('q', { ...gpus(1000), cpu: 500n });
    expect(l.used('q')).toEqual({ cpu: 1000n });
    // q neither draws GPUs from the pool nor lends cpu to it.
    expect(l.available('p')).toEqual(gpus(2));
    expect(l.check('p', { cpu: 10n ** 30n })).toBeUndefined();
  });

  it('ignores zero amounts, and a zero nominal refuses any positive amount', () => {
    const l = new QuotaLedger([{ name: 'q', nominal: { cpu: 0n } }], new Map());
    expect(l.check('q', { cpu: 0n })).toBeUndefined();
    expect(l.check('q', { cpu: 1n })).toMatchObject({ resource: 'cpu', available: 0n });
  });

  it('gives nothing when usage already exceeds a lowered quota, and never goes negative', () => {
    const l = new QuotaLedger(
      [
        { name: 'solo', nominal: gpus(4) },
        { name: 'a', cohort: 'k', nominal: gpus(4), borrowingLimit: gpus(2) },
        { name: 'b', cohort: 'k', nominal: gpus(4), lendingLimit: gpus(1) },
      ],
      new Map([
        ['solo', gpus(9)],
        ['a', gpus(10)],
        ['b', gpus(1)],
      ]),
    );
    expect(l.available('solo')).toEqual(gpus(0));
    expect(l.borrowed('solo')).toEqual(gpus(5));
    expect(l.available('a')).toEqual(gpus(0));
    // b still has its guaranteed 3 (4 - lends 1), less the 1 it uses.
    expect(l.available('b')).toEqual(gpus(2));
    expect(l.check('solo', gpus(1))?.message).toBe(
      'queue solo: needs 1 nvidia.com/gpu, 0 available (nominal 4, used 9)',
    );
    l.release('solo', gpus(100));
    expect(l.used('solo')).toEqual(gpus(0));
    expect(l.available('solo')).toEqual(gpus(4));
  });

  it('copies its inputs and never changes them', () => {
    const nominal = { ...gpus(4) };
    const usage = new Map([['q', { ...gpus(1) }]]);
    const l = new QuotaLedger([{ name: 'q', cohort: 'k', nominal }], usage);
    l.charge('q', gpus(2));
    nominal[GPU] = 0n;
    expect(usage.get('q')).toEqual(gpus(1));
    expect(l.used('q')).toEqual(gpus(3));
    expect(l.available('q')).toEqual(gpus(1));
  });

  it('does not crash on odd input', () => {
    const odd = [
      { name: 'neg', nominal: { cpu: -5n }, borrowingLimit: { cpu: -1n } },
      { name: 'num', cohort: '', nominal: { cpu: 3 as unknown as bigint } },
      null as unknown as QueueQuota,
      { nominal: { cpu: 1n } } as unknown as QueueQuota,
      { name: 'dup', nominal: gpus(1), cohort: 'k' },
      { name: 'dup', nominal: gpus(2), cohort: 'k' },
      { name: 'proto', nominal: JSON.parse('{"__proto__": 1}') as Amounts },
    ];
    const l = new QuotaLedger(odd, new Map([['neg', { cpu: -7n }]]));
    expect(l.available('neg')).toEqual({ cpu: 0n });
    expect(l.used('neg')).toEqual({ cpu: 0n });
    expect(l.check('neg', { cpu: -1n })).toBeUndefined();
    l.charge('neg', { cpu: -1n });
    expect(l.used('neg')).toEqual({ cpu: 0n });
    expect(l.available('num')).toEqual({ cpu: 0n });
    expect(l.available('dup')).toEqual(gpus(2));
    expect(Object.keys(l.available('proto'))).toEqual(['__proto__']);
    expect(
      () => new QuotaLedger(undefined as unknown as QueueQuota[], undefined as never),
    ).not.toThrow();
  });
});
