import {
  CYCLE_PHASES,
  deductReservations,
  EXPLANATION_CHECK_MS,
  gangOf,
  planCycle,
  ReservationRequests,
  type CycleCluster,
} from './plan-cycle';
import { PlacementIndex, type ClusterSnapshot, type Device } from '@muster/placement';
import {
  explanationDigest,
  type ExplanationDigest,
  type QueuedGang,
  type ReservationRow,
} from './cycle.repository';
import { clusterUnavailable } from '../inventory/cluster.domain';

const NOW = new Date('2026-12-02T12:00:00Z');
const HOST = 'kubernetes.io/hostname';

const cluster = (name: string, gpusFree: number[], reflected: string[] = []): CycleCluster => ({
  name,
  topologyLevels: [HOST],
  nodes: gpusFree.map((free, i) => ({
    name: `${name}-n${i + 1}`,
    labels: { [HOST]: `${name}-n${i + 1}` },
    allocatable: { 'nvidia.com/gpu': 8000n },
    free: { 'nvidia.com/gpu': BigInt(free) * 1000n },
  })),
  reflected: new Set(reflected),
});

const queued = (id: string, count: number, gpus: string, extra: Partial<QueuedGang> = {}) =>
  ({
    id,
    queue: 'research',
    priority: 0,
    createdAt: new Date(NOW.getTime() - 60_000),
    explained: null,
    excludedClusters: {},
    gang: {
      podSets: [
        { name: 'workers', count, template: { spec: {} }, requests: { 'nvidia.com/gpu': gpus } },
      ],
      groups: [],
    },
    ...extra,
  }) satisfies QueuedGang;

const snapshot = (
  clusters: CycleCluster[],
  extra: Partial<Parameters<typeof planCycle>[0]> = {},
) => ({
  clusters,
  unavailable: [],
  reservations: [],
  weights: new Map<string, number>(),
  now: NOW,
  ...extra,
});

const plan = (s: Parameters<typeof planCycle>[0], q: QueuedGang[]) =>
  planCycle(s, q, { policy: 'pack' });

