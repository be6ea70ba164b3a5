/** One test (or a few) per placement rule, on small hand-made clusters. */
import { ClusterSnapshot } from './model';
import { fitGang, GangDecision, Placement, placeGang } from './place';
import {
  BLOCK,
  cluster,
  gang,
  GPU,
  HOST,
  node,
  podSet,
  RACK,
  topoCluster,
  ZONE,
} from '../testing/builders';

function placed(d: GangDecision): Placement {
  if (d.status !== 'placed') throw new Error(`expected placed, got ${JSON.stringify(d)}`);
  return d.placement;
}

function nodesOf(d: GangDecision, ps: string): readonly string[] {
  const p = placed(d).podSets.find((x) => x.podSet === ps);
  if (!p) throw new Error(`no pod set ${ps}`);
  return p.nodes;
}

function codes(d: GangDecision): string[] {
  if (d.status !== 'unplaced') throw new Error(`expected unplaced, got ${d.status}`);
  return d.explanations.map((e) => e.code);
}

const labelOf = (c: ClusterSnapshot, nodeName: string, key: string) =>
  c.nodes.find((n) => n.name === nodeName)?.labels?.[key];

describe('node selectors', () => {
  const c = cluster('c', [
    node('a1', { labels: { pool: 'a' } }),
    node('b1', { labels: { pool: 'b' } }),
    node('b2', { labels: { pool: 'b' } }),
  ]);

  it('only uses nodes whose labels match', () => {
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 2, { [GPU]: 8 }, { nodeSelector: { pool: 'b' } })]),
    );
    expect([...nodesOf(d, 'w')].sort()).toEqual(['b1', 'b2']);
  });

  it('does not fit when the selected nodes are too few', () => {
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 2, { [GPU]: 8 }, { nodeSelector: { pool: 'a' } })]),
    );
    expect(d.status).toBe('unplaced');
  });

  it('explains a selector that matches nothing', () => {
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 1, { [GPU]: 1 }, { nodeSelector: { pool: 'z' } })]),
    );
    expect(codes(d)).toEqual(['NodeSelectorMismatch']);
  });
});

describe('taints and tolerations', () => {
  const tainted = (name: string, effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule') =>
    node(name, { taints: [{ key: 'dedicated', value: 'train', effect }] });

  it.each(['NoSchedule', 'NoExecute'] as const)(
    'keeps pods off %s-tainted nodes without a toleration',
    (effect) => {
      const c = cluster('c', [tainted('t1', effect), node('u1', { free: { [GPU]: 4 } })]);
      const d = placeGang([c], gang('g', [podSet('w', 1, { [GPU]: 8 })]));
      expect(d.status).toBe('unplaced');
      const ok = placeGang([c], gang('g', [podSet('w', 1, { [GPU]: 4 })]));
      expect(nodesOf(ok, 'w')).toEqual(['u1']);
    },
  );

  it('ignores PreferNoSchedule', () => {
    const c = cluster('c', [tainted('t1', 'PreferNoSchedule')]);
    expect(nodesOf(placeGang([c], gang('g', [podSet('w', 1, { [GPU]: 8 })])), 'w')).toEqual(['t1']);
  });

  it.each([
    ['Equal', { key: 'dedicated', operator: 'Equal', value: 'train' }],
    ['Exists', { key: 'dedicated', operator: 'Exists' }],
    ['wildcard Exists', { operator: 'Exists' }],
    ['matching effect', { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
  ] as const)('uses tainted nodes with a %s toleration', (_, toleration) => {
    const c = cluster('c', [tainted('t1', 'NoSchedule')]);
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 1, { [GPU]: 8 }, { tolerations: [toleration] })]),
    );
    expect(nodesOf(d, 'w')).toEqual(['t1']);
  });

  it.each([
    ['wrong value', { key: 'dedicated', operator: 'Equal', value: 'infer' }],
    ['wrong effect', { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }],
  ] as const)('does not use tainted nodes with a toleration of the %s', (_, toleration) => {
    const c = cluster('c', [tainted('t1', 'NoSchedule')]);
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 1, { [GPU]: 8 }, { tolerations: [toleration] })]),
    );
    expect(codes(d)).toEqual(['UntoleratedTaint']);
  });
});

