import { ClusterSnapshot, Gang } from './model';
import {
  applyPlacement,
  fitGang,
  formatDecision,
  GangDecision,
  placeBatch,
  placeGang,
  placementStream,
} from './place';
import { cluster, gang, GPU, node, podSet, RACK, topoCluster } from '../testing/builders';

const one8 = (id = 'g') => gang(id, [podSet('w', 1, { [GPU]: 8 })]);
const clusterOf = (d: GangDecision) => (d.status === 'placed' ? d.placement.cluster : d.status);

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}
const dump = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));

describe('pack vs spread across clusters', () => {
  const small = cluster('small', [node('s1'), node('s2')]); // 16 GPUs free
  const big = cluster(
    'big',
    Array.from({ length: 10 }, (_, i) => node(`b${i}`)),
  ); // 80 free

  it('pack prefers the tightest cluster, keeping the big one whole', () => {
    expect(clusterOf(placeGang([big, small], one8(), { policy: 'pack' }))).toBe('small');
    expect(clusterOf(placeGang([big, small], one8()))).toBe('small'); // pack is the default
  });

  it('spread prefers the emptiest cluster', () => {
    expect(clusterOf(placeGang([big, small], one8(), { policy: 'spread' }))).toBe('big');
  });

  it('spread measures emptiness as a fraction of allocatable', () => {
    // half-used large cluster (400 of 800 free) vs small empty one (16 of 16 free)
    const halfUsed = cluster(
      'half',
      Array.from({ length: 100 }, (_, i) =>
        node(`h${i}`, { free: { [GPU]: 4 }, allocatable: { [GPU]: 8 } }),
      ),
    );
    expect(clusterOf(placeGang([halfUsed, small], one8(), { policy: 'spread' }))).toBe('small');
    expect(
      clusterOf(
        placeGang([halfUsed, small], gang('g', [podSet('w', 1, { [GPU]: 4 })]), { policy: 'pack' }),
      ),
    ).toBe('small');
  });

  it('breaks ties by cluster name, whatever the input order', () => {
    const a = cluster('a', [node('n1')]);
    const b = cluster('b', [node('n1')]);
    for (const policy of ['pack', 'spread'] as const) {
      expect(clusterOf(placeGang([b, a], one8(), { policy }))).toBe('a');
      expect(clusterOf(placeGang([a, b], one8(), { policy }))).toBe('a');
    }
  });

  it('applies the policy to domains inside the cluster too', () => {
    // rack-0a 8 free, rack-0b 16, rack-0c 32
    const c = topoCluster('c', [[[8], [8, 8], [8, 8, 8, 8]]]);
    const g = gang('g', [
      podSet('w', 2, { [GPU]: 4 }, { topology: { mode: 'required', level: RACK } }),
    ]);
    const rackOf = (d: GangDecision) =>
      d.status === 'placed' ? d.placement.podSets[0].domain?.value : undefined;
    expect(rackOf(placeGang([c], g, { policy: 'pack' }))).toBe('rack-0a');
    expect(rackOf(placeGang([c], g, { policy: 'spread' }))).toBe('rack-0c');
  });

  it('spread still packs members when splitting is not needed (one node per pair when it fits)', () => {
    const c = cluster('c', [node('n1'), node('n2', { free: { [GPU]: 4 } })]);
    const d = placeGang([c], gang('g', [podSet('w', 2, { [GPU]: 2 })]), { policy: 'spread' });
    expect(d.status === 'placed' && d.placement.podSets[0].nodes).toEqual(['n1', 'n1']);
  });
});