describe('planCycle', () => {
  it('reserves a gang that fits, with the requests it holds per node', () => {
    const p = plan(snapshot([cluster('c1', [8, 8])]), [queued('g1', 2, '8')]);
    expect(p.reservations).toHaveLength(1);
    expect(p.reservations[0]).toMatchObject({
      jobId: 'g1',
      cluster: 'c1',
      nodeRequests: { 'c1-n1': { 'nvidia.com/gpu': '8' }, 'c1-n2': { 'nvidia.com/gpu': '8' } },
      message: 'placed on c1',
    });
    expect(p).toMatchObject({ considered: 1, unplaced: 0, invalid: 0, clusters: 1 });
    expect(p.explanations).toEqual([]);
  });

  it('never places two gangs on the same free capacity in one cycle', () => {
    const p = plan(snapshot([cluster('c1', [8])]), [queued('g1', 1, '8'), queued('g2', 1, '8')]);
    expect(p.reservations.map((r) => r.jobId)).toEqual(['g1']);
    expect(p.unplaced).toBe(1);
    expect(p.explanations.map((e) => e.jobId)).toEqual(['g2']);
    expect(p.explanations[0]!.explanation.summary).toBe('no cluster can hold all 1 members now');
  });

  it('places nothing on capacity a reservation holds that the report does not reflect yet', () => {
    const held = {
      jobId: 'old',
      cluster: 'c1',
      fencingToken: 4,
      nodeRequests: { 'c1-n1': { 'nvidia.com/gpu': '8' } },
    };
    const stale = plan(snapshot([cluster('c1', [8])], { reservations: [held] }), [
      queued('g1', 1, '8'),
    ]);
    expect(stale.reservations).toEqual([]);
    const reflected = plan(snapshot([cluster('c1', [8], ['old#4'])], { reservations: [held] }), [
      queued('g1', 1, '8'),
    ]);
    expect(reflected.reservations.map((r) => r.jobId)).toEqual(['g1']);
  });

  it('with an index kept from cycle to cycle, places on what each snapshot says is free', () => {
    const index = new PlacementIndex();
    const cycle = (c: CycleCluster, q: QueuedGang[], reservations: ReservationRow[] = []) =>
      planCycle(snapshot([c], { reservations }), q, { policy: 'pack', index });
    const full = cluster('c1', [8, 8]);
    expect(cycle(full, [queued('g1', 2, '8')]).reservations).toHaveLength(1);
    // The reservation was not committed (say the commit failed): the same report again.
    expect(cycle(full, [queued('g1', 2, '8')]).reservations).toHaveLength(1);
    // Committed now, and not yet in the report: the cycle must not place on it again.
    const held: ReservationRow = {
      jobId: 'g1',
      cluster: 'c1',
      fencingToken: 1,
      nodeRequests: { 'c1-n1': { 'nvidia.com/gpu': '8' }, 'c1-n2': { 'nvidia.com/gpu': '8' } },
    };
    expect(cycle(full, [queued('g2', 1, '8')], [held]).reservations).toEqual([]);
    // Other work took a node: a new report with one node full.
    const taken = cluster('c1', [0, 8]);
    expect(cycle(taken, [queued('g2', 2, '8')]).reservations).toEqual([]);
    expect(index.last).toEqual({ kept: 1, built: 0 });
    expect(cycle(taken, [queued('g2', 1, '8')]).reservations[0]!.nodeRequests).toEqual({
      'c1-n2': { 'nvidia.com/gpu': '8' },
    });
  });

  it("holds back a gang its queue's quota cannot hold, counting reservations and this cycle's gangs", () => {
    const quotas = [{ name: 'research', nominal: { 'nvidia.com/gpu': 8000n } }];
    // 2 GPUs already held by a reservation of the queue; g1 (4) fits, g2 (4) then does not,
    // though the cluster has room; a gang of another queue is not limited.
    const reservations: ReservationRow[] = [
      {
        jobId: 'old',
        queue: 'research',
        cluster: 'c1',
        fencingToken: 1,
        nodeRequests: { 'c1-n1': { 'nvidia.com/gpu': '2' } },
      },
    ];
    const p = plan(snapshot([cluster('c1', [8, 8, 8])], { quotas, reservations }), [
      queued('g1', 4, '1'),
      queued('g2', 4, '1'),
      queued('other', 4, '1', { queue: 'prod' }),
    ]);
    expect(p.reservations.map((r) => r.jobId).sort()).toEqual(['g1', 'other']);
    expect(p.explanations.map((e) => [e.jobId, e.explanation.summary])).toEqual([
      [
        'g2',
        expect.stringMatching(
          /^held by its queue's quota: queue research: needs 4 nvidia.com\/gpu, 2 available/,
        ),
      ],
    ]);
    expect(p.explanations[0]!.explanation.clusters).toEqual([]);
  });

  it('keeps a gang out of the clusters of a cluster set its queue`s quota there is spent in', () => {
    // research may hold 16 GPUs in all, 4 of them in set east; east-1 has room, west-1 too.
    const quotas = [
      { name: 'research', nominal: { 'nvidia.com/gpu': 16000n, 'east:nvidia.com/gpu': 4000n } },
    ];
    const east = { ...cluster('east-1', [8]), clusterSet: 'east' };
    const west = { ...cluster('west-1', [8]), clusterSet: 'west' };
    const reservations: ReservationRow[] = [
      {
        jobId: 'old',
        queue: 'research',
        cluster: 'east-1',
        clusterSet: 'east',
        fencingToken: 1,
        nodeRequests: { 'east-1-n1': { 'nvidia.com/gpu': '2' } },
      },
    ];
    // pack prefers east-1 (fuller); g1 (2) fits east's quota and goes there; g2 (2) then finds
    // east's 4 taken and goes to west-1, explained nowhere since it was placed.
    const p = plan(snapshot([east, west], { quotas, reservations }), [
      queued('g1', 2, '1'),
      queued('g2', 2, '1'),
    ]);
    expect(p.reservations.map((r) => [r.jobId, r.cluster])).toEqual([
      ['g1', 'east-1'],
      ['g2', 'west-1'],
    ]);
    // With west gone too, g2 waits, and every cluster says why.
    const q = plan(snapshot([east], { quotas, reservations }), [
      queued('g1', 2, '1'),
      queued('g2', 2, '1'),
    ]);
    expect(q.reservations.map((r) => r.jobId)).toEqual(['g1']);
    expect(q.explanations.map((e) => [e.jobId, e.explanation.summary])).toEqual([
      [
        'g2',
        "held by its queue's quota: queue research: needs 2 nvidia.com/gpu in cluster set east, 0 available (nominal 4, used 4)",
      ],
    ]);
    // A cluster of another set with room left: held out of east only, explained per cluster.
    const r = plan(
      snapshot([east, { ...cluster('west-1', [1]), clusterSet: 'west' }], { quotas, reservations }),
      [queued('g1', 2, '1'), queued('g2', 2, '1')],
    );
    expect(r.explanations[0]!.explanation.clusters).toEqual([
      expect.objectContaining({ cluster: 'east-1', reasonCode: 'QuotaExceeded' }),
      expect.objectContaining({ cluster: 'west-1', reasonCode: 'InsufficientCapacity' }),
    ]);
  });

  it('holds a gang by its queue`s quota of devices per DRA device class, nested cohorts included', () => {
    // research (in labs, in org) has 2 gpu.example.com devices of its own and lends none;
    // org has 1 of its own to lend. Each member of g1 claims one device.
    const GPU_CLASS = 'gpu.example.com.deviceclass.resource.k8s.io/devices';
    const quotas = [
      {
        name: 'research',
        cohort: 'labs',
        nominal: { [GPU_CLASS]: 2000n },
        lendingLimit: { [GPU_CLASS]: 0n },
      },
    ];
    const cohorts = [
      { name: 'labs', parent: 'org' },
      { name: 'org', nominal: { [GPU_CLASS]: 1000n } },
    ];
    const withClaims = (id: string, count: number): QueuedGang => {
      const g = queued(id, count, '0');
      return {
        ...g,
        gang: {
          ...g.gang,
          podSets: [
            {
              ...g.gang.podSets[0]!,
              template: {
                spec: { resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'one-gpu' }] },
              },
            },
          ],
          claimTemplates: [
            {
              name: 'one-gpu',
              spec: {
                devices: {
                  requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.example.com' } }],
                },
              },
            },
          ],
        },
      };
    };
    const p = plan(snapshot([cluster('c1', [8])], { quotas, cohorts }), [withClaims('g4', 4)]);
    expect(p.explanations.map((e) => e.explanation.summary)).toEqual([
      "held by its queue's quota: queue research: needs 4 gpu.example.com.deviceclass.resource.k8s.io/devices, 3 available (nominal 2, used 0, cohort labs (in org) lends 1 more)",
    ]);
  });

  it('explains a gang with unreadable stored requests as invalid, and places the rest', () => {
    const corrupt = queued('bad', 1, 'eight');
    const p = plan(snapshot([cluster('c1', [8])]), [corrupt, queued('g1', 1, '8')]);
    expect(p.reservations.map((r) => r.jobId)).toEqual(['g1']);
    expect(p.invalid).toBe(1);
    expect(p.explanations).toHaveLength(1);
    expect(p.explanations[0]!.jobId).toBe('bad');
    expect(p.explanations[0]!.explanation.summary).toMatch(
      /^gang cannot be placed: stored requests of pod set "workers" cannot be read: /,
    );
  });

  it('says no cluster is ready when none is, and lists why each registered one is not', () => {
    const unavailable = [
      clusterUnavailable({ name: 'b', cordoned: true, agentState: 'Connected', readOnly: false })!,
      clusterUnavailable({ name: 'a', cordoned: false, agentState: 'Lost', readOnly: false })!,
    ];
    const p = plan(snapshot([], { unavailable }), [queued('g1', 1, '1')]);
    expect(p.reservations).toEqual([]);
    const e = p.explanations[0]!.explanation;
    expect(e.summary).toBe(
      'no cluster is ready: no agent is connected, or every cluster is cordoned',
    );
    expect(e.clusters).toEqual([
      {
        cluster: 'a',
        fits: false,
        reasonCode: 'ClusterNotReady',
        message: 'agent lost; cluster is NotReady',
      },
      { cluster: 'b', fits: false, reasonCode: 'ClusterCordoned', message: 'cluster is cordoned' },
    ]);
    expect(e.evaluatedAt).toBe(NOW.toISOString());
  });

  it('keeps a gang off a cluster that could not run it until the exclusion ends', () => {
    const excludedClusters = {
      c1: {
        reason: 'BindTimeout',
        message: 'members left unbound',
        until: new Date(NOW.getTime() + 1000).toISOString(),
      },
    };
    const p = plan(snapshot([cluster('c1', [8])]), [queued('g1', 1, '8', { excludedClusters })]);
    expect(p.reservations).toEqual([]);
    expect(p.explanations[0]!.explanation.summary).toBe(
      'every ready cluster failed to run all 1 members; waiting until an exclusion ends',
    );
    const later = plan(snapshot([cluster('c1', [8])], { now: new Date(NOW.getTime() + 2000) }), [
      queued('g1', 1, '8', { excludedClusters }),
    ]);
    expect(later.reservations.map((r) => r.jobId)).toEqual(['g1']);
  });

  it('does not rewrite an explanation that did not change', () => {
    const first = plan(snapshot([cluster('c1', [0])]), [queued('g1', 1, '8')]);
    const stored = first.explanations[0]!.explanation;
    const again = plan(snapshot([cluster('c1', [0])]), [
      queued('g1', 1, '8', { explained: explanationDigest(stored) }),
    ]);
    expect(again.explanations).toEqual([]);
    expect(again.unplaced).toBe(1);
  });

  it('rewrites a changed verdict at once, and changed figures only once a minute', () => {
    // Stored: c1 has 4 GPUs free, too few for a gang of one 8-GPU member.
    const stored = plan(snapshot([cluster('c1', [4])]), [queued('g1', 1, '8')]).explanations[0]!
      .explanation;
    const later = (ms: number) => new Date(NOW.getTime() + ms);
    const next = (free: number[], ms: number, clusters = [cluster('c1', free)]) =>
      plan(snapshot(clusters, { now: later(ms) }), [
        queued('g1', 1, '8', { explained: explanationDigest(stored) }),
      ]).explanations;
    // 2 GPUs free now: the same verdict with another figure; not written within the minute...
    expect(next([2], 10_000)).toEqual([]);
    // ...and written once the stored text is a minute old.
    expect(next([2], 60_000)).toHaveLength(1);
    expect(next([2], 60_000)[0]!.explanation.clusters[0]!.message).toBe(
      'cluster has 2 nvidia.com/gpu free, gang needs 8',
    );
    expect(stored.clusters[0]!.message).toBe('cluster has 4 nvidia.com/gpu free, gang needs 8');
    // A new verdict (another cluster, say) is written at once.
    expect(next([2], 10_000, [cluster('c1', [2]), cluster('c2', [0])])).toHaveLength(1);
  });

  it('with explainedAt, evaluates a queued gang again only once EXPLANATION_CHECK_MS passed', () => {
    const explainedAt = new Map<string, number>();
    const at = (ms: number) => new Date(NOW.getTime() + ms);
    const cycle = (clusters: CycleCluster[], ms: number, explained: ExplanationDigest | null) =>
      planCycle(snapshot(clusters, { now: at(ms) }), [queued('g1', 1, '8', { explained })], {
        policy: 'pack',
        explainedAt,
      });
    // A gang without an explanation gets one at once.
    const first = cycle([cluster('c1', [4])], 0, null);
    expect(first.explanations.map((e) => e.jobId)).toEqual(['g1']);
    const stored = explanationDigest(first.explanations[0]!.explanation)!;
    expect(explainedAt.get('g1')).toBe(NOW.getTime());
    // A second later another cluster joins (a new verdict): not evaluated yet...
    const two = [cluster('c1', [4]), cluster('c2', [2])];
    expect(cycle(two, 1_000, stored).explanations).toEqual([]);
    // ...until EXPLANATION_CHECK_MS passed since it was evaluated; then it is written.
    const due = cycle(two, EXPLANATION_CHECK_MS, stored).explanations;
    expect(due.map((e) => e.explanation.clusters.map((c) => c.cluster))).toEqual([['c1', 'c2']]);
    // A new leader knows of no evaluation: it evaluates every gang at once, stored text or not.
    explainedAt.clear();
    expect(cycle(two, EXPLANATION_CHECK_MS + 1, stored).explanations).toHaveLength(1);
    // A gang that left the batch is forgotten.
    planCycle(snapshot(two, { now: at(EXPLANATION_CHECK_MS) }), [], {
      policy: 'pack',
      explainedAt,
    });
    expect(explainedAt.size).toBe(0);
  });

  it('offers queues by weighted fair share, so one queue cannot take every slot', () => {
    const gangs = [
      ...['a1', 'a2', 'a3'].map((id) => queued(id, 1, '8', { queue: 'a' })),
      ...['b1', 'b2', 'b3'].map((id) => queued(id, 1, '8', { queue: 'b' })),
    ];
    // Weight 2 against 1: after a1 (a's share 8/32 ÷ 2) b1 goes, then a2 (a at 1/8 < b at 1/4).
    const p = plan(
      snapshot([cluster('c1', [8, 8, 8, 8])], {
        weights: new Map([
          ['a', 2],
          ['b', 1],
        ]),
      }),
      gangs,
    );
    expect(p.reservations.map((r) => r.jobId)).toEqual(['a1', 'b1', 'a2', 'a3']);
  });

  it('orders by what queues hold already: a queue running much yields to one running nothing', () => {
    const gangs = [queued('a1', 1, '8', { queue: 'a' }), queued('b1', 1, '8', { queue: 'b' })];
    const held: ReservationRow = {
      jobId: 'old',
      queue: 'a',
      cluster: 'c1',
      fencingToken: 1,
      nodeRequests: { 'c1-n1': { 'nvidia.com/gpu': '8' } },
    };
    const p = plan(
      snapshot([cluster('c1', [8, 8])], {
        weights: new Map([
          ['a', 1],
          ['b', 1],
        ]),
        reservations: [held],
      }),
      gangs,
    );
    expect(p.reservations.map((r) => r.jobId)).toEqual(['b1']);
  });

  it('holds back a queue at its fair share while one below its own waits for room', () => {
    // small (weight 1) holds 8 of 24 GPUs: above its quarter. big (weight 3) holds nothing and
    // needs two whole nodes; only one is free, so it waits, and small's gang must not take the
    // room it waits for.
    const held: ReservationRow = {
      jobId: 'old',
      queue: 'small',
      cluster: 'c1',
      fencingToken: 1,
      nodeRequests: { 'c1-n1': { 'nvidia.com/gpu': '8' } },
    };
    const gangs = [
      queued('big1', 2, '8', { queue: 'big' }),
      queued('small1', 1, '4', { queue: 'small' }),
    ];
    const p = plan(
      snapshot([cluster('c1', [0, 8, 4], ['old#1'])], {
        weights: new Map([
          ['big', 3],
          ['small', 1],
        ]),
        reservations: [held],
      }),
      gangs,
    );
    expect(p.reservations).toEqual([]);
    expect(p.explanations.find((e) => e.jobId === 'small1')?.explanation.summary).toBe(
      'waiting for its turn: queue small has its fair share of the fleet while queue big, below its own, waits for room',
    );
  });

  it('is not held back by a gang that no room would let in (a selector no node matches)', () => {
    const held: ReservationRow = {
      jobId: 'old',
      queue: 'small',
      cluster: 'c1',
      fencingToken: 1,
      nodeRequests: { 'c1-n1': { 'nvidia.com/gpu': '8' } },
    };
    const nowhere = queued('big1', 1, '8', { queue: 'big' });
    nowhere.gang.podSets[0]!.template = { spec: { nodeSelector: { pool: 'none' } } };
    const p = plan(
      snapshot([cluster('c1', [0, 8, 4], ['old#1'])], {
        weights: new Map([
          ['big', 3],
          ['small', 1],
        ]),
        reservations: [held],
      }),
      [nowhere, queued('small1', 1, '4', { queue: 'small' })],
    );
    expect(p.reservations.map((r) => r.jobId)).toEqual(['small1']);
  });

  it('times every phase', () => {
    const p = plan(snapshot([cluster('c1', [8])]), [queued('g1', 1, '8')]);
    expect(Object.keys(p.phases)).toEqual([...CYCLE_PHASES]);
    for (const ms of Object.values(p.phases)) expect(ms).toBeGreaterThanOrEqual(0);
  });
});

