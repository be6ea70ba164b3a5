/**
 * Placement over many cycles with a kept index (a script that prints figures, not a test).
 *
 * A scheduler places its queue every cycle against a snapshot that changed a little since the
 * last one: the gangs it placed now hold their nodes, gangs that finished gave theirs back, and
 * agents reported small changes on a few nodes. This runs such cycles against 10 and 100
 * clusters of 1,000 nodes (the fleet of bench.ts) with a queue of 1–256-member gangs, offering
 * up to BENCH_CYCLE_GANGS queued gangs per cycle, for both policies. Per cycle it times bringing
 * the kept index (`PlacementIndex`) up to the new snapshot, and beside it, in the same run, the
 * raw cost the kept index saves: building the index afresh from the same snapshot. It prints
 * per-decision latency with the kept index (p50 / p99 / max) and the per-decision figure with
 * each cycle's update shared out over its decisions.
 *
 * Snapshots change as the hub's do: `applyPlacement` for what a cycle placed (new node objects
 * for the nodes it used, the others shared), the same in reverse for gangs that finish after
 * BENCH_RUN_CYCLES cycles, and BENCH_NOISE nodes per cycle whose free GPUs move by one.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  applyPlacement,
  ClusterSnapshot,
  Gang,
  GangDecision,
  NodeSnapshot,
  Placement,
  PlacementIndex,
  PlacementPolicy,
  placementStream,
  PreparedGangs,
} from '../../libs/placement/src/index';
import { makeCluster, makeGang, rng } from './bench';
import { fig, pct, positiveInteger } from '../support/figures';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const CYCLES = positiveInteger('BENCH_CYCLES', process.env.BENCH_CYCLES, QUICK ? 6 : 20);
const CYCLE_GANGS = positiveInteger('BENCH_CYCLE_GANGS', process.env.BENCH_CYCLE_GANGS, 1000);
const RUN_CYCLES = positiveInteger('BENCH_RUN_CYCLES', process.env.BENCH_RUN_CYCLES, 3);
const NOISE = positiveInteger('BENCH_NOISE', process.env.BENCH_NOISE, 100);
const SEED = Number(process.env.BENCH_SEED ?? 42);
const GPU = 'nvidia.com/gpu';

interface Running {
  readonly gang: Gang;
  readonly placement: Placement;
  readonly until: number;
}

/** The snapshot with a finished gang's requests given back to its nodes (new objects for those). */
function release(clusters: ClusterSnapshot[], r: Running): ClusterSnapshot[] {
  const back = new Map<string, Map<string, bigint>>();
  for (const psp of r.placement.podSets) {
    const requests = r.gang.podSets.find((p) => p.name === psp.podSet)!.requests;
    for (const node of psp.nodes) {
      const acc = back.get(node) ?? new Map<string, bigint>();
      for (const [k, v] of Object.entries(requests)) acc.set(k, (acc.get(k) ?? 0n) + v);
      back.set(node, acc);
    }
  }
  return clusters.map((c) =>
    c.name !== r.placement.cluster
      ? c
      : {
          ...c,
          nodes: c.nodes.map((n): NodeSnapshot => {
            const add = back.get(n.name);
            if (!add) return n;
            const free = { ...n.free };
            for (const [k, v] of add) free[k] = (free[k] ?? 0n) + v;
            return { ...n, free };
          }),
        },
  );
}

/**
 * Work Muster did not place, coming and going: the GPUs taken from `NOISE` random nodes in the
 * last cycle come back, and `NOISE` other nodes each lose one.
 */
function noise(
  clusters: ClusterSnapshot[],
  taken: Array<{ cluster: number; node: string }>,
  rand: () => number,
): { clusters: ClusterSnapshot[]; taken: Array<{ cluster: number; node: string }> } {
  const out = clusters.map((c) => ({ ...c, nodes: [...c.nodes] }));
  const move = (ci: number, j: number, by: bigint): void => {
    const n = out[ci]!.nodes[j]!;
    out[ci]!.nodes[j] = { ...n, free: { ...n.free, [GPU]: (n.free[GPU] ?? 0n) + by } };
  };
  for (const t of taken) {
    const j = out[t.cluster]!.nodes.findIndex((n) => n.name === t.node);
    if (j >= 0) move(t.cluster, j, 1000n);
  }
  const next: Array<{ cluster: number; node: string }> = [];
  for (let i = 0; i < NOISE; i++) {
    const ci = Math.floor(rand() * out.length);
    const j = Math.floor(rand() * out[ci]!.nodes.length);
    const n = out[ci]!.nodes[j]!;
    if ((n.free[GPU] ?? 0n) < 1000n) continue;
    move(ci, j, -1000n);
    next.push({ cluster: ci, node: n.name });
  }
  return { clusters: out, taken: next };
}

