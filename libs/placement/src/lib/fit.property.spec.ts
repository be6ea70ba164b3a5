/**
 * The placement search against an exhaustive witness (../testing/witness) on small snapshots: a
 * few nodes, two or three pod sets of a few members. Fixed seed, so a run is repeatable and takes
 * a few seconds.
 */
import fc from 'fast-check';
import { buildResourceSpace, ClusterIndex } from './cluster-index';
import { placeGreedy, placeInCluster, prepareGang } from './fit';
import { fitGang } from './place';
import { arbCluster, arbGang, arbPolicy } from '../testing/arbitraries';
import { violations, witness } from '../testing/witness';

const SMALL = { seed: 20261203, numRuns: 3000 };
const arbSmall = fc.tuple(
  arbCluster('c', { maxNodes: 8 }),
  arbGang('g', true, { minPodSets: 2, maxCount: 4 }),
  arbPolicy,
);

describe('placement search', () => {
  it('places a gang whenever the witness finds a placement, and every placement keeps the rules', () => {
    fc.assert(
      fc.property(arbSmall, ([c, g, policy]) => {
        const d = fitGang(c, g, { policy });
        const nodes = d.status === 'placed' ? d.placement.podSets.map((p) => p.nodes) : undefined;
        if (nodes) expect(violations(c, g, nodes)).toEqual([]);
        const w = witness(c, g);
        if (w.status === 'feasible') {
          expect(violations(c, g, w.nodes)).toEqual([]);
          expect(d.status).toBe('placed');
        }
        if (w.status === 'infeasible') expect(d.status).not.toBe('placed');
      }),
      SMALL,
    );
  });

  it('returns the greedy placement whenever the greedy placement fits', () => {
    fc.assert(
      fc.property(arbSmall, ([c, g, policy]) => {
        const space = buildResourceSpace([c]);
        const pg = prepareGang(g, space);
        const greedy = placeGreedy(new ClusterIndex(c, space, c.name, { ok: true }), pg, policy);
        const found = placeInCluster(new ClusterIndex(c, space, c.name, { ok: true }), pg, policy);
        if (greedy.ok) expect(found).toEqual(greedy);
      }),
      { ...SMALL, numRuns: 1000 },
    );
  });
});