describe('deductReservations', () => {
  const c1 = (reflected: string[] = []): CycleCluster => ({
    name: 'c1',
    topologyLevels: [HOST],
    nodes: [
      { name: 'n1', allocatable: { 'nvidia.com/gpu': 8000n }, free: { 'nvidia.com/gpu': 8000n } },
      { name: 'n2', allocatable: { 'nvidia.com/gpu': 8000n }, free: { 'nvidia.com/gpu': 2000n } },
    ],
    reflected: new Set(reflected),
  });
  const reservation = {
    jobId: 'g1',
    cluster: 'c1',
    fencingToken: 3,
    nodeRequests: { n1: { 'nvidia.com/gpu': '6' } },
  };

  it('subtracts reservations the report does not reflect yet', () => {
    const [c] = deductReservations([c1()], [reservation]).clusters;
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(2000n);
    expect(c!.nodes[1]!.free['nvidia.com/gpu']).toBe(2000n);
  });

  it('does not subtract twice what the report already reflects', () => {
    const [c] = deductReservations([c1(['g1#3'])], [reservation]).clusters;
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(8000n);
  });

  it('treats a reflected older token as not reflecting the current reservation', () => {
    const [c] = deductReservations([c1(['g1#2'])], [reservation]).clusters;
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(2000n);
  });

  it('counts a node of a reservation with unreadable requests as full, and names it', () => {
    const corrupt = {
      ...reservation,
      jobId: 'g9',
      nodeRequests: { n2: { 'nvidia.com/gpu': 'lots' } },
    };
    const { clusters, unreadable } = deductReservations([c1()], [reservation, corrupt]);
    expect(clusters[0]!.nodes[0]!.free['nvidia.com/gpu']).toBe(2000n);
    expect(clusters[0]!.nodes[1]!.free['nvidia.com/gpu']).toBe(0n);
    expect(unreadable).toEqual(['g9']);
  });

  it('parses a reservation once while it holds capacity, and forgets it once released', () => {
    const parsed = new ReservationRequests();
    const first = parsed.of(reservation);
    parsed.endCycle();
    expect(parsed.of({ ...reservation })).toBe(first); // a new row of the same reservation
    parsed.endCycle();
    parsed.endCycle(); // a cycle that did not read it: released
    expect(parsed.of(reservation)).not.toBe(first);
    // A new fencing token is a new reservation, read anew.
    expect(parsed.of({ ...reservation, fencingToken: 4 })).not.toBe(parsed.of(reservation));
    const [c] = deductReservations([c1()], [reservation], parsed).clusters;
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(2000n);
  });

  describe('devices a reservation took', () => {
    const device = (name: string, extra: Partial<Device> = {}): Device => ({
      driver: 'gpu.example.com',
      pool: 'n1',
      name,
      ...extra,
    });
    const withDevices = (devices: Device[]): CycleCluster => ({
      ...c1(['g1#3']),
      nodes: [{ ...c1().nodes[0]!, devices }],
    });
    const held = {
      ...reservation,
      devices: [{ node: 'n1', devices: ['gpu.example.com/n1/d0', 'gpu.example.com/n1/d1'] }],
    };
    const allocated = (c: ClusterSnapshot) =>
      c.nodes[0]!.devices!.filter((d) => d.allocated).map((d) => d.name);

    it('stay taken, even once the report reflects the pods, until it shows the gang holding them', () => {
      const four = ['d0', 'd1', 'd2', 'd3'].map((n) => device(n));
      const [c] = deductReservations([withDevices(four)], [held]).clusters;
      expect(allocated(c!)).toEqual(['d0', 'd1']);
    });

    it('count as the report says once it shows the gang holding as many, whichever they are', () => {
      const four = ['d0', 'd1', 'd2', 'd3'].map((n) =>
        n === 'd2' || n === 'd3' ? device(n, { allocated: true, heldBy: 'g1#3' }) : device(n),
      );
      const [c] = deductReservations([withDevices(four)], [held]).clusters;
      expect(allocated(c!)).toEqual(['d2', 'd3']);
    });

    it('take what the gang does not hold yet while the report shows fewer held by it', () => {
      const four = ['d0', 'd1', 'd2', 'd3'].map((n) =>
        n === 'd2'
          ? device(n, { allocated: true, heldBy: 'g1#3' })
          : n === 'd3'
            ? device(n, { allocated: true })
            : device(n),
      );
      // One of its two is held (d2), d3 by someone else: one more (d0, its own choice) stays taken.
      const [c] = deductReservations([withDevices(four)], [held]).clusters;
      expect(allocated(c!)).toEqual(['d0', 'd2', 'd3']);
    });

    it('still take as many when another gang holds the ones placement chose, the most alike first', () => {
      // The worker gave d0 and d1 (this reservation's choice) to gang g2; g1 will get two others.
      const h100 = { 'gpu.example.com/model': 'H100' };
      const five = [
        device('d0', { allocated: true, heldBy: 'g2#1', attributes: h100 }),
        device('d1', { allocated: true, heldBy: 'g2#1', attributes: h100 }),
        device('d2', { attributes: { 'gpu.example.com/model': 'L40S' } }),
        device('d3', { attributes: h100 }),
        device('d4', { attributes: h100 }),
        device('e0', { pool: 'other', attributes: h100 }),
      ];
      const [c] = deductReservations([withDevices(five)], [held]).clusters;
      expect(allocated(c!)).toEqual(['d0', 'd1', 'd3', 'd4']);
      // With g1 shown holding one of them, one more stays taken (d3, chosen by likeness then name).
      five[3] = device('d3', { allocated: true, heldBy: 'g1#3', attributes: h100 });
      const [again] = deductReservations([withDevices(five)], [held]).clusters;
      expect(allocated(again!)).toEqual(['d0', 'd1', 'd3', 'd4']);
      // Two reservations never take the same device for themselves.
      const other = { ...held, jobId: 'g3', fencingToken: 1 };
      const [both] = deductReservations([withDevices(five)], [held, other]).clusters;
      expect(allocated(both!)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    });
  });

  it('ignores reservations of other clusters and does not mutate its input', () => {
    const input = c1();
    const [c] = deductReservations([input], [{ ...reservation, cluster: 'c2' }]).clusters;
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(8000n);
    deductReservations([input], [reservation]);
    expect(input.nodes[0]!.free['nvidia.com/gpu']).toBe(8000n);
    expect('reflected' in c!).toBe(false);
  });
});

describe('gangOf', () => {
  it('parses a gang spec once, and each job keeps its own id and exclusions', () => {
    const a = queued('g1', 2, '1');
    const again = gangOf(a, NOW);
    expect(gangOf(a, NOW)).toBe(again); // the same view: not parsed again
    // Two jobs holding one spec object (a copy of a job, say) still get views of their own.
    const b = { ...a, id: 'g2' };
    expect(gangOf(b, NOW)).toMatchObject({ ok: true, gang: { id: 'g2' } });
    expect(gangOf(a, NOW)).toMatchObject({ ok: true, gang: { id: 'g1' } });
    // Exclusions are applied per cycle on top of the parsed view, and end when they expire.
    const until = new Date(NOW.getTime() + 60_000).toISOString();
    const excluded = {
      ...a,
      excludedClusters: { c1: { reason: 'BindTimeout', message: 'm', until } },
    };
    expect(gangOf(excluded, NOW)).toMatchObject({
      ok: true,
      gang: { excludedClusters: { c1: expect.any(String) } },
    });
    const later = new Date(NOW.getTime() + 120_000);
    const view = gangOf(excluded, later);
    expect(view.ok && view.gang.excludedClusters).toBeFalsy();
  });
});
