/**
 * Test-only fast-check generators of random clusters and gangs, shared by the property specs and
 * the placement benches. Sizes are parameters; the defaults are those of placement.property.spec.
 */
import fc from 'fast-check';
import {
  ClusterSnapshot,
  Gang,
  NodeSelectorRequirement,
  NodeSnapshot,
  PodSet,
  RequiredNodeAffinity,
  Taint,
  Toleration,
} from '../lib/model';
import { PlacementPolicy } from '../lib/place';
import { BLOCK, GPU, HOST, RACK, ZONE } from './builders';

export const LEVELS = [ZONE, BLOCK, RACK, HOST];
export const FPGA = 'example.com/fpga'; // requested sometimes, offered by no node
/** One pod slot, in milli-units: every member takes one, as on a real node. */
export const POD = 1000n;

const TAINTS: Taint[] = [
  { key: 'gpu', value: 'true', effect: 'NoSchedule' },
  { key: 'dedicated', effect: 'NoExecute' },
  { key: 'soft', effect: 'PreferNoSchedule' },
];
const TOLERATIONS: Toleration[] = [
  { operator: 'Exists' },
  { key: 'gpu', operator: 'Equal', value: 'true' },
  { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' },
  { key: 'gpu', operator: 'Equal', value: 'false' },
];

/** `true` with probability p% (unbiased: fast-check otherwise favours small integers). */
const rare = (p: number) => fc.noBias(fc.integer({ min: 0, max: 99 })).map((x) => x < p);
/** `arb` with probability p%, else null. */
const maybe = <T>(p: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.tuple(rare(p), arb).map(([some, v]) => (some ? v : null));

const arbNodeFields = fc.record({
  gpu: fc.oneof(
    { weight: 1, arbitrary: fc.constant(-1) },
    { weight: 12, arbitrary: fc.noBias(fc.integer({ min: 0, max: 8 })) },
  ),
  cpu: fc.noBias(fc.integer({ min: 0, max: 32 })),
  // Free pod slots; often the binding limit, as for small pods on a real node (110 slots).
  pods: fc.oneof(
    { weight: 1, arbitrary: fc.constant(-1) },
    { weight: 12, arbitrary: fc.noBias(fc.integer({ min: 0, max: 6 })) },
  ),
  extra: fc.integer({ min: 0, max: 4 }),
  values: fc.tuple(
    fc.option(fc.constantFrom('z1', 'z2'), { freq: 10 }),
    fc.option(fc.constantFrom('b1', 'b2'), { freq: 10 }),
    fc.option(fc.constantFrom('r1', 'r2', 'r3'), { freq: 10 }),
    fc.option(fc.constant('host'), { freq: 10 }),
  ),
  pool: maybe(60, fc.constantFrom('x', 'y')),
  taints: maybe(20, fc.subarray(TAINTS, { minLength: 1, maxLength: 2 })).map((t) => t ?? []),
  unschedulable: rare(8),
  notReady: rare(8),
});

/** Sizes of generated clusters. */
export interface ClusterSizes {
  readonly maxNodes?: number;
}

export const arbCluster = (name: string, { maxNodes = 12 }: ClusterSizes = {}) =>
  fc
    .record({
      levels: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom([BLOCK, RACK, HOST], LEVELS) },
        { weight: 1, arbitrary: fc.subarray(LEVELS) },
      ),
      nodes: fc.array(arbNodeFields, { minLength: 0, maxLength: maxNodes, size: 'large' }),
      notReady: rare(8),
      cordoned: rare(8),
    })
    .map(({ levels, nodes, notReady, cordoned }): ClusterSnapshot => ({
      name,
      topologyLevels: levels,
      ...(notReady ? { ready: false } : {}),
      ...(cordoned ? { cordoned: true } : {}),
      nodes: nodes.map((f, i): NodeSnapshot => {
        const nodeName = `n${i}`;
        const labels: Record<string, string> = {};
        f.values.forEach((v, l) => {
          if (v !== null) labels[LEVELS[l]] = l === 3 ? nodeName : v;
        });
        if (f.pool) labels.pool = f.pool;
        if (i % 3 !== 2) labels.rank = String(i % 4);
        return {
          name: nodeName,
          labels,
          free: {
            [GPU]: BigInt(f.gpu) * 1000n,
            cpu: BigInt(f.cpu) * 500n,
            pods: BigInt(f.pods) * POD,
          },
          allocatable: {
            [GPU]: BigInt(Math.max(f.gpu, 0) + f.extra) * 1000n,
            cpu: BigInt(f.cpu + f.extra) * 500n,
            pods: BigInt(Math.max(f.pods, 0) + f.extra) * POD,
          },
          ...(f.taints.length ? { taints: f.taints } : {}),
          ...(f.unschedulable ? { unschedulable: true } : {}),
          ...(f.notReady ? { ready: false } : {}),
        };
      }),
    }));

