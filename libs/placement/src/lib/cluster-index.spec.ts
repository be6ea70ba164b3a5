/** The capacity index's incremental bookkeeping must always equal a rebuild from scratch. */
import fc from 'fast-check';
import { buildResourceSpace, ClusterIndex, mayHold, PreparedPodSet, View } from './cluster-index';
import { prepareGang } from './fit';
import { ClusterSnapshot, NodeSnapshot } from './model';
import { MAX_QUANTITY_MILLI } from './quantity';
import { BLOCK, GPU, HOST, RACK } from '../testing/builders';

describe('mayHold (float prefilter)', () => {
  it('is never false when the exact comparison holds', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: MAX_QUANTITY_MILLI * 100_000n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (need, extra) => {
          const have = need + extra;
          expect(mayHold(Float64Array.of(Number(have)), [0], Float64Array.of(Number(need)))).toBe(
            true,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects clear shortfalls', () => {
    expect(mayHold(Float64Array.of(99), [0], Float64Array.of(100))).toBe(false);
  });
});

const arbCluster = fc
  .array(
    fc.record({
      gpu: fc.integer({ min: 0, max: 8 }),
      cpu: fc.integer({ min: 0, max: 16 }),
      block: fc.option(fc.constantFrom('b1', 'b2'), { freq: 8 }),
      rack: fc.option(fc.constantFrom('r1', 'r2'), { freq: 8 }),
      pool: fc.constantFrom('x', 'y'),
    }),
    { minLength: 1, maxLength: 12 },
  )
  .map((ns): ClusterSnapshot => ({
    name: 'c',
    topologyLevels: [BLOCK, RACK, HOST],
    nodes: ns.map((n, i): NodeSnapshot => ({
      name: `n${i}`,
      labels: {
        ...(n.block
          ? { [BLOCK]: n.block, ...(n.rack ? { [RACK]: n.rack, [HOST]: `n${i}` } : {}) }
          : {}),
        pool: n.pool,
      },
      free: { [GPU]: BigInt(n.gpu) * 1000n, cpu: BigInt(n.cpu) * 1000n },
      allocatable: { [GPU]: 8000n, cpu: 16000n },
    })),
  }));

function figures(cx: ClusterIndex, v: View) {
  return cx.domains.map((d) => ({
    path: d.path.join('/'),
    sum: cx.sumOf(v, d.id),
    max: cx.maxOf(v, d.id),
    below: Array.from({ length: cx.maxDepth + 1 }, (_, j) =>
      j > d.depth ? cx.maxBelowOf(v, d.id, j) : [],
    ),
    rootF: d.id === 0 ? v.rootF.map((a) => [...a]) : [],
  }));
}

describe('ClusterIndex', () => {
  it('keeps every view equal to a rebuild after any sequence of placements and rollbacks', () => {
    fc.assert(
      fc.property(
        arbCluster,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 }), fc.boolean()), {
          maxLength: 8,
        }),
        (snapshot, ops) => {
          const space = buildResourceSpace([snapshot]);
          const cx = new ClusterIndex(snapshot, space, 'c', { ok: true });
          const pg = prepareGang(
            {
              id: 'g',
              podSets: [
                { name: 'a', count: 1, requests: { [GPU]: 1000n, cpu: 1500n } },
                { name: 'b', count: 1, requests: { [GPU]: 1000n }, nodeSelector: { pool: 'x' } },
                { name: 'c', count: 1, requests: { [GPU]: 2000n } },
              ],
            },
            space,
          );
          const [psAll, psX, psGpu] = pg.podSets as [
            PreparedPodSet,
            PreparedPodSet,
            PreparedPodSet,
          ];
          const vx = cx.view(psX);
          const applied: Array<[Map<number, number>, boolean]> = [];
          for (const [pick, k, undo] of ops) {
            // Fill the capacity caches so that stale entries would show in the final comparison.
            for (const d of cx.domains) {
              cx.capacity(d.id, psAll, cx.all, 1 + (pick % 3));
              cx.capacity(d.id, psX, vx, 100);
            }
            if (undo && applied.length > 0) {
              const [counts] = applied.pop() as [Map<number, number>, boolean];
              cx.apply(counts, psAll.req, 1n);
              continue;
            }
            const nid = pick % cx.nodes.length;
            const fitsK = cx.nodeCapacity(nid, psAll, cx.all, k);
            if (fitsK === 0) continue;
            const counts = new Map([[nid, fitsK]]);
            cx.apply(counts, psAll.req, -1n);
            applied.push([counts, true]);
          }
          // Rebuild from the current free figures and compare every aggregate of both views.
          const now: ClusterSnapshot = {
            ...snapshot,
            nodes: snapshot.nodes.map((n) => {
              const i = cx.nodes.find((x) => x.name === n.name);
              if (!i) return n;
              return {
                ...n,
                free: {
                  [GPU]: i.free[space.index.get(GPU) as number],
                  cpu: i.free[space.index.get('cpu') as number],
                },
              };
            }),
          };
          const fresh = new ClusterIndex(now, space, 'c', { ok: true });
          expect(figures(cx, cx.all)).toEqual(figures(fresh, fresh.all));
          expect(figures(cx, vx)).toEqual(figures(fresh, fresh.view(psX)));
          // Cached capacities agree with a fresh walk.
          for (const d of cx.domains) {
            for (const limit of [1, 3, 100]) {
              expect(cx.capacity(d.id, psAll, cx.all, limit)).toBe(
                fresh.capacity(d.id, psAll, fresh.all, limit),
              );
              expect(cx.capacity(d.id, psX, vx, limit)).toBe(
                fresh.capacity(d.id, psX, fresh.view(psX), limit),
              );
              // The histogram bound never under-estimates, and is exact for one whole-unit resource.
              expect(cx.countBound(d.id, psAll, cx.all)).toBeGreaterThanOrEqual(
                fresh.capacity(d.id, psAll, fresh.all, 1000),
              );
              if (d.leafNode < 0 && cx.nodes.length > 0) {
                expect(cx.countBound(d.id, psGpu, cx.all)).toBe(
                  fresh.capacity(d.id, psGpu, fresh.all, 1000),
                );
              }
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