describe('unusable nodes', () => {
  it('skips unschedulable and not-ready nodes', () => {
    const c = cluster('c', [
      node('cordoned', { unschedulable: true }),
      node('down', { ready: false }),
      node('ok', { free: { [GPU]: 4 } }),
    ]);
    expect(placeGang([c], gang('g', [podSet('w', 1, { [GPU]: 8 })])).status).toBe('unplaced');
    expect(nodesOf(placeGang([c], gang('g', [podSet('w', 2, { [GPU]: 2 })])), 'w')).toEqual([
      'ok',
      'ok',
    ]);
  });

  it('explains a cluster without usable nodes', () => {
    const c = cluster('c', [
      node('cordoned', { unschedulable: true }),
      node('down', { ready: false }),
    ]);
    const d = placeGang([c], gang('g', [podSet('w', 1, { [GPU]: 1 })]));
    expect(codes(d)).toEqual(['NoSchedulableNodes']);
  });
});

describe('required topology', () => {
  // rack-0a: 12 GPUs (8+4), rack-0b: 8, rack-1a: 8+8 = 16 (block-1)
  const c = topoCluster('c', [[[8, 4], [8]], [[8, 8]]]);

  it('puts every member in one domain of the level', () => {
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 4, { [GPU]: 4 }, { topology: { mode: 'required', level: RACK } })]),
    );
    const racks = new Set(nodesOf(d, 'w').map((n) => labelOf(c, n, RACK)));
    expect([...racks]).toEqual(['rack-1a']);
    expect(placed(d).podSets[0].domain).toEqual({
      level: RACK,
      value: 'rack-1a',
      path: ['block-1', 'rack-1a'],
    });
  });

  it('does not fit when no single domain is big enough, even if the cluster is', () => {
    const g = gang('g', [
      podSet('w', 5, { [GPU]: 4 }, { topology: { mode: 'required', level: RACK } }),
    ]);
    expect(codes(placeGang([c], g))).toEqual(['TopologyDomainTooSmall']);
    // 20 GPUs fit in block-0 (12 + 8).
    const byBlock = placeGang(
      [c],
      gang('g', [podSet('w', 5, { [GPU]: 4 }, { topology: { mode: 'required', level: BLOCK } })]),
    );
    expect(new Set(nodesOf(byBlock, 'w').map((n) => labelOf(c, n, BLOCK)))).toEqual(
      new Set(['block-0']),
    );
  });

  it('counts whole members per node, not just free totals', () => {
    // rack-0a has 3+3+3+3+4 = 16 GPUs, but only one 4-GPU member fits.
    const frag = topoCluster('f', [[[3, 3, 3, 3, 4]]]);
    const d = placeGang(
      [frag],
      gang('g', [podSet('w', 4, { [GPU]: 4 }, { topology: { mode: 'required', level: RACK } })]),
    );
    expect(codes(d)).toEqual(['FragmentedCapacity']);
  });

  it('supports the host level (all members on one node)', () => {
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 2, { [GPU]: 4 }, { topology: { mode: 'required', level: HOST } })]),
    );
    expect(new Set(nodesOf(d, 'w')).size).toBe(1);
  });

  it('does not use nodes missing the level label for a required constraint', () => {
    const c2 = cluster('c2', [
      node('unlabelled', { labels: {} }),
      node('r1', { free: { [GPU]: 2 }, labels: { [BLOCK]: 'b', [RACK]: 'r' } }),
    ]);
    const req = gang('g', [
      podSet('w', 2, { [GPU]: 2 }, { topology: { mode: 'required', level: RACK } }),
    ]);
    expect(placeGang([c2], req).status).toBe('unplaced');
    const free = gang('g', [podSet('w', 2, { [GPU]: 2 })]);
    expect(nodesOf(placeGang([c2], free), 'w')).toEqual(['unlabelled', 'unlabelled']);
  });

  it('fails a required level the cluster does not have', () => {
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 1, { [GPU]: 1 }, { topology: { mode: 'required', level: ZONE } })]),
    );
    expect(codes(d)).toEqual(['UnknownTopologyLevel']);
  });
});

