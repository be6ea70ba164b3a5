/**
 * Cost of the placement search (a script that prints figures, not a test): milliseconds per
 * decision for 256-member gangs on 1,000-node clusters (those of bench.ts), one case the greedy
 * placement fits and several where its pod sets conflict, with and without a placement to find.
 * Each case is decided BENCH_REPS times (default 20), each time on a fresh index (built outside
 * the timing); median and max wall-clock and the median process CPU time are printed.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  ClusterSnapshot,
  Gang,
  GangDecision,
  PlacementPolicy,
  PodSet,
  placeGang,
  placementStream,
} from '../../libs/placement/src/index';
import { makeCluster, rng } from './bench';

const BLOCK = 'cloud.provider.com/topology-block';
const RACK = 'cloud.provider.com/topology-rack';
const GPU = 'nvidia.com/gpu';
const GI = 2n ** 30n * 1000n;
const REPS = Number(process.env.BENCH_REPS ?? 20);
const POLICY = (process.env.BENCH_POLICY ?? 'pack') as PlacementPolicy;

const member = (gpus: number) => ({
  [GPU]: BigInt(gpus) * 1000n,
  cpu: BigInt(gpus) * 12_000n,
  memory: BigInt(gpus) * 128n * GI,
  pods: 1000n,
});
const inBlock = (block: string): Pick<PodSet, 'nodeAffinity'> => ({
  nodeAffinity: {
    nodeSelectorTerms: [{ matchExpressions: [{ key: BLOCK, operator: 'In', values: [block] }] }],
  },
});

function withPods(c: ClusterSnapshot): ClusterSnapshot {
  return {
    ...c,
    nodes: c.nodes.map((n) => ({
      ...n,
      free: { ...n.free, pods: 110_000n },
      allocatable: { ...n.allocatable, pods: 110_000n },
    })),
  };
}

interface Case {
  readonly name: string;
  readonly clusters: readonly ClusterSnapshot[];
  readonly gang: Gang;
}

function cases(): Case[] {
  const rand = rng(42);
  const one = [withPods(makeCluster('c000', 1000, rand))];
  const ten = [
    one[0],
    ...Array.from({ length: 9 }, (_, i) => withPods(makeCluster(`c00${i + 1}`, 1000, rand))),
  ];
  // The block the greedy placement gives 128 whole-node workers colocated in one block.
  const workers: PodSet = { name: 'workers', count: 128, requests: member(8) };
  const coloc = { podSets: ['workers'], level: BLOCK };
  const probe = placeGang(one, { id: 'probe', podSets: [workers], colocation: coloc });
  if (probe.status !== 'placed' || !probe.placement.podSets[0].domain)
    throw new Error('probe gang not placed in a block');
  const block = probe.placement.podSets[0].domain.value;
  const io: PodSet = {
    name: 'io',
    count: 128,
    requests: member(8),
    topology: { mode: 'required', level: BLOCK },
    ...inBlock(block),
  };
  // The same block in every cluster of `ten` (block names start with the cluster's).
  const suffix = block.slice('c000'.length);
  const everyBlock: Pick<PodSet, 'nodeAffinity'> = {
    nodeAffinity: {
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: BLOCK, operator: 'In', values: ten.map((c) => `${c.name}${suffix}`) },
          ],
        },
      ],
    },
  };
  return [
    {
      name: 'fits greedily: leader + 255 workers (1 GPU, preferred rack), colocated in a block',
      clusters: one,
      gang: {
        id: 'a',
        podSets: [
          { name: 'leader', count: 1, requests: { cpu: 8000n, memory: 32n * GI, pods: 1000n } },
          {
            name: 'workers',
            count: 255,
            requests: member(1),
            topology: { mode: 'preferred', level: RACK },
          },
        ],
        colocation: { podSets: ['leader', 'workers'], level: BLOCK },
      },
    },
    {
      name: `conflict, fits: 128 colocated workers take block ${block}, the only one 128 io members may use`,
      clusters: one,
      gang: { id: 'b', podSets: [workers, io], colocation: coloc },
    },
    {
      name: `conflict, no fit: the same with the workers also kept to block ${block}`,
      clusters: one,
      gang: { id: 'c', podSets: [{ ...workers, ...inBlock(block) }, io], colocation: coloc },
    },
    {
      name: `conflict, no fit: three pod sets of 86 whole-node members kept to block ${block}`,
      clusters: one,
      gang: {
        id: 'd',
        podSets: ['x', 'y', 'z'].map((name) => ({
          name,
          count: 86,
          requests: member(8),
          ...inBlock(block),
        })),
      },
    },
    {
      name: 'conflict, no fit, 10 clusters: every cluster has the blocks of the case before',
      clusters: ten,
      gang: {
        id: 'e',
        podSets: ['x', 'y', 'z'].map((name) => ({
          name,
          count: 86,
          requests: member(8),
          ...everyBlock,
        })),
      },
    },
  ];
}

function main(): void {
  console.log(
    `placement search benchmark: ${REPS} decisions per case, policy ${POLICY}, node ${process.version}, ` +
      `load average ${loadavg()[0].toFixed(1)}`,
  );
  for (const c of cases()) {
    const wall: number[] = [];
    const cpu: number[] = [];
    let status = '';
    for (let i = 0; i < REPS; i++) {
      const stream = placementStream(c.clusters, [c.gang], { policy: POLICY, explain: false });
      const u = process.cpuUsage();
      const s = performance.now();
      const d = stream.next().value as GangDecision;
      wall.push(performance.now() - s);
      const used = process.cpuUsage(u);
      cpu.push((used.user + used.system) / 1000);
      status = d.status;
    }
    wall.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    const med = (xs: number[]) => xs[Math.floor(xs.length / 2)];
    console.log(
      `${status.padEnd(8)} p50 ${med(wall).toFixed(2).padStart(8)} ms  max ${wall[wall.length - 1].toFixed(2).padStart(8)} ms  cpu p50 ${med(cpu).toFixed(2).padStart(8)} ms  ${c.name}`,
    );
  }
  console.log(`load average at the end: ${loadavg()[0].toFixed(1)}`);
}

main();
