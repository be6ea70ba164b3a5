/**
 * Placement misses (a script that prints figures, not a test): over random one-cluster snapshots
 * and gangs (the generators of placement.property.spec), how often `fitGang` says "does not fit"
 * while the exhaustive witness of libs/placement/src/testing/witness.ts finds a placement. Also
 * checks every placement `fitGang` makes against the rules.
 *
 * Knobs: MISSES_RUNS=<n> (default 20,000), MISSES_SEED=<n> (default 42), MISSES_SHOW=<n> (print
 * the first n misses as JSON), MISSES_BUDGET=<steps> (witness steps per case, default 1,000,000),
 * MISSES_NODES, MISSES_COUNT, MISSES_POD_SETS (most nodes, most members per pod set, fewest pod
 * sets; defaults 12, 6 and 1, as in placement.property.spec).
 */
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { fitGang } from '../../libs/placement/src/index';
import { arbCluster, arbGang, arbPolicy } from '../../libs/placement/src/testing/arbitraries';
import { violations, witness } from '../../libs/placement/src/testing/witness';

const RUNS = Number(process.env.MISSES_RUNS ?? 20_000);
const SEED = Number(process.env.MISSES_SEED ?? 42);
const SHOW = Number(process.env.MISSES_SHOW ?? 0);
const BUDGET = Number(process.env.MISSES_BUDGET ?? 1_000_000);
const NODES = Number(process.env.MISSES_NODES ?? 12);
const COUNT = Number(process.env.MISSES_COUNT ?? 6);
const POD_SETS = Number(process.env.MISSES_POD_SETS ?? 1);

const dump = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));

function main(): void {
  const arb = fc.tuple(
    arbCluster('c', { maxNodes: NODES }),
    arbGang('g', true, { minPodSets: POD_SETS, maxCount: COUNT }),
    arbPolicy,
  );
  const cases = fc.sample(arb, {
    seed: SEED,
    numRuns: RUNS,
  });
  let multi = 0;
  let feasible = 0;
  let unknown = 0;
  let misses = 0;
  let invalid = 0;
  let placedInfeasible = 0;
  let placeMs = 0;
  const t0 = performance.now();
  for (const [c, g, policy] of cases) {
    const s = performance.now();
    const d = fitGang(c, g, { policy });
    placeMs += performance.now() - s;
    if (d.status === 'placed') {
      const nodes = d.placement.podSets.map((p) => p.nodes);
      const bad = violations(c, g, nodes);
      if (bad.length > 0) {
        invalid++;
        console.log(`invalid placement (${bad.join('; ')}): ${dump({ c, g, policy })}`);
      }
    }
    if (g.podSets.filter((p) => p.count > 0).length < 2) continue;
    multi++;
    const w = witness(c, g, BUDGET);
    if (w.status === 'unknown') {
      unknown++;
      continue;
    }
    if (w.status === 'infeasible') {
      if (d.status === 'placed') placedInfeasible++;
      continue;
    }
    feasible++;
    if (d.status !== 'placed') {
      misses++;
      if (misses <= SHOW)
        console.log(`miss ${misses}: ${dump({ policy, c, g, witness: w.nodes })}`);
    }
  }
  console.log(
    `${RUNS} snapshots (seed ${SEED}), ${multi} gangs with two or more non-empty pod sets: ` +
      `${feasible} feasible by the witness, ${misses} of them missed by fitGang; ` +
      `${unknown} undecided within ${BUDGET} witness steps; ` +
      `${invalid} invalid placements; ${placedInfeasible} placed where the witness found none. ` +
      `fitGang ${placeMs.toFixed(0)} ms in all, run ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

main();