describe('preferred topology', () => {
  const pref = (count: number) =>
    gang('g', [podSet('w', count, { [GPU]: 4 }, { topology: { mode: 'preferred', level: RACK } })]);
  // block-0: rack-0a 16, rack-0b 8; block-1: rack-1a 8, rack-1b 8
  const c = topoCluster('c', [
    [[8, 8], [8]],
    [[8], [8]],
  ]);

  it('uses one rack when a rack fits', () => {
    const d = placeGang([c], pref(4));
    expect(new Set(nodesOf(d, 'w').map((n) => labelOf(c, n, RACK)))).toEqual(new Set(['rack-0a']));
    expect(placed(d).podSets[0].domain?.level).toBe(RACK);
  });

  it('climbs to one block when no rack fits', () => {
    const d = placeGang([c], pref(6));
    expect(new Set(nodesOf(d, 'w').map((n) => labelOf(c, n, BLOCK)))).toEqual(new Set(['block-0']));
    expect(placed(d).podSets[0].domain).toEqual({
      level: BLOCK,
      value: 'block-0',
      path: ['block-0'],
    });
  });

  it('finally spans the whole cluster', () => {
    const d = placeGang([c], pref(10));
    expect(new Set(nodesOf(d, 'w').map((n) => labelOf(c, n, BLOCK)))).toEqual(
      new Set(['block-0', 'block-1']),
    );
    expect(placed(d).podSets[0].domain).toBeNull();
    expect(placed(d).domain).toBeNull();
  });

  it('ignores a preferred level the cluster does not have', () => {
    const d = placeGang(
      [c],
      gang('g', [podSet('w', 2, { [GPU]: 4 }, { topology: { mode: 'preferred', level: ZONE } })]),
    );
    expect(nodesOf(d, 'w')).toHaveLength(2);
  });

  it('without a constraint, pack takes the tightest block that fits and keeps the bigger one whole', () => {
    // block-1 (16 free) fits exactly, across its two racks; block-0 (24, rack-0a 16) stays whole.
    const d = placeGang([c], gang('g', [podSet('w', 2, { [GPU]: 8 })]));
    expect(new Set(nodesOf(d, 'w').map((n) => labelOf(c, n, RACK)))).toEqual(
      new Set(['rack-1a', 'rack-1b']),
    );
    expect(placed(d).domain).toEqual({ level: BLOCK, value: 'block-1', path: ['block-1'] });
  });
});

