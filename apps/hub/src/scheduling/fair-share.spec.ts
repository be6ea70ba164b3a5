import {
  decayedUsage,
  fairOrder,
  fairShares,
  queueShare,
  type FairShareGang,
  type FairShareInput,
  type FairShareQueue,
} from './fair-share';
import type { Amounts } from './quota';

const GPU = 'nvidia.com/gpu';
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const units = (n: number) => BigInt(n) * 1000n;
const DAY = 86_400;

/** `n` gangs of queue `queue`, ids `${queue}0`…, each asking `request`, oldest first. */
function gangsOf(queue: string, n: number, request: Amounts = { [GPU]: units(1) }) {
  return Array.from({ length: n }, (_, i) => ({
    id: `${queue}${i}`,
    queue,
    priority: 0,
    createdAt: at(i),
    request,
  }));
}

function input(over: Partial<FairShareInput> = {}): FairShareInput {
  return { queues: [], capacity: { [GPU]: units(100) }, usage: new Map(), ...over };
}

const ids = (gangs: readonly FairShareGang[]) => gangs.map((g) => g.id);
const queuesOf = (gangs: readonly FairShareGang[]) => gangs.map((g) => g.queue);

function count(queues: readonly string[], q: string): number {
  return queues.filter((x) => x === q).length;
}