describe('placeBatch', () => {
  it('deducts each placement before the next gang (no double booking)', () => {
    const c = cluster('c', [node('n1'), node('n2')]);
    const r = placeBatch([c], [one8('g1'), one8('g2'), one8('g3')]);
    expect(r.decisions.map(clusterOf)).toEqual(['c', 'c', 'unplaced']);
    const used = r.decisions.flatMap((d) =>
      d.status === 'placed' ? d.placement.podSets[0].nodes : [],
    );
    expect([...used].sort()).toEqual(['n1', 'n2']);
    expect(r.decisions[2].status === 'unplaced' && r.decisions[2].explanations[0].message).toBe(
      'cluster has 0 nvidia.com/gpu free, gang needs 8',
    );
    expect([r.placed, r.unplaced, r.invalid]).toEqual([2, 1, 0]);
  });

  it('lets later gangs use capacity a failed gang did not take', () => {
    const c = cluster('c', [node('n1'), node('n2')]);
    const tooBig = gang('big', [podSet('a', 1, { [GPU]: 8 }), podSet('b', 1, { [GPU]: 16 })]);
    const r = placeBatch([c], [tooBig, gang('fits', [podSet('w', 2, { [GPU]: 8 })])]);
    expect(r.decisions.map(clusterOf)).toEqual(['unplaced', 'c']);
  });

  it('does not modify the caller snapshot', () => {
    const clusters = deepFreeze([topoCluster('a', [[[8, 8], [8]]]), topoCluster('b', [[[8]]])]);
    const gangs = deepFreeze([one8('g1'), one8('g2'), gang('g3', [podSet('w', 2, { [GPU]: 8 })])]);
    const before = dump(clusters);
    const r = placeBatch(clusters, gangs);
    expect(r.placed).toBe(3);
    expect(dump(clusters)).toBe(before);
  });

  it('is deterministic and independent of cluster and node order', () => {
    const a = topoCluster('a', [
      [
        [8, 4],
        [2, 8],
      ],
      [[8]],
    ]);
    const b = topoCluster('b', [[[8, 8, 8]]]);
    const gangs = [
      one8('g1'),
      gang('g2', [podSet('w', 3, { [GPU]: 2 })]),
      one8('g3'),
      one8('g4'),
      one8('g5'),
    ];
    const r1 = placeBatch([a, b], gangs);
    const reversed = [b, a].map((c) => ({ ...c, nodes: [...c.nodes].reverse() }));
    expect(placeBatch(reversed, gangs)).toEqual(r1);
    expect(placeBatch([a, b], gangs)).toEqual(r1);
  });

  it('equals placing one gang at a time and applying each placement', () => {
    let snapshot: ClusterSnapshot[] = [
      topoCluster('a', [
        [
          [8, 4],
          [2, 8],
        ],
      ]),
      topoCluster('b', [[[8, 8]]]),
    ];
    const gangs: Gang[] = [
      one8('g1'),
      gang('g2', [podSet('w', 5, { [GPU]: 2 })]),
      one8('g3'),
      one8('g4'),
    ];
    const batch = placeBatch(snapshot, gangs).decisions;
    gangs.forEach((g, i) => {
      const d = placeGang(snapshot, g);
      expect(d).toEqual(batch[i]);
      if (d.status === 'placed') {
        const next = applyPlacement(snapshot, g, d.placement);
        if (!next.ok) throw new Error(next.error.message);
        snapshot = next.value;
      }
    });
  });

  it('reports invalid gangs in place and continues', () => {
    const c = cluster('c', [node('n1')]);
    const r = placeBatch([c], [gang('bad', [podSet('w', -1, {})]), one8('ok')]);
    expect(r.decisions.map((d) => d.status)).toEqual(['invalid', 'placed']);
    expect(r.invalid).toBe(1);
  });

  it('skips explanations with explain: false', () => {
    const r = placeBatch(
      [cluster('c', [node('n1')])],
      [gang('g', [podSet('w', 2, { [GPU]: 8 })])],
      { explain: false },
    );
    expect(r.decisions[0]).toEqual({ status: 'unplaced', gangId: 'g', explanations: [] });
  });

  it('handles an empty snapshot', () => {
    expect(placeBatch([], [one8()]).decisions[0]).toEqual({
      status: 'unplaced',
      gangId: 'g',
      explanations: [],
    });
  });
});

describe('placementStream', () => {
  it('decides lazily, one gang per next(), with deductions carried over', () => {
    const c = cluster('c', [node('n1')]);
    let pulled = 0;
    function* gangs() {
      for (let i = 0; i < 3; i++) {
        pulled++;
        yield one8(`g${i}`);
      }
    }
    const it = placementStream([c], gangs());
    expect(pulled).toBe(0);
    expect(it.next().value?.status).toBe('placed');
    expect(pulled).toBe(1);
    expect(it.next().value?.status).toBe('unplaced');
  });
});