describe('colocation (leader and workers)', () => {
  // block-0 has room for the workers but no CPU for the leader; block-1 has both.
  const c = cluster('c', [
    node('b0-w1', { free: { [GPU]: 8, cpu: 0 }, labels: { [BLOCK]: 'b0', [RACK]: 'r0' } }),
    node('b0-w2', { free: { [GPU]: 8, cpu: 0 }, labels: { [BLOCK]: 'b0', [RACK]: 'r0' } }),
    node('b1-w1', { free: { [GPU]: 8, cpu: 8 }, labels: { [BLOCK]: 'b1', [RACK]: 'r1' } }),
    node('b1-w2', { free: { [GPU]: 8, cpu: 8 }, labels: { [BLOCK]: 'b1', [RACK]: 'r1' } }),
    node('b2-cpu', { free: { cpu: 64 }, labels: { [BLOCK]: 'b2', [RACK]: 'r2' } }),
  ]);
  const leader = podSet('leader', 1, { cpu: 4 });
  const workers = podSet(
    'workers',
    2,
    { [GPU]: 8 },
    { topology: { mode: 'required', level: RACK } },
  );

  it('puts the grouped pod sets in one domain of the group level', () => {
    const d = placeGang(
      [c],
      gang('g', [leader, workers], { podSets: ['leader', 'workers'], level: BLOCK }),
    );
    const blocks = new Set(
      [...nodesOf(d, 'leader'), ...nodesOf(d, 'workers')].map((n) => labelOf(c, n, BLOCK)),
    );
    expect(blocks).toEqual(new Set(['b1']));
    // The leader was kept in the group's block; everything happens to share rack r1.
    expect(placed(d).podSets[0].domain).toEqual({ level: BLOCK, value: 'b1', path: ['b1'] });
    expect(placed(d).podSets[1].domain).toEqual({ level: RACK, value: 'r1', path: ['b1', 'r1'] });
    expect(placed(d).domain).toEqual({ level: RACK, value: 'r1', path: ['b1', 'r1'] });
  });

  it('without the group, leader and workers end up in different blocks (control)', () => {
    // Workers (placed first) take the first of two equally tight racks, r0 in b0; the leader then
    // needs CPU, which b0 lacks.
    const d = placeGang([c], gang('g', [leader, workers]));
    expect(new Set(nodesOf(d, 'workers').map((n) => labelOf(c, n, BLOCK)))).toEqual(
      new Set(['b0']),
    );
    expect(nodesOf(d, 'leader').map((n) => labelOf(c, n, BLOCK))).toEqual(['b1']);
  });

  it('does not fit when no domain holds the group', () => {
    const noCpu = cluster(
      'c',
      c.nodes.filter((n) => n.name !== 'b1-w1' && n.name !== 'b1-w2'),
    );
    const d = placeGang(
      [noCpu],
      gang('g', [leader, workers], { podSets: ['leader', 'workers'], level: BLOCK }),
    );
    expect(codes(d)).toEqual(['ColocationDomainTooSmall']);
  });
});

describe('whole gang or nothing', () => {
  it('places nothing when one pod set does not fit, and leaves capacity for the next gang', () => {
    const c = cluster('c', [node('n1'), node('n2')]);
    const big = gang('big', [podSet('a', 1, { [GPU]: 8 }), podSet('b', 2, { [GPU]: 8 })]);
    const d = placeGang([c], big);
    expect(d.status).toBe('unplaced');
    expect(codes(d)).toEqual(['InsufficientCapacity']);
    // The same cluster can still take two 8-GPU members: nothing was held back by the failed gang.
    expect(placeGang([c], gang('next', [podSet('x', 2, { [GPU]: 8 })])).status).toBe('placed');
  });

  it('places every member of every pod set when it fits', () => {
    const c = cluster('c', [node('n1'), node('n2'), node('n3')]);
    const d = placeGang(
      [c],
      gang('g', [podSet('a', 1, { [GPU]: 8 }), podSet('b', 4, { [GPU]: 4 })]),
    );
    expect(nodesOf(d, 'a')).toHaveLength(1);
    expect(nodesOf(d, 'b')).toHaveLength(4);
  });

  it('places pod sets with zero requests anywhere and zero-member pod sets nowhere', () => {
    const c = cluster('c', [node('n1', { free: {} })]);
    const d = placeGang(
      [c],
      gang('g', [podSet('sidecar', 3, {}), podSet('none', 0, { [GPU]: 1 })]),
    );
    expect(nodesOf(d, 'sidecar')).toEqual(['n1', 'n1', 'n1']);
    expect(nodesOf(d, 'none')).toEqual([]);
  });

  it('handles multi-resource members per node (cpu is the bottleneck here)', () => {
    // Totals suffice (8 GPUs, 12 CPUs for 2 × (1 GPU, 4 CPU)) but n2 has no GPU and n1 CPU for one.
    const c = cluster('c', [
      node('n1', { free: { [GPU]: 8, cpu: 6, memory: '1Ti' } }),
      node('n2', { free: { [GPU]: 0, cpu: 6, memory: '1Ti' } }),
    ]);
    const d = placeGang([c], gang('g', [podSet('w', 2, { [GPU]: 1, cpu: 4, memory: '1Gi' })]));
    expect(codes(d)).toEqual(['FragmentedCapacity']);
    expect(nodesOf(placeGang([c], gang('g', [podSet('w', 1, { [GPU]: 1, cpu: 4 })])), 'w')).toEqual(
      ['n1'],
    );
    expect(nodesOf(placeGang([c], gang('g', [podSet('w', 3, { cpu: 2 })])), 'w')).toHaveLength(3);
  });
});