describe('fairOrder', () => {
  it('alternates two queues of equal weight, the first by name on a tie', () => {
    const order = fairOrder([...gangsOf('b', 3), ...gangsOf('a', 3)], input());
    expect(ids(order)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });

  it('charges only admitted gangs: a queue whose gang did not fit keeps its turn', () => {
    // a0 does not fit; a is not charged for it, so a1 comes before b's first.
    const order = fairOrder([...gangsOf('a', 2), ...gangsOf('b', 2)], input(), (g) =>
      g.id === 'a0' ? 'unfit' : 'admitted',
    );
    expect(ids(order)).toEqual(['a0', 'a1', 'b0', 'b1']);
  });

  it('has queues at their fair share yield once a queue below its own waits for room', () => {
    // big holds 10 of 100 GPUs (its share 1/2: below); small holds 60 (above).
    const usage = new Map([
      ['big', { [GPU]: units(10) }],
      ['small', { [GPU]: units(60) }],
    ]);
    const offered: [string, boolean][] = [];
    fairOrder([...gangsOf('big', 1), ...gangsOf('small', 2)], input({ usage }), (g, yields) => {
      offered.push([g.id, yields]);
      return g.queue === 'big' ? 'unfit' : 'admitted';
    });
    expect(offered).toEqual([
      ['big0', false],
      ['small0', true],
      ['small1', true],
    ]);
    // A queue below its share that does not fit holds back nobody when nobody else is below.
    const calm: boolean[] = [];
    fairOrder([...gangsOf('small', 1), ...gangsOf('big', 1)], input({ usage }), (g, yields) => {
      calm.push(yields);
      return g.queue === 'small' ? 'unfit' : 'admitted';
    });
    expect(calm).toEqual([false, false]);
  });

  it('gives a queue of weight 2 about two turns for each of a queue of weight 1', () => {
    const queues = [
      { name: 'heavy', weight: 2 },
      { name: 'light', weight: 1 },
    ];
    const order = queuesOf(
      fairOrder([...gangsOf('heavy', 50), ...gangsOf('light', 50)], input({ queues })),
    );
    for (const n of [3, 10, 30, 60]) {
      const prefix = order.slice(0, n);
      expect(Math.abs(count(prefix, 'heavy') - (2 * n) / 3)).toBeLessThanOrEqual(1);
    }
  });

  it('puts a queue already using a lot after one using nothing', () => {
    const usage = new Map([['busy', { [GPU]: units(10) }]]);
    const order = fairOrder([...gangsOf('busy', 3), ...gangsOf('idle', 12)], input({ usage }));
    // idle catches up its 10 GPUs first, then the two alternate (busy first by name on the tie).
    expect(queuesOf(order).slice(0, 10)).toEqual(Array(10).fill('idle'));
    expect(queuesOf(order).slice(10)).toEqual(['busy', 'idle', 'busy', 'idle', 'busy']);
  });

  // Each row is chosen so that the dominant share orders differently from the sum of shares and
  // from either resource alone; the expected first queue is the later name, so a tie cannot pass.
  it.each<{ why: string; a: Amounts; b: Amounts }>([
    {
      why: 'half the CPUs outweigh 40% of the GPUs (sum ties, GPUs alone say a)',
      a: { cpu: units(50) },
      b: { cpu: units(10), [GPU]: units(4) },
    },
    {
      why: '30% of the CPUs are less than 40% of the GPUs (CPUs alone say a)',
      a: { [GPU]: units(4) },
      b: { cpu: units(30) },
    },
  ])('orders by the dominant resource: $why', ({ a, b }) => {
    const capacity = { cpu: units(100), [GPU]: units(10) };
    const usage = new Map<string, Amounts>([
      ['a', a],
      ['b', b],
    ]);
    const order = fairOrder(
      [...gangsOf('a', 1, { cpu: 1n }), ...gangsOf('b', 1, { cpu: 1n })],
      input({ capacity, usage }),
    );
    expect(queuesOf(order)).toEqual(['b', 'a']);
  });

  it('lets history put yesterday`s heavy user second when both use the same now', () => {
    const now = at(0);
    const yesterday = new Date(now.getTime() - DAY * 1000);
    const history = new Map([
      [
        'a',
        decayedUsage(
          [{ start: yesterday, lengthSeconds: 3600, seconds: { [GPU]: Number(units(80)) * 3600 } }],
          now,
          DAY,
        ),
      ],
    ]);
    const usage = new Map([
      ['a', { [GPU]: units(5) }],
      ['b', { [GPU]: units(5) }],
    ]);
    const gangs = [...gangsOf('a', 1), ...gangsOf('b', 1)];
    const withHistory = input({ usage, history, halfLifeSeconds: DAY });
    expect(queuesOf(fairOrder(gangs, withHistory))).toEqual(['b', 'a']);
    expect(queuesOf(fairOrder(gangs, { ...withHistory, historyWeight: 0 }))).toEqual(['a', 'b']);
  });

  it('lets a cohort`s members compete together against a lone queue of their summed weight', () => {
    const queues = [
      { name: 'a', weight: 1, cohort: 'lab' },
      { name: 'b', weight: 1, cohort: 'lab' },
      { name: 'c', weight: 2 },
    ];
    const order = queuesOf(
      fairOrder([...gangsOf('a', 6), ...gangsOf('b', 6), ...gangsOf('c', 12)], input({ queues })),
    );
    for (let n = 2; n <= order.length; n += 2) {
      const prefix = order.slice(0, n);
      expect(count(prefix, 'c')).toBe(n / 2);
      expect(Math.abs(count(prefix, 'a') - count(prefix, 'b'))).toBeLessThanOrEqual(1);
    }
  });

  it('counts a cohort member`s usage against the whole cohort, idle members included', () => {
    const queues = [
      { name: 'a', weight: 1, cohort: 'lab' },
      { name: 'idle', weight: 1, cohort: 'lab' },
      { name: 'z', weight: 1 },
    ];
    const usage = new Map([['idle', { [GPU]: units(3) }]]);
    // a has gangs but uses nothing; its cohort holds 3 GPUs, over a's weight alone.
    const order = fairOrder([...gangsOf('a', 2), ...gangsOf('z', 5)], input({ queues, usage }));
    expect(queuesOf(order)).toEqual(['z', 'z', 'z', 'a', 'z', 'a', 'z']);
  });

  it('lets nested cohorts compete level by level, an idle member`s usage counting up the tree', () => {
    // 12 GPUs; r1 (idle) holds 6. Cohorts research (r1, r2) and prod (p1) sit in org; x is alone.
    const queues: FairShareQueue[] = [
      { name: 'r1', weight: 1, cohort: 'research' },
      { name: 'r2', weight: 1, cohort: 'research' },
      { name: 'p1', weight: 1, cohort: 'prod' },
      { name: 'x', weight: 1 },
    ];
    const usage = new Map([['r1', { [GPU]: units(6) }]]);
    const gangs = [...gangsOf('r2', 6), ...gangsOf('p1', 6), ...gangsOf('x', 6)];
    const first6 = (over: Partial<FairShareInput>) =>
      queuesOf(
        fairOrder(gangs, { queues, capacity: { [GPU]: units(12) }, usage, ...over }).slice(0, 6),
      );
    const tally = (qs: string[]) => ['r2', 'p1', 'x'].map((q) => count(qs, q));
    const nested = first6({
      cohorts: [
        { name: 'research', parent: 'org' },
        { name: 'prod', parent: 'org' },
      ],
    });
    // org (active weight 2) holds 6 of 12: x catches up to it first; inside org, research
    // holds 6 and prod nothing, so prod's p1 gets org's turns.
    expect(tally(nested)).toEqual([0, 2, 4]);
    // Without the parent, research and prod are roots: p1 and x share the turns.
    expect(tally(first6({}))).toEqual([0, 3, 3]);
    // One flat cohort org of r1, r2, p1: r2 and p1 take org's turns alike.
    expect(
      tally(first6({ queues: queues.map((q) => (q.cohort ? { ...q, cohort: 'org' } : q)) })),
    ).toEqual([1, 1, 4]);
  });

  it('ignores a cohort parent that would close a loop', () => {
    const queues: FairShareQueue[] = [
      { name: 'a1', weight: 1, cohort: 'a' },
      { name: 'b1', weight: 1, cohort: 'b' },
    ];
    const order = fairOrder([...gangsOf('a1', 2), ...gangsOf('b1', 2)], {
      ...input({ queues }),
      cohorts: [
        { name: 'a', parent: 'b' },
        { name: 'b', parent: 'a' },
      ],
    });
    expect(ids(order).sort()).toEqual(['a10', 'a11', 'b10', 'b11']);
  });

  it('takes a queue`s gangs by priority, then age, then id', () => {
    const gangs = [
      { id: 'old', queue: 'q', priority: 0, createdAt: at(1), request: {} },
      { id: 'urgent', queue: 'q', priority: 5, createdAt: at(9), request: {} },
      { id: 'y', queue: 'q', priority: 0, createdAt: at(3), request: {} },
      { id: 'x', queue: 'q', priority: 0, createdAt: at(3), request: {} },
      { id: 'oldest', queue: 'q', priority: 0, createdAt: at(0), request: {} },
    ];
    expect(ids(fairOrder(gangs, input()))).toEqual(['urgent', 'oldest', 'old', 'x', 'y']);
  });

  it('is deterministic: the same order for the same gangs in any input order', () => {
    const queues = [
      { name: 'a', weight: 1, cohort: 'lab' },
      { name: 'b', weight: 3, cohort: 'lab' },
      { name: 'c', weight: 2 },
    ];
    const gangs = [
      ...gangsOf('a', 7),
      ...gangsOf('b', 5, { [GPU]: units(2) }),
      ...gangsOf('c', 9),
      ...gangsOf('d', 4, { cpu: units(3) }),
    ];
    const i = input({ queues, capacity: { [GPU]: units(16), cpu: units(64) } });
    const once = fairOrder(gangs, i);
    expect(fairOrder([...gangs].reverse(), i)).toEqual(once);
    expect(fairOrder(gangs, i)).toEqual(once);
    expect(ids(once).sort()).toEqual(ids(gangs).sort());
  });

  it('gives a queue it does not know, or one with a bad weight, weight 1', () => {
    const queues: FairShareQueue[] = [
      { name: 'known', weight: 1 },
      { name: 'zero', weight: 0 },
      { name: 'nan', weight: Number.NaN },
    ];
    const gangs = ['known', 'nan', 'unknown', 'zero'].flatMap((q) => gangsOf(q, 2));
    expect(queuesOf(fairOrder(gangs, input({ queues })))).toEqual([
      ...['known', 'nan', 'unknown', 'zero'],
      ...['known', 'nan', 'unknown', 'zero'],
    ]);
  });

  it('ignores resources without capacity', () => {
    const usage = new Map([['a', { 'example.com/fpga': units(100), cpu: units(5) }]]);
    const capacity = { [GPU]: units(10), cpu: 0n };
    const order = fairOrder([...gangsOf('b', 2), ...gangsOf('a', 2)], input({ capacity, usage }));
    expect(ids(order)).toEqual(['a0', 'b0', 'a1', 'b1']);
  });

  it('wants a half-life with a history', () => {
    expect(() => fairOrder([], input({ history: new Map() }))).toThrow(RangeError);
  });
});

describe('queueShare', () => {
  const capacity = { cpu: units(100), [GPU]: units(10) };
  it.each<{
    why: string;
    usage: Amounts;
    weight: number;
    extra: Amounts | undefined;
    share: number;
  }>([
    { why: 'nothing used', usage: {}, weight: 1, extra: undefined, share: 0 },
    {
      why: 'the dominant resource',
      usage: { cpu: units(20), [GPU]: units(1) },
      weight: 1,
      extra: undefined,
      share: 0.2,
    },
    { why: 'over the weight', usage: { [GPU]: units(4) }, weight: 2, extra: undefined, share: 0.2 },
    {
      why: 'with an extra request',
      usage: { [GPU]: units(4) },
      weight: 1,
      extra: { [GPU]: units(2) },
      share: 0.6,
    },
    {
      why: 'an extra that changes the dominant',
      usage: { [GPU]: units(1) },
      weight: 1,
      extra: { cpu: units(50) },
      share: 0.5,
    },
  ])('is $share for $why', ({ usage, weight, extra, share }) => {
    const i = input({ queues: [{ name: 'q', weight }], capacity, usage: new Map([['q', usage]]) });
    expect(queueShare('q', i, extra)).toBeCloseTo(share, 12);
  });

  it('adds the history`s dominant share, normalised by a full fleet`s decayed integral, times its weight', () => {
    const halfLife = 3600;
    const fullFleet = (Number(units(10)) * halfLife) / Math.LN2;
    const i = input({
      queues: [{ name: 'q', weight: 2 }],
      capacity,
      usage: new Map([['q', { [GPU]: units(1) }]]),
      history: new Map([['q', { [GPU]: 0.5 * fullFleet, cpu: 0.1 * fullFleet }]]),
      halfLifeSeconds: halfLife,
    });
    expect(queueShare('q', i)).toBeCloseTo((0.1 + 0.5) / 2, 12);
    expect(queueShare('q', { ...i, historyWeight: 0.5 })).toBeCloseTo((0.1 + 0.25) / 2, 12);
  });

  it('gives an unknown queue weight 1', () => {
    const i = input({ usage: new Map([['x', { [GPU]: units(30) }]]) });
    expect(queueShare('x', i)).toBeCloseTo(0.3, 12);
  });
});

describe('fairShares', () => {
  it('follows the weights of the active queues and sums to 1', () => {
    const queues = [
      { name: 'a', weight: 2 },
      { name: 'b', weight: 1 },
      { name: 'idle', weight: 5 },
    ];
    const shares = fairShares(queues, new Set(['a', 'b', 'new']));
    expect([...shares.keys()]).toEqual(['a', 'b', 'new']);
    expect(shares.get('a')).toBeCloseTo(0.5, 12);
    expect(shares.get('b')).toBeCloseTo(0.25, 12);
    expect(shares.get('new')).toBeCloseTo(0.25, 12);
    expect([...shares.values()].reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
  });

  it('gives a cohort the weights of its active members only, split by weight within', () => {
    const queues = [
      { name: 'a', weight: 1, cohort: 'lab' },
      { name: 'b', weight: 3, cohort: 'lab' },
      { name: 'asleep', weight: 10, cohort: 'lab' },
      { name: 'c', weight: 4 },
    ];
    const shares = fairShares(queues, new Set(['a', 'b', 'c']));
    expect(shares.get('a')! + shares.get('b')!).toBeCloseTo(0.5, 12);
    expect(shares.get('b')! / shares.get('a')!).toBeCloseTo(3, 12);
    expect(shares.get('c')).toBeCloseTo(0.5, 12);
    expect(shares.has('asleep')).toBe(false);
  });

  it('is empty without demand', () => {
    expect(fairShares([{ name: 'a', weight: 1 }], new Set())).toEqual(new Map());
  });
});

type Bucket = Parameters<typeof decayedUsage>[0][number];

describe('decayedUsage', () => {
  const now = at(0);
  const ago = (s: number) => new Date(now.getTime() - s * 1000);
  const H = 3600;

  it.each([
    { why: 'one half-life old counts half', midAgo: H, weight: 0.5 },
    { why: 'two half-lives old counts a quarter', midAgo: 2 * H, weight: 0.25 },
    { why: 'ending now counts by its middle', midAgo: 30, weight: 2 ** (-30 / H) },
    { why: 'in the future counts fully', midAgo: -600, weight: 1 },
  ])('a bucket $why', ({ midAgo, weight }) => {
    const bucket = { start: ago(midAgo + 30), lengthSeconds: 60, seconds: { [GPU]: 1000 } };
    expect(decayedUsage([bucket], now, H)[GPU]).toBeCloseTo(1000 * weight, 9);
  });

  it('sums buckets per resource', () => {
    const buckets: Bucket[] = [
      { start: ago(H + 30), lengthSeconds: 60, seconds: { [GPU]: 1000, cpu: 400 } },
      { start: ago(30), lengthSeconds: 60, seconds: { cpu: 100 } },
    ];
    const out = decayedUsage(buckets, now, H);
    expect(out[GPU]).toBeCloseTo(500, 9);
    expect(out['cpu']).toBeCloseTo(200 + 100, 9);
    expect(decayedUsage([], now, H)).toEqual({});
  });

  it('wants a positive half-life', () => {
    expect(() => decayedUsage([], now, 0)).toThrow(RangeError);
  });
});
