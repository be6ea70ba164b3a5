/** Exact explanation texts: they are shown to users, so they are part of the contract. */
import { levelNoun } from './explain';
import { ClusterSnapshot, Gang } from './model';
import { FitExplanation, placeGang } from '../index';
import { BLOCK, cluster, gang, GPU, HOST, node, podSet, RACK } from '../testing/builders';

function explain(clusters: ClusterSnapshot[], g: Gang): FitExplanation[] {
  const d = placeGang(clusters, g);
  if (d.status !== 'unplaced') throw new Error(`expected unplaced, got ${JSON.stringify(d)}`);
  return [...d.explanations];
}

const rackNode = (name: string, rack: string, gpus: number, block = 'block-1') =>
  node(name, {
    free: { [GPU]: gpus, cpu: 96, memory: '1Ti' },
    labels: { [BLOCK]: block, [RACK]: rack },
  });

describe('explanations', () => {
  it('names a required node affinity that matches no node', () => {
    const c = cluster('c', [node('n1', { labels: { zone: 'z1' } })]);
    const nodeAffinity = {
      nodeSelectorTerms: [
        { matchExpressions: [{ key: 'zone', operator: 'In' as const, values: ['z2'] }] },
      ],
    };
    expect(explain([c], gang('g', [podSet('w', 1, { cpu: 1 }, { nodeAffinity })]))).toEqual([
      {
        cluster: 'c',
        code: 'NodeAffinityMismatch',
        podSet: 'w',
        message: 'required node affinity zone In (z2) matches no node',
      },
    ]);
  });

  it('places by node affinity and counts pod slots', () => {
    const nodes = [
      node('n1', { free: { cpu: 8, pods: 2 }, labels: { zone: 'z1' } }),
      node('n2', { free: { cpu: 8, pods: 2 }, labels: { zone: 'z2' } }),
    ];
    const nodeAffinity = {
      nodeSelectorTerms: [
        { matchExpressions: [{ key: 'zone', operator: 'In' as const, values: ['z2'] }] },
      ],
    };
    const d = placeGang(
      [cluster('c', nodes)],
      gang('g', [podSet('w', 2, { cpu: '1m', pods: 1 }, { nodeAffinity })]),
    );
    expect(d.status === 'placed' && d.placement.podSets[0].nodes).toEqual(['n2', 'n2']);
    const three = explain(
      [cluster('c', nodes)],
      gang('g', [podSet('w', 3, { cpu: '1m', pods: 1 }, { nodeAffinity })]),
    );
    expect(three[0]).toMatchObject({ code: 'InsufficientCapacity', podSet: 'w', resource: 'pods' });
  });

  it('whole-cluster shortage', () => {
    const c = cluster(
      'east',
      Array.from({ length: 5 }, (_, i) => node(`n${i}`)),
    );
    expect(explain([c], gang('g', [podSet('workers', 8, { [GPU]: 8 })]))).toEqual([
      {
        cluster: 'east',
        code: 'InsufficientCapacity',
        message: 'cluster has 40 nvidia.com/gpu free, gang needs 64',
        resource: GPU,
        needed: '64',
        available: '40',
      },
    ]);
  });

  it('says "on schedulable nodes" when unusable nodes exist', () => {
    const c = cluster('c', [node('n1'), node('n2', { unschedulable: true })]);
    expect(explain([c], gang('g', [podSet('w', 2, { [GPU]: 8 })]))[0].message).toBe(
      'cluster has 8 nvidia.com/gpu free on schedulable nodes, gang needs 16',
    );
  });

  it('names the most binding resource and formats bytes exactly', () => {
    const c = cluster('c', [node('n1', { free: { [GPU]: 8, cpu: 96, memory: '512Gi' } })]);
    expect(explain([c], gang('g', [podSet('w', 1, { [GPU]: 8, memory: '1Ti' })]))[0].message).toBe(
      'cluster has 512Gi memory free, gang needs 1Ti',
    );
  });

  it('a resource no node has', () => {
    const c = cluster('c', [node('n1')]);
    expect(explain([c], gang('g', [podSet('w', 2, { 'example.com/fpga': 1 })]))[0].message).toBe(
      'cluster has 0 example.com/fpga free, gang needs 2',
    );
  });

  it('no single rack is big enough, with the best rack', () => {
    const c = cluster('west', [
      rackNode('a1', 'rack-a', 8),
      rackNode('b1', 'rack-b', 8),
      rackNode('b2', 'rack-b', 4),
      rackNode('c1', 'rack-c', 8, 'block-2'),
    ]);
    const g = gang('g', [
      podSet('workers', 4, { [GPU]: 4 }, { topology: { mode: 'required', level: RACK } }),
    ]);
    expect(explain([c], g)).toEqual([
      {
        cluster: 'west',
        code: 'TopologyDomainTooSmall',
        message:
          'no single rack has 16 nvidia.com/gpu free for pod set workers; best is rack-b with 12',
        level: RACK,
        podSet: 'workers',
        resource: GPU,
        needed: '16',
        available: '12',
      },
    ]);
  });

  it('a rack with enough in total but split across nodes', () => {
    const c = cluster('c', [
      rackNode('a1', 'rack-a', 3),
      rackNode('a2', 'rack-a', 3),
      rackNode('a3', 'rack-a', 4),
      rackNode('b1', 'rack-b', 4),
      rackNode('b2', 'rack-b', 2),
    ]);
    const g = gang('g', [
      podSet('workers', 2, { [GPU]: 4 }, { topology: { mode: 'required', level: RACK } }),
    ]);
    expect(explain([c], g)[0].message).toBe(
      'no single rack fits all 2 members of pod set workers; best is rack-a with room for 1 (free capacity is split across nodes)',
    );
  });

  it('a selector that matches nothing / only unusable nodes', () => {
    const c = cluster('c', [
      node('n1', { labels: { pool: 'b' } }),
      node('n2', { labels: { pool: 'a' }, ready: false }),
    ]);
    expect(
      explain([c], gang('g', [podSet('w', 1, {}, { nodeSelector: { pool: 'c' } })]))[0].message,
    ).toBe('node selector pool=c matches no node');
    expect(
      explain([c], gang('g', [podSet('w', 1, {}, { nodeSelector: { pool: 'a' } })]))[0].message,
    ).toBe('node selector pool=a matches only nodes that are not ready or unschedulable');
  });

  it('untolerated taints', () => {
    const c = cluster('c', [
      node('n2', { taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }] }),
      node('n1', { taints: [{ key: 'dedicated', effect: 'NoExecute' }] }),
    ]);
    expect(explain([c], gang('g', [podSet('w', 1, {})]))[0]).toMatchObject({
      code: 'UntoleratedTaint',
      podSet: 'w',
      message:
        'every schedulable node has a taint pod set w does not tolerate, e.g. dedicated:NoExecute on n1',
    });
  });

  it('no node big enough for one member', () => {
    const c = cluster('c', [
      node('n1', { free: { [GPU]: 4 } }),
      node('n2', { free: { [GPU]: 6 } }),
    ]);
    expect(explain([c], gang('g', [podSet('w', 1, { [GPU]: 8 })]))[0].message).toBe(
      'no node has 8 nvidia.com/gpu free for one member of pod set w; the most on one node is 6',
    );
    const mixed = cluster('m', [
      node('n1', { free: { [GPU]: 8, cpu: 1 } }),
      node('n2', { free: { [GPU]: 1, cpu: 8 } }),
    ]);
    expect(explain([mixed], gang('g', [podSet('w', 1, { [GPU]: 2, cpu: 2 })]))[0].message).toBe(
      'no single node has room for one member of pod set w (cpu=2, nvidia.com/gpu=2)',
    );
  });

  it('fragmented cluster', () => {
    // Whole-GPU amounts are bounded from per-domain histograms, without visiting nodes.
    const c = cluster('c', [
      node('n1', { free: { [GPU]: 6 } }),
      node('n2', { free: { [GPU]: 6 } }),
    ]);
    expect(explain([c], gang('g', [podSet('w', 3, { [GPU]: 4 })]))[0]).toMatchObject({
      code: 'FragmentedCapacity',
      message:
        "at most 2 of 3 members of pod set w fit on the cluster's nodes: free capacity is split across nodes",
    });
    // Fractional CPU amounts are counted node by node.
    const cpu = cluster('c', [
      node('n1', { free: { cpu: '2500m' } }),
      node('n2', { free: { cpu: '2500m' } }),
    ]);
    expect(explain([cpu], gang('g', [podSet('w', 3, { cpu: '1500m' })]))[0]).toMatchObject({
      code: 'FragmentedCapacity',
      message:
        "only 2 of 3 members of pod set w fit on the cluster's nodes: free capacity is split across nodes",
    });
  });

  it('restricted pod sets are explained in terms of their eligible nodes', () => {
    const c = cluster('c', [
      node('a1', { labels: { pool: 'a' }, free: { [GPU]: 4 } }),
      node('b1', { labels: { pool: 'b' } }),
    ]);
    expect(
      explain([c], gang('g', [podSet('w', 2, { [GPU]: 4 }, { nodeSelector: { pool: 'a' } })]))[0]
        .message,
    ).toBe('nodes eligible for pod set w have 4 nvidia.com/gpu free, pod set w needs 8');
  });

  it('colocation that no block can hold', () => {
    const c = cluster('c', [
      rackNode('a1', 'rack-a', 8, 'block-a'),
      rackNode('b1', 'rack-b', 8, 'block-b'),
    ]);
    const g = gang('g', [podSet('leader', 1, { [GPU]: 4 }), podSet('workers', 2, { [GPU]: 4 })], {
      podSets: ['leader', 'workers'],
      level: BLOCK,
    });
    expect(explain([c], g)[0]).toMatchObject({
      code: 'ColocationDomainTooSmall',
      message:
        'no single block has 12 nvidia.com/gpu free for pod sets leader and workers together; best is block-a with 8',
    });
  });

  it('pod sets that fit alone but not together', () => {
    // The cluster has GPUs and CPU enough for both, but a and b each need n1's CPU.
    const c = cluster('c', [
      node('n1', { free: { [GPU]: 8, cpu: 100 } }),
      node('n2', { free: { [GPU]: 8, cpu: 10 } }),
    ]);
    const g = gang('g', [
      podSet('a', 1, { [GPU]: 8, cpu: 50 }),
      podSet('b', 1, { [GPU]: 8, cpu: 50 }),
    ]);
    expect(explain([c], g)[0]).toMatchObject({
      code: 'PodSetsConflict',
      podSet: 'b',
      message:
        'pod sets fit one at a time but not together: after placing a, pod set b no longer fits',
    });
  });

  it('one explanation per cluster, sorted by cluster name', () => {
    const g = gang('g', [podSet('w', 1, { [GPU]: 16 })]);
    const names = explain(
      [cluster('z', [node('n')]), cluster('a', [node('n')]), cluster('m', [node('n')])],
      g,
    ).map((e) => e.cluster);
    expect(names).toEqual(['a', 'm', 'z']);
  });

  it('level nouns', () => {
    expect([RACK, BLOCK, HOST, 'topology.kubernetes.io/zone', 'pod'].map(levelNoun)).toEqual([
      'rack',
      'block',
      'host',
      'zone',
      'pod',
    ]);
  });
});
