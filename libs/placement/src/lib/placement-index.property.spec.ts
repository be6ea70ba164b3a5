import fc from 'fast-check';
import { ClusterSnapshot, NodeSnapshot } from './model';
import { placeBatch, PlacementIndex, placementStream } from './place';
import { arbClusters, arbGangs, arbPolicy, POD } from '../testing/arbitraries';
import { GPU, RACK } from '../testing/builders';

const NIC = 'example.com/nic';

/** One change between two snapshots, as a scheduler sees them from one cycle to the next. */
type Edit =
  | { kind: 'free'; at: number; gpu: number; cpu: number; pods: number }
  | { kind: 'label'; at: number; value: string }
  | { kind: 'notReady'; at: number }
  | { kind: 'remove'; at: number }
  | { kind: 'add'; at: number }
  | { kind: 'resource'; at: number }
  | { kind: 'clusterNotReady'; at: number }
  | { kind: 'dropCluster'; at: number };

const at = fc.nat({ max: 1_000 });
const arbEdit: fc.Arbitrary<Edit> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('free' as const),
      at,
      // Up to 12 GPUs: more than any node had free when its cluster was indexed.
      gpu: fc.integer({ min: 0, max: 12 }),
      cpu: fc.integer({ min: 0, max: 40 }),
      pods: fc.integer({ min: 0, max: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('label' as const),
      at,
      value: fc.constantFrom('r1', 'r9'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('notReady' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('add' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resource' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clusterNotReady' as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dropCluster' as const), at }) },
);

/** The snapshot after one edit; untouched clusters and nodes stay the same objects. */
function edit(clusters: readonly ClusterSnapshot[], e: Edit): ClusterSnapshot[] {
  if (clusters.length === 0) return [];
  const ci = e.at % clusters.length;
  const c = clusters[ci];
  const withNodes = (nodes: NodeSnapshot[]): ClusterSnapshot[] =>
    clusters.map((x, i) => (i === ci ? { ...c, nodes } : x));
  if (e.kind === 'dropCluster') return clusters.filter((_, i) => i !== ci);
  if (e.kind === 'clusterNotReady')
    return clusters.map((x, i) => (i === ci ? { ...c, ready: c.ready === false } : x));
  if (c.nodes.length === 0) return withNodes([]);
  const ni = Math.floor(e.at / clusters.length) % c.nodes.length;
  const n = c.nodes[ni];
  const replace = (m: NodeSnapshot | null): NodeSnapshot[] =>
    c.nodes.flatMap((x, i) => (i !== ni ? [x] : m ? [m] : []));
  switch (e.kind) {
    case 'free':
      return withNodes(
        replace({
          ...n,
          free: {
            ...n.free,
            [GPU]: BigInt(e.gpu) * 1000n,
            cpu: BigInt(e.cpu) * 500n,
            pods: BigInt(e.pods) * POD,
          },
        }),
      );
    case 'label':
      return withNodes(replace({ ...n, labels: { ...n.labels, [RACK]: e.value } }));
    case 'notReady':
      return withNodes(replace({ ...n, ready: n.ready === false }));
    case 'remove':
      return withNodes(replace(null));
    case 'add':
      return withNodes([...c.nodes, { ...n, name: `${n.name}-copy-${c.nodes.length}` }]);
    case 'resource':
      return withNodes(
        replace({
          ...n,
          free: { ...n.free, [NIC]: 1000n },
          allocatable: { ...n.allocatable, [NIC]: 1000n },
        }),
      );
  }
}

describe('a PlacementIndex kept from batch to batch', () => {
  it('decides every batch as an index built afresh from its snapshot would', () => {
    fc.assert(
      fc.property(
        arbClusters,
        fc.array(fc.array(arbEdit, { maxLength: 4 }), { minLength: 1, maxLength: 5 }),
        arbGangs(4),
        arbPolicy,
        (clusters, steps, gangs, policy) => {
          // The same gang objects each batch: what one batch places is deducted from the kept
          // index, and the next snapshot (often the very same node objects) must undo it.
          const index = new PlacementIndex();
          let snapshot: ClusterSnapshot[] = [...clusters];
          for (const edits of [[], [], ...steps]) {
            snapshot = edits.reduce(edit, snapshot);
            const kept = placeBatch(snapshot, gangs, { policy, index });
            expect(kept).toEqual(placeBatch(snapshot, gangs, { policy }));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  const node = (name: string, gpus: bigint, rack = 'r1'): NodeSnapshot => ({
    name,
    labels: { rack },
    allocatable: { [GPU]: 8000n, pods: 110_000n },
    free: { [GPU]: gpus * 1000n, pods: 110_000n },
  });
  const cluster = (name: string, nodes: NodeSnapshot[]): ClusterSnapshot => ({
    name,
    topologyLevels: ['rack'],
    nodes,
  });
  const gang = (id: string, gpus: bigint, count: number) => ({
    id,
    podSets: [{ name: 'w', count, requests: { [GPU]: gpus * 1000n, pods: POD } }],
  });

  it('keeps the index of a cluster whose nodes changed only in free capacity, and builds the others', () => {
    const index = new PlacementIndex();
    const a = [node('a1', 8n), node('a2', 2n)];
    const b = [node('b1', 8n)];
    placeBatch([cluster('a', a), cluster('b', b)], [], { index });
    expect(index.last).toEqual({ kept: 0, built: 2 });

    // a2 freed 6 GPUs; b1 got a new label: a is kept and updated, b is built anew.
    const next = [cluster('a', [a[0], node('a2', 8n)]), cluster('b', [node('b1', 8n, 'r2')])];
    const d = placeBatch(next, [gang('g', 8n, 2)], { index });
    expect(index.last).toEqual({ kept: 1, built: 1 });
    expect(d.decisions[0]).toMatchObject({ status: 'placed', placement: { cluster: 'a' } });

    // The same node objects again: what the last batch placed on a is given back, as in the
    // snapshot (the placement was never committed).
    const again = placeBatch(next, [gang('g', 8n, 2)], { index });
    expect(index.last).toEqual({ kept: 2, built: 0 });
    expect(again.decisions[0]).toMatchObject({ status: 'placed', placement: { cluster: 'a' } });
  });

  it('builds every cluster anew when the fleet reports a new resource name', () => {
    const index = new PlacementIndex();
    const a = cluster('a', [node('a1', 8n)]);
    placeBatch([a, cluster('b', [node('b1', 8n)])], [], { index });
    const nic = { ...node('b1', 8n), free: { ...node('b1', 8n).free, [NIC]: 1000n } };
    placeBatch([a, cluster('b', [nic])], [], { index });
    expect(index.last).toEqual({ kept: 0, built: 2 });
  });

  it('ends a stream still open on the index when a newer batch starts', () => {
    const index = new PlacementIndex();
    const snapshot = [cluster('a', [node('a1', 8n)])];
    const old = placementStream(snapshot, [gang('g1', 1n, 1), gang('g2', 1n, 1)], { index });
    expect(old.next().value).toMatchObject({ status: 'placed' });
    placeBatch(snapshot, [], { index });
    expect(() => old.next()).toThrow(/newer batch took over its PlacementIndex/);
  });
});
