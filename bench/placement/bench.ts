/**
 * Placement benchmark (a script that prints figures, not a test).
 *
 * For 1, 10 and 100 clusters of 100 and 1,000 nodes (topology block → rack → host; nodes with
 * 8 GPUs, 96 CPU, 1 TiB memory, some partly used, cordoned, not ready or tainted), places one
 * batch of mixed gangs (1–256 members; some with required rack/block topology, preferred rack,
 * leader+workers colocation or a node selector) and reports decisions per second, p50/p99/max
 * milliseconds per decision and the total batch time (index build included).
 *
 * Latencies are wall-clock (`performance.now()`); the `cpu` columns are the process CPU time
 * (`process.cpuUsage()`, includes GC threads) of the same decisions, which stays meaningful when
 * the machine is shared and busy.
 *
 * Each decision is timed individually through `placementStream`, which builds the index up front
 * and then decides one gang per `next()`.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  ClusterSnapshot,
  Gang,
  GangDecision,
  NodeSnapshot,
  PlacementPolicy,
  PodSet,
  placementStream,
} from '../../libs/placement/src/index';

const BLOCK = 'cloud.provider.com/topology-block';
const RACK = 'cloud.provider.com/topology-rack';
const HOST = 'kubernetes.io/hostname';
const GPU = 'nvidia.com/gpu';
const GI = 2n ** 30n * 1000n; // 1 GiB in milli-units
const TI = 1024n * GI;

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick') || process.env.BENCH_QUICK === '1';
const GANGS = Number(process.env.BENCH_GANGS ?? (QUICK ? 1_000 : 10_000));
const POLICY = (process.env.BENCH_POLICY ?? 'pack') as PlacementPolicy;
const SEED = Number(process.env.BENCH_SEED ?? 42);

/** Small deterministic PRNG (mulberry32) so runs are comparable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeCluster(name: string, nodeCount: number, rand: () => number): ClusterSnapshot {
  const [blocks, racksPerBlock] = nodeCount >= 1000 ? [4, 10] : [2, 5];
  const hostsPerRack = Math.ceil(nodeCount / (blocks * racksPerBlock));
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const rack = Math.floor(i / hostsPerRack);
    const block = Math.floor(rack / racksPerBlock);
    const nodeName = `${name}-n${String(i).padStart(4, '0')}`;
    // 60% of nodes empty, the rest with some GPUs (and proportional CPU/memory) in use.
    const usedGpus = rand() < 0.6 ? 0 : 1 + Math.floor(rand() * 8);
    const gpuFree = BigInt(8 - usedGpus);
    const x = rand();
    const tainted = x < 0.05;
    nodes.push({
      name: nodeName,
      labels: {
        [BLOCK]: `${name}-block-${block}`,
        [RACK]: `${name}-rack-${rack}`,
        [HOST]: nodeName,
        pool: tainted ? 'a' : 'b',
      },
      allocatable: { [GPU]: 8000n, cpu: 96_000n, memory: TI },
      free: { [GPU]: gpuFree * 1000n, cpu: gpuFree * 12_000n, memory: (gpuFree * TI) / 8n },
      ...(tainted
        ? { taints: [{ key: 'dedicated', value: 'infer', effect: 'NoSchedule' as const }] }
        : {}),
      ...(x > 0.98 ? { unschedulable: true } : {}),
      ...(x > 0.97 && x <= 0.98 ? { ready: false } : {}),
    });
  }
  return { name, topologyLevels: [BLOCK, RACK, HOST], nodes };
}

export function makeGang(id: string, rand: () => number): Gang {
  const r = rand();
  const members =
    r < 0.4
      ? 1 + Math.floor(rand() * 8)
      : r < 0.7
        ? 9 + Math.floor(rand() * 24)
        : r < 0.9
          ? 33 + Math.floor(rand() * 96)
          : 129 + Math.floor(rand() * 128);
  const g = [1, 2, 4, 8][Math.floor(rand() * 4)] as number;
  const requests = {
    [GPU]: BigInt(g) * 1000n,
    cpu: BigInt(g) * 12_000n,
    memory: BigInt(g) * 128n * GI,
  };
  const kind = rand();
  const workers: PodSet = { name: 'workers', count: members, requests };
  const totalGpus = members * g;
  if (kind < 0.3) {
    const level = totalGpus <= 128 ? RACK : BLOCK;
    return { id, podSets: [{ ...workers, topology: { mode: 'required', level } }] };
  }
  if (kind < 0.5)
    return { id, podSets: [{ ...workers, topology: { mode: 'preferred', level: RACK } }] };
  if (kind < 0.6) {
    const leader: PodSet = { name: 'leader', count: 1, requests: { cpu: 8000n, memory: 32n * GI } };
    return {
      id,
      podSets: [leader, { ...workers, topology: { mode: 'preferred', level: RACK } }],
      colocation: { podSets: ['leader', 'workers'], level: BLOCK },
    };
  }
  if (kind < 0.7) {
    return {
      id,
      podSets: [
        {
          ...workers,
          count: Math.min(members, 16),
          nodeSelector: { pool: 'a' },
          tolerations: [
            { key: 'dedicated', operator: 'Equal', value: 'infer', effect: 'NoSchedule' },
          ],
        },
      ],
    };
  }
  return { id, podSets: [workers] };
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

interface Row {
  clusters: number;
  nodes: number;
  gangs: number;
  placed: number;
  build: number;
  perSec: number;
  p50: number;
  p99: number;
  max: number;
  cpuP50: number;
  cpuP99: number;
  total: number;
}

function runOne(clusterCount: number, nodesPerCluster: number): Row {
  const rand = rng(SEED + clusterCount * 7919 + nodesPerCluster);
  const clusters = Array.from({ length: clusterCount }, (_, i) =>
    makeCluster(`c${String(i).padStart(3, '0')}`, nodesPerCluster, rand),
  );
  const grand = rng(SEED);
  const gangs = Array.from({ length: GANGS }, (_, i) => makeGang(`g${i}`, grand));

  const t0 = performance.now();
  const stream = placementStream(clusters, gangs, { policy: POLICY });
  const t1 = performance.now();
  const times = new Float64Array(GANGS);
  const cpu = new Float64Array(GANGS);
  let placed = 0;
  for (let i = 0; i < GANGS; i++) {
    const c = process.cpuUsage();
    const s = performance.now();
    const next = stream.next();
    times[i] = performance.now() - s;
    const used = process.cpuUsage(c);
    cpu[i] = (used.user + used.system) / 1000;
    const d = next.value as GangDecision;
    if (d.status === 'placed') placed++;
    if (process.env.BENCH_SLOW && times[i] > Number(process.env.BENCH_SLOW)) {
      const g = gangs[i] as Gang;
      console.log(
        `slow ${times[i].toFixed(1)}ms ${d.status} ${g.podSets.map((p) => `${p.name}×${p.count}${p.topology ? `(${p.topology.mode} ${p.topology.level.split('/').pop()})` : ''}${p.nodeSelector ? '(sel)' : ''}`).join(' ')} ${g.colocation ? 'coloc' : ''}`,
      );
    }
  }
  const t2 = performance.now();
  const decideMs = t2 - t1;
  times.sort();
  cpu.sort();
  return {
    clusters: clusterCount,
    nodes: nodesPerCluster,
    gangs: GANGS,
    placed,
    build: t1 - t0,
    perSec: (GANGS / decideMs) * 1000,
    p50: quantile(times, 0.5),
    p99: quantile(times, 0.99),
    max: times[times.length - 1] as number,
    cpuP50: quantile(cpu, 0.5),
    cpuP99: quantile(cpu, 0.99),
    total: t2 - t0,
  };
}

function main(): void {
  console.log(
    `placement benchmark: ${GANGS} gangs per batch, policy ${POLICY}, seed ${SEED}${QUICK ? ' (quick)' : ''}, ` +
      `node ${process.version} ${process.execArgv.join(' ')}, load average ${loadavg()[0].toFixed(1)}`,
  );
  const header = [
    'clusters',
    'nodes/cluster',
    'total nodes',
    'placed',
    'index build ms',
    'decisions/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    'cpu p50 ms',
    'cpu p99 ms',
    'batch total s',
  ];
  const rows: string[][] = [];
  // BENCH_ONLY=100x1000 runs a single configuration (for profiling).
  const only = process.env.BENCH_ONLY;
  for (const nodes of [100, 1000]) {
    for (const clusters of [1, 10, 100]) {
      if (only && only !== `${clusters}x${nodes}`) continue;
      const r = runOne(clusters, nodes);
      rows.push([
        String(r.clusters),
        String(r.nodes),
        String(r.clusters * r.nodes),
        `${r.placed}/${r.gangs}`,
        r.build.toFixed(0),
        r.perSec.toFixed(0),
        r.p50.toFixed(3),
        r.p99.toFixed(3),
        r.max.toFixed(2),
        r.cpuP50.toFixed(3),
        r.cpuP99.toFixed(3),
        (r.total / 1000).toFixed(2),
      ]);
      // Print as we go: the large configurations take a while.
      console.log(`  done ${clusters} × ${nodes}`);
    }
  }
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padStart(widths[i] as number)).join(' | ')} |`;
  console.log('');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`load average at the end: ${loadavg()[0].toFixed(1)}`);
}

if (require.main === module) main();