export const arbClusters = fc
  .integer({ min: 1, max: 3 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbCluster(`c${i}`))));

export const arbLevel = fc.constantFrom(ZONE, BLOCK, BLOCK, RACK, RACK, HOST);

/** Requirements on the `pool` label, a zone and the node name, with every operator. */
const arbRequirement: fc.Arbitrary<{ field: boolean; r: NodeSelectorRequirement }> = fc.oneof(
  fc.record({
    field: fc.constant(false),
    r: fc.record({
      key: fc.constantFrom('pool', ZONE),
      operator: fc.constantFrom('In' as const, 'NotIn' as const),
      values: fc.subarray(['x', 'y', 'z1', 'z2'], { minLength: 1 }),
    }),
  }),
  fc.record({
    field: fc.constant(false),
    r: fc.record({
      key: fc.constantFrom('pool', ZONE),
      operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const),
    }),
  }),
  fc.record({
    field: fc.constant(false),
    r: fc.record({
      key: fc.constant('rank'),
      operator: fc.constantFrom('Gt' as const, 'Lt' as const),
      values: fc.integer({ min: -1, max: 4 }).map((v) => [String(v)]),
    }),
  }),
  fc.record({
    field: fc.constant(true),
    r: fc.record({
      key: fc.constant('metadata.name'),
      operator: fc.constantFrom('In' as const, 'NotIn' as const),
      values: fc.subarray(['n0', 'n1', 'n2', 'n3', 'n4'], { minLength: 1 }),
    }),
  }),
);

const arbAffinity: fc.Arbitrary<RequiredNodeAffinity> = fc
  .array(fc.array(arbRequirement, { minLength: 0, maxLength: 3 }), { minLength: 1, maxLength: 2 })
  .map((terms) => ({
    nodeSelectorTerms: terms.map((reqs) => {
      const exprs = reqs.filter((x) => !x.field).map((x) => x.r);
      const fields = reqs.filter((x) => x.field).map((x) => x.r);
      return {
        ...(exprs.length ? { matchExpressions: exprs } : {}),
        ...(fields.length ? { matchFields: fields } : {}),
      };
    }),
  }));

const arbPodSetFields = (maxCount: number) =>
  fc.record({
    count: fc.integer({ min: 0, max: maxCount }),
    gpu: fc.integer({ min: 0, max: 2 }),
    cpu: fc.integer({ min: 0, max: 3 }),
    fpga: rare(3),
    pool: maybe(20, fc.constantFrom('x', 'y')),
    toleration: maybe(30, fc.constantFrom(...TOLERATIONS)),
    affinity: maybe(25, arbAffinity),
    topology: maybe(
      50,
      fc.record({
        mode: fc.constantFrom('required' as const, 'preferred' as const),
        level: arbLevel,
      }),
    ),
  });

/** Sizes of generated gangs. */
export interface GangSizes {
  readonly minPodSets?: number;
  readonly maxPodSets?: number;
  readonly maxCount?: number;
}

export const arbGang = (
  id: string,
  allowGroup = true,
  { minPodSets = 1, maxPodSets = 3, maxCount = 6 }: GangSizes = {},
) =>
  fc
    .record({
      podSets: fc.array(arbPodSetFields(maxCount), {
        minLength: minPodSets,
        maxLength: maxPodSets,
      }),
      group: allowGroup
        ? maybe(
            30,
            fc.record({
              pick: fc.array(fc.boolean(), {
                minLength: Math.max(3, maxPodSets),
                maxLength: Math.max(3, maxPodSets),
              }),
              level: arbLevel,
            }),
          )
        : fc.constant(null),
    })
    .map(({ podSets, group }): Gang => {
      const sets: PodSet[] = podSets.map((f, i) => ({
        name: `p${i}`,
        count: i === 0 ? Math.max(1, f.count) : f.count,
        requests: {
          [GPU]: BigInt(f.gpu) * 1000n,
          cpu: BigInt(f.cpu) * 500n,
          pods: POD,
          ...(f.fpga ? { [FPGA]: 1000n } : {}),
        },
        ...(f.pool ? { nodeSelector: { pool: f.pool } } : {}),
        ...(f.affinity ? { nodeAffinity: f.affinity } : {}),
        ...(f.toleration ? { tolerations: [f.toleration] } : {}),
        ...(f.topology ? { topology: f.topology } : {}),
      }));
      if (!group) return { id, podSets: sets };
      const names = sets.filter((_, i) => group.pick[i]).map((p) => p.name);
      return {
        id,
        podSets: sets,
        colocation: { podSets: names.length ? names : ['p0'], level: group.level },
      };
    });

export const arbGangs = (max: number, allowGroup = true) =>
  fc
    .integer({ min: 1, max })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbGang(`g${i}`, allowGroup))));

export const arbPolicy = fc.constantFrom<PlacementPolicy>('pack', 'spread');