interface Row {
  readonly policy: PlacementPolicy;
  readonly clusters: number;
  readonly placed: number;
  readonly update: number[];
  readonly rebuild: number[];
  readonly kept: number;
  readonly built: number;
  readonly times: number[];
  readonly shared: number[];
}

function runCycles(policy: PlacementPolicy, clusterCount: number): Row {
  const rand = rng(SEED + clusterCount);
  let snapshot = Array.from({ length: clusterCount }, (_, i) =>
    makeCluster(`c${String(i).padStart(3, '0')}`, 1000, rand),
  );
  const grand = rng(SEED);
  let queue: Gang[] = Array.from({ length: CYCLES * CYCLE_GANGS }, (_, i) =>
    makeGang(`g${i}`, grand),
  );
  const index = new PlacementIndex();
  // As a scheduler keeps them (and so out of both timings): each gang checked once.
  const prepared = new PreparedGangs();
  let running: Running[] = [];
  let taken: Array<{ cluster: number; node: string }> = [];
  const update: number[] = [];
  const rebuild: number[] = [];
  const times: number[] = [];
  const shared: number[] = [];
  let placed = 0;
  let kept = 0;
  let built = 0;
  for (let cycle = 0; cycle < CYCLES + 1; cycle++) {
    for (const r of running.filter((x) => x.until <= cycle)) snapshot = release(snapshot, r);
    running = running.filter((x) => x.until > cycle);
    ({ clusters: snapshot, taken } = noise(snapshot, taken, rand));
    const offered = queue.slice(0, CYCLE_GANGS);

    // The raw cost a kept index saves: building it afresh from this snapshot (same run).
    const f = performance.now();
    placementStream(snapshot, offered, { policy, prepared });
    const rebuildMs = performance.now() - f;

    const u = performance.now();
    const stream = placementStream(snapshot, offered, { policy, prepared, index });
    const updateMs = performance.now() - u;
    // Cycle 0 builds the index: it is the start, not an update.
    if (cycle > 0) {
      update.push(updateMs);
      rebuild.push(rebuildMs);
      kept += index.last.kept;
      built += index.last.built;
    }
    const cycleTimes: number[] = [];
    const placedNow = new Set<string>();
    for (const gang of offered) {
      const s = performance.now();
      const d = stream.next().value as GangDecision;
      cycleTimes.push(performance.now() - s);
      if (d.status !== 'placed') continue;
      placedNow.add(gang.id);
      const next = applyPlacement(snapshot, gang, d.placement);
      if (!next.ok) throw new Error(`placement does not apply: ${next.error.message}`);
      snapshot = next.value;
      running.push({ gang, placement: d.placement, until: cycle + RUN_CYCLES });
    }
    queue = queue.filter((g) => !placedNow.has(g.id));
    if (cycle > 0) {
      placed += placedNow.size;
      times.push(...cycleTimes);
      const share = updateMs / Math.max(1, cycleTimes.length);
      shared.push(...cycleTimes.map((t) => t + share));
    }
  }
  return { policy, clusters: clusterCount, placed, update, rebuild, kept, built, times, shared };
}

function main(): void {
  console.log(
    `placement over cycles with a kept index: ${CYCLES} cycles of up to ${CYCLE_GANGS} gangs, ` +
      `gangs run ${RUN_CYCLES} cycles, ${NOISE} nodes change per cycle, seed ${SEED}` +
      `${QUICK ? ' (quick)' : ''}, node ${process.version}, load average ${loadavg()[0].toFixed(1)}`,
  );
  const header = [
    'policy',
    'clusters × nodes',
    'decisions',
    'placed',
    'clusters kept / built',
    'index update p50 / p99 ms',
    'rebuild (raw) p50 / p99 ms',
    'decision p50 / p99 / max ms',
    'with update share p99 ms',
  ];
  const rows: string[][] = [];
  for (const clusters of QUICK ? [10] : [10, 100]) {
    for (const policy of ['pack', 'spread'] as const) {
      const r = runCycles(policy, clusters);
      const sort = (xs: number[]) => [...xs].sort((a, b) => a - b);
      const [u, b, t, s] = [sort(r.update), sort(r.rebuild), sort(r.times), sort(r.shared)];
      rows.push([
        policy,
        `${clusters} × 1,000`,
        String(r.times.length),
        String(r.placed),
        `${r.kept} / ${r.built}`,
        `${fig(pct(u, 50))} / ${fig(pct(u, 99))}`,
        `${fig(pct(b, 50), 0)} / ${fig(pct(b, 99), 0)}`,
        `${fig(pct(t, 50), 3)} / ${fig(pct(t, 99), 3)} / ${fig(t[t.length - 1] ?? NaN, 1)}`,
        fig(pct(s, 99), 3),
      ]);
      console.log(`  done ${policy} ${clusters} × 1,000`);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`load average at the end: ${loadavg()[0].toFixed(1)}`);
}

main();