describe('fitGang', () => {
  it('answers for one cluster with the same placement placeGang would make', () => {
    const c = topoCluster('c', [[[8, 8]]]);
    expect(fitGang(c, one8())).toEqual(placeGang([c], one8()));
    const no = fitGang(c, gang('g', [podSet('w', 3, { [GPU]: 8 })]));
    expect(no.status === 'unplaced' && no.explanations).toHaveLength(1);
  });
});

describe('applyPlacement', () => {
  const c = cluster('c', [node('n1'), node('n2')]);
  const g = gang('g', [podSet('w', 2, { [GPU]: 4, cpu: '500m' })]);

  it('subtracts member requests from node free capacity', () => {
    const d = placeGang([c], g);
    if (d.status !== 'placed') throw new Error('not placed');
    const r = applyPlacement([c], g, d.placement);
    expect(r.ok).toBe(true);
    if (r.ok) {
      const n1 = r.value[0].nodes.find((n) => n.name === d.placement.podSets[0].nodes[0]);
      expect(n1?.free).toEqual({ [GPU]: 0n, cpu: 95_000n, memory: 2n ** 40n * 1000n });
      expect(c.nodes[0].free[GPU]).toBe(8000n); // input untouched
    }
  });

  it('rejects placements that over-commit or do not match', () => {
    const bad = {
      gangId: 'g',
      cluster: 'c',
      domain: null,
      podSets: [{ podSet: 'w', nodes: ['n1', 'n1', 'n1'], domain: null }],
    };
    const g3 = gang('g', [podSet('w', 3, { [GPU]: 4 })]);
    expect(applyPlacement([c], g3, bad)).toMatchObject({
      ok: false,
      error: { code: 'InvalidPlacement' },
    });
    expect(applyPlacement([c], g, { ...bad, cluster: 'x' }).ok).toBe(false);
    expect(applyPlacement([c], g, bad).ok).toBe(false); // wrong member count
    expect(
      applyPlacement([c], g, {
        ...bad,
        podSets: [{ podSet: 'w', nodes: ['n1', 'zz'], domain: null }],
      }).ok,
    ).toBe(false);
  });
});

describe('formatDecision', () => {
  it('summarises each kind of decision in one line', () => {
    const c = topoCluster('c', [[[8]]]);
    expect(formatDecision(placeGang([c], one8()))).toBe(
      'gang g placed on c (block-0/rack-0a/c-b0-r0-h0)',
    );
    expect(formatDecision(placeGang([c], gang('g', [podSet('w', 2, { [GPU]: 8 })])))).toBe(
      'gang g not placed: c: cluster has 8 nvidia.com/gpu free, gang needs 16',
    );
    expect(formatDecision(placeGang([c], gang('g', [])))).toBe(
      'gang g is invalid: gang g has no pod sets',
    );
  });
});

describe('clusters excluded for one gang', () => {
  it('skips an excluded cluster, places on the next, and explains the exclusion when none is left', () => {
    const a = cluster('a', [node('a1')]);
    const b = cluster('b', [node('b1')]);
    const g = gang('g', [podSet('w', 1, { [GPU]: 1 })]);
    const excluded = { ...g, excludedClusters: { a: 'its scheduler could not bind the gang' } };
    const first = placeGang([a, b], g);
    expect(first.status === 'placed' && first.placement.cluster).toBe('a');
    const next = placeGang([a, b], excluded);
    expect(next.status === 'placed' && next.placement.cluster).toBe('b');
    const none = placeGang([a, b], { ...g, excludedClusters: { a: 'x', b: 'y' } });
    expect(none).toEqual({
      status: 'unplaced',
      gangId: 'g',
      explanations: [
        { cluster: 'a', code: 'ExcludedForGang', message: 'x' },
        { cluster: 'b', code: 'ExcludedForGang', message: 'y' },
      ],
    });
  });
});

