import fc from 'fast-check';
import { nodeCapacity } from './capacity';
import { buildResourceSpace, ClusterIndex, PreparedPodSet } from './cluster-index';
import { prepareGang } from './fit';
import { ClusterSnapshot } from './model';
import { MAX_QUANTITY_MILLI } from './quantity';

describe('nodeCapacity', () => {
  it('equals exact bigint arithmetic for small and huge amounts alike', () => {
    const amount = fc.oneof(
      fc.bigInt({ min: 0n, max: 10n ** 6n }),
      fc.bigInt({ min: 2n ** 51n, max: 2n ** 53n }),
      fc.bigInt({ min: 0n, max: MAX_QUANTITY_MILLI }),
    );
    fc.assert(
      fc.property(
        amount,
        amount,
        fc.bigInt({ min: 1n, max: 2n ** 60n }),
        fc.integer({ min: 1, max: 1000 }),
        (f1, f2, q, limit) => {
          const snapshot: ClusterSnapshot = {
            name: 'c',
            topologyLevels: [],
            nodes: [{ name: 'n', free: { a: f1, b: f2 }, allocatable: {} }],
          };
          const space = buildResourceSpace([snapshot]);
          const cx = new ClusterIndex(snapshot, space, 'c', { ok: true });
          const ps = prepareGang(
            { id: 'g', podSets: [{ name: 'p', count: 1, requests: { a: q, b: 1n } }] },
            space,
          ).podSets[0] as PreparedPodSet;
          const exact = [f1 / q, f2].reduce((m, x) => (x < m ? x : m), BigInt(limit));
          expect(nodeCapacity(cx, 0, ps, cx.all, limit)).toBe(Number(exact));
        },
      ),
      { numRuns: 500 },
    );
  });
});
