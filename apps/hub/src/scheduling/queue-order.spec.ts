import fc from 'fast-check';
import { orderForCycle, type Orderable } from './queue-order';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

describe('orderForCycle', () => {
  it('orders by priority, then age, within a queue', () => {
    const gangs: Orderable[] = [
      { id: 'a', queue: 'q', priority: 0, createdAt: at(1) },
      { id: 'b', queue: 'q', priority: 5, createdAt: at(3) },
      { id: 'c', queue: 'q', priority: 0, createdAt: at(0) },
    ];
    expect(orderForCycle(gangs, new Map()).map((g) => g.id)).toEqual(['b', 'c', 'a']);
  });

  it('interleaves queues by weight so a busy queue cannot starve another', () => {
    const gangs: Orderable[] = [
      ...[0, 1, 2, 3, 4, 5].map((i) => ({
        id: `big${i}`,
        queue: 'big',
        priority: 0,
        createdAt: at(i),
      })),
      ...[0, 1].map((i) => ({
        id: `small${i}`,
        queue: 'small',
        priority: 0,
        createdAt: at(10 + i),
      })),
    ];
    expect(orderForCycle(gangs, new Map([['big', 2]])).map((g) => g.id)).toEqual([
      'big0',
      'big1',
      'small0',
      'big2',
      'big3',
      'small1',
      'big4',
      'big5',
    ]);
  });

  it('is a deterministic permutation of its input', () => {
    const gang = fc.record({
      id: fc.uuid(),
      queue: fc.constantFrom('a', 'b', 'c'),
      priority: fc.integer({ min: -3, max: 3 }),
      createdAt: fc.integer({ min: 0, max: 50 }).map(at),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(gang, { selector: (g) => g.id, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        (gangs, w) => {
          const weights = new Map([['a', w]]);
          const once = orderForCycle(gangs, weights);
          expect(once.map((g) => g.id).sort()).toEqual(gangs.map((g) => g.id).sort());
          expect(orderForCycle([...gangs].reverse(), weights)).toEqual(once);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives every queue its weighted turns in every prefix, each queue in priority-then-age order', () => {
    const gang = fc.record({
      id: fc.uuid(),
      queue: fc.constantFrom('a', 'b', 'c', 'd'),
      priority: fc.integer({ min: -2, max: 2 }),
      createdAt: fc.integer({ min: 0, max: 50 }).map(at),
    });
    const weightsArb = fc.record({
      a: fc.integer({ min: 1, max: 4 }),
      b: fc.integer({ min: 1, max: 4 }),
      c: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(gang, { selector: (g) => g.id, maxLength: 60 }),
        weightsArb,
        (gangs, w) => {
          const weights = new Map(Object.entries(w));
          const weight = (q: string) => weights.get(q) ?? 1;
          const out = orderForCycle(gangs, weights);
          const total = new Map<string, number>();
          for (const g of gangs) total.set(g.queue, (total.get(g.queue) ?? 0) + 1);
          const taken = new Map<string, number>();
          const last = new Map<string, Orderable>();
          for (const g of out) {
            taken.set(g.queue, (taken.get(g.queue) ?? 0) + 1);
            // Within its queue: never before a gang of higher priority, or of equal one but older.
            const prev = last.get(g.queue);
            if (prev)
              expect(
                prev.priority > g.priority ||
                  (prev.priority === g.priority && prev.createdAt <= g.createdAt),
              ).toBe(true);
            last.set(g.queue, g);
            // Across queues: two queues that both still have gangs waiting are never more than
            // one round apart, a round being each queue's weight in turns.
            const waiting = [...total].filter(([q, n]) => (taken.get(q) ?? 0) < n).map(([q]) => q);
            for (const x of waiting)
              for (const y of waiting)
                expect((taken.get(x) ?? 0) / weight(x)).toBeLessThanOrEqual(
                  (taken.get(y) ?? 0) / weight(y) + 1,
                );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