describe('pod sets that conflict in the greedy placement', () => {
  const BLOCK_LEVEL = 'cloud.provider.com/topology-block';
  const plain = (name: string, pods: number, labels: Record<string, string> = {}) => ({
    name,
    labels: { pool: 'x', ...labels },
    free: { pods: BigInt(pods) * 1000n },
    allocatable: { pods: BigInt(pods) * 1000n },
  });
  const snapshot = (nodes: ClusterSnapshot['nodes']): ClusterSnapshot => ({
    name: 'c',
    topologyLevels: [BLOCK_LEVEL, 'kubernetes.io/hostname'],
    nodes,
  });
  const slots = { pods: 1000n };

  it('moves the constrained pod set off the room the unconstrained one has no alternative to', () => {
    // "workers" may use every node but n2, and needs all 6 slots of n0, n1 and n3; "leader"
    // needs one slot in block b1, which has n0 and n2. Leader first on n0 leaves workers short.
    const c = snapshot([
      plain('n0', 1, { [BLOCK_LEVEL]: 'b1' }),
      plain('n1', 3),
      plain('n2', 1, { [BLOCK_LEVEL]: 'b1', zone: 'z1' }),
      plain('n3', 2),
    ]);
    const g: Gang = {
      id: 'g',
      podSets: [
        {
          name: 'workers',
          count: 6,
          requests: slots,
          nodeAffinity: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['z1'] }] },
            ],
          },
        },
        {
          name: 'leader',
          count: 1,
          requests: slots,
          topology: { mode: 'required', level: BLOCK_LEVEL },
        },
      ],
    };
    const d = placeGang([c], g);
    expect(d.status).toBe('placed');
    if (d.status !== 'placed') return;
    expect(d.placement.podSets.find((p) => p.podSet === 'leader')!.nodes).toEqual(['n2']);
  });

  it('moves a pod set off the only node another may use', () => {
    // Both are restricted: "any" to nodes with a pool, "ys" to pool y, which only n1 has. Gang
    // order puts "any" on n1 (the search tries block b1 before a node outside any block) and
    // leaves "ys" nothing.
    const c = snapshot([plain('n0', 1), plain('n1', 1, { pool: 'y', [BLOCK_LEVEL]: 'b1' })]);
    const g: Gang = {
      id: 'g',
      podSets: [
        {
          name: 'any',
          count: 1,
          requests: slots,
          nodeAffinity: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'Exists' }] }],
          },
        },
        { name: 'ys', count: 1, requests: slots, nodeSelector: { pool: 'y' } },
      ],
    };
    for (const policy of ['pack', 'spread'] as const) {
      const d = placeGang([c], g, { policy });
      expect([policy, d.status]).toEqual([policy, 'placed']);
      if (d.status !== 'placed') continue;
      expect(d.placement.podSets.map((p) => [p.podSet, p.nodes])).toEqual([
        ['any', ['n0']],
        ['ys', ['n1']],
      ]);
    }
  });

  it('tries another colocation domain when the first takes the only node another pod set may use', () => {
    // The group (p0 alone) goes first; pack takes block b1 (name order), n4, which p1 needs.
    const c = snapshot([
      plain('n3', 1, { [BLOCK_LEVEL]: 'b2' }),
      plain('n4', 1, { [BLOCK_LEVEL]: 'b1' }),
    ]);
    const g: Gang = {
      id: 'g',
      podSets: [
        {
          name: 'p0',
          count: 1,
          requests: slots,
          topology: { mode: 'required', level: BLOCK_LEVEL },
        },
        {
          name: 'p1',
          count: 1,
          requests: slots,
          nodeAffinity: {
            nodeSelectorTerms: [
              { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n4'] }] },
            ],
          },
        },
      ],
      colocation: { podSets: ['p0'], level: BLOCK_LEVEL },
    };
    const d = placeGang([c], g);
    expect(d.status === 'placed' && d.placement.podSets.map((p) => [p.podSet, p.nodes])).toEqual([
      ['p0', ['n3']],
      ['p1', ['n4']],
    ]);
  });

  it('gives up on a large gang within its budget and leaves the cluster as it was', () => {
    // 40 nodes of one member each; three pod sets of 15 fit one at a time, not together (45).
    const c = cluster(
      'c',
      Array.from({ length: 40 }, (_, i) => node(`n${String(i).padStart(2, '0')}`)),
    );
    const three = gang(
      'three',
      ['a', 'b', 'c'].map((name) => podSet(name, 15, { [GPU]: 5 })),
    );
    const r = placeBatch([c], [three, gang('all', [podSet('w', 40, { [GPU]: 8 })])]);
    expect(r.decisions.map((d) => d.status)).toEqual(['unplaced', 'placed']);
    const first = r.decisions[0];
    expect(first.status === 'unplaced' && first.explanations.map((e) => e.code)).toEqual([
      'PodSetsConflict',
    ]);
  });
});