describe('cluster status', () => {
  it('skips clusters that are not ready or cordoned and says so', () => {
    const down = cluster('down', [node('n1')], { ready: false });
    const cordoned = cluster('cordoned', [node('n1')], { cordoned: true });
    const d = placeGang([down, cordoned], gang('g', [podSet('w', 1, { [GPU]: 1 })]));
    expect(d.status === 'unplaced' && d.explanations.map((e) => [e.cluster, e.code])).toEqual([
      ['cordoned', 'ClusterCordoned'],
      ['down', 'ClusterNotReady'],
    ]);
    expect(fitGang(down, gang('g', [podSet('w', 1, { [GPU]: 1 })])).status).toBe('unplaced');
  });

  it('skips malformed clusters but still uses the others', () => {
    const dupNodes = cluster('bad', [node('n1'), node('n1')]);
    const good = cluster('good', [node('n1')]);
    const d = placeGang([dupNodes, good], gang('g', [podSet('w', 1, { [GPU]: 1 })]));
    expect(placed(d).cluster).toBe('good');
    const d2 = placeGang([dupNodes], gang('g', [podSet('w', 1, { [GPU]: 1 })]));
    expect(d2.status === 'unplaced' && d2.explanations[0]).toMatchObject({
      code: 'InvalidClusterSnapshot',
      message: 'cluster snapshot is invalid: node name n1 is used twice',
    });
  });

  it('treats clusters sharing a name as invalid rather than guessing', () => {
    const d = placeGang(
      [cluster('x', [node('n1')]), cluster('x', [node('n2')])],
      gang('g', [podSet('w', 1, { [GPU]: 1 })]),
    );
    expect(codes(d)).toEqual(['InvalidClusterSnapshot', 'InvalidClusterSnapshot']);
  });
});

describe('invalid gangs', () => {
  const c = cluster('c', [node('n1')]);
  it.each([
    [
      'duplicate pod set names',
      gang('g', [podSet('w', 1, {}), podSet('w', 1, {})]),
      'podSets[1].name',
    ],
    ['a negative count', gang('g', [podSet('w', -1, {})]), 'podSets[0].count'],
    ['a fractional count', gang('g', [podSet('w', 1.5, {})]), 'podSets[0].count'],
    ['no members', gang('g', [podSet('w', 0, {})]), 'podSets'],
    [
      'an unknown colocated pod set',
      gang('g', [podSet('w', 1, {})], { podSets: ['x'], level: RACK }),
      'colocation.podSets',
    ],
    [
      'a negative request',
      gang('g', [{ name: 'w', count: 1, requests: { cpu: -1n } }]),
      'podSets[0].requests["cpu"]',
    ],
    [
      'a number instead of bigint',
      gang('g', [{ name: 'w', count: 1, requests: { cpu: 1 as unknown as bigint } }]),
      'podSets[0].requests',
    ],
  ])('reports %s as an invalid decision', (_, g, field) => {
    const d = placeGang([c], g);
    expect(d.status).toBe('invalid');
    expect(d.status === 'invalid' && d.error.field).toBe(field);
  });
});
