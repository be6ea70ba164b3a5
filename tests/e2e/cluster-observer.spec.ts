// The observer's judging part on hand-made pod and node lists: each violation it exists to find
// is seeded once and must be reported; the same lists without the seed must report nothing.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import {
  chargedNode,
  ClusterObserver,
  GangLedger,
  milli,
  podCharge,
  type ClusterReader,
  type ClusterState,
} from '../support/cluster-observer';

function node(name: string, allocatable: Record<string, string>): V1Node {
  return { metadata: { name }, status: { allocatable, capacity: allocatable } };
}

interface PodOpts {
  gang?: string;
  token?: number;
  index?: number;
  pin?: string;
  nodeName?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  gated?: boolean;
  deleting?: boolean;
  requests?: Record<string, string>;
}

function pod(o: PodOpts): V1Pod {
  return {
    metadata: {
      name: `${o.gang ?? 'plain'}-${o.token ?? 1}-${o.index ?? 0}`,
      namespace: 'default',
      labels: o.gang
        ? { 'muster.dev/gang-id': o.gang, 'muster.dev/fencing-token': String(o.token ?? 1) }
        : {},
      ...(o.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'x',
          resources: { requests: o.requests ?? { cpu: '100m', memory: '128Mi' } },
        },
      ],
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.gated ? { schedulingGates: [{ name: 'muster.dev/gang' }] } : {}),
      ...(o.pin
        ? {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchFields: [{ key: 'metadata.name', operator: 'In', values: [o.pin] }],
                    },
                  ],
                },
              },
            },
          }
        : {}),
    },
    status: { phase: o.phase ?? 'Pending' },
  };
}

/** `n` members of one gang copy, all pinned to `pin`, Running and bound there. */
function gang(gangId: string, n: number, extra: Partial<PodOpts> = {}): V1Pod[] {
  return Array.from({ length: n }, (_, i) =>
    pod({ gang: gangId, index: i, pin: 'n0', nodeName: 'n0', phase: 'Running', ...extra }),
  );
}

const NODES = [
  node('n0', { cpu: '8', memory: '64Gi', pods: '4', 'example.com/gpu': '2' }),
  node('n1', { cpu: '8', memory: '64Gi', pods: '4' }),
];

function one(pods: V1Pod[], nodes = NODES): Map<string, ClusterState> {
  return new Map([['w1', { pods, nodes }]]);
}

function kinds(l: GangLedger): string[] {
  return l.violations.map((v) => v.kind);
}

describe('quantities and charges', () => {
  it('parses quantities in thousandths', () => {
    expect(milli('100m')).toBe(100);
    expect(milli('2')).toBe(2000);
    expect(milli('1Gi')).toBe(1024 ** 3 * 1000);
    expect(milli('1.5k')).toBe(1_500_000);
    expect(milli(3)).toBe(3000);
    expect(() => milli('lots')).toThrow(/not a quantity/);
  });

  it('charges one pod slot, containers, init peak, sidecars and overhead', () => {
    const p = pod({ requests: { cpu: '1', memory: '1Gi' } });
    p.spec!.initContainers = [
      { name: 'side', image: 'x', restartPolicy: 'Always', resources: { requests: { cpu: '1' } } },
      { name: 'init', image: 'x', resources: { requests: { cpu: '3', memory: '4Gi' } } },
    ];
    p.spec!.overhead = { cpu: '250m' };
    const c = podCharge(p);
    // containers 1 + sidecar 1 = 2 < init 3 + sidecar 1 = 4; + 250m overhead
    expect(c.get('cpu')).toBe(4250);
    expect(c.get('memory')).toBe(4 * 1024 ** 3 * 1000);
    expect(c.get('pods')).toBe(1000);
  });

  it('charges a pod to spec.nodeName, else to its metadata.name pin', () => {
    expect(chargedNode(pod({ pin: 'n1' }))).toBe('n1');
    expect(chargedNode(pod({ pin: 'n1', nodeName: 'n0' }))).toBe('n0');
    expect(chargedNode(pod({}))).toBeUndefined();
  });
});

describe('GangLedger', () => {
  it('reports nothing for whole gangs within allocatable, and records them whole-Running', () => {
    const l = new GangLedger(
      new Map([
        ['a', 4],
        ['b', 2],
      ]),
    );
    const b = gang('b', 2, { pin: 'n1', nodeName: 'n1' });
    l.observe(0, one([...gang('a', 4), ...b]));
    l.observe(300, one([...gang('a', 4, { phase: 'Succeeded' }), ...b]));
    expect(l.violations).toEqual([]);
    expect([...l.wholeRunning].sort()).toEqual(['a', 'b']);
    expect(l.maxPartialMs).toBe(0);
  });

  it('flags a node booked past its pod slots by Pending pinned pods (not only bound ones)', () => {
    const l = new GangLedger(new Map([['a', 6]]));
    // 4 bound on n0 (its 4 slots), 2 more pinned there and Pending: the hub over-booked.
    const pods = [
      ...gang('a', 4),
      pod({ gang: 'a', index: 4, pin: 'n0' }),
      pod({ gang: 'a', index: 5, pin: 'n0' }),
    ];
    l.observe(0, one(pods));
    expect(kinds(l)).toContain('node-over-committed');
    expect(l.violations.find((v) => v.kind === 'node-over-committed')!.detail).toMatch(
      /w1\/n0: pods 6 of 4/,
    );
  });

  it('flags cpu, memory and extended resources past allocatable; terminal pods are free', () => {
    const l = new GangLedger(new Map());
    l.observe(
      0,
      one([
        pod({ pin: 'n1', requests: { cpu: '5', memory: '40Gi' } }),
        pod({ pin: 'n1', index: 1, requests: { cpu: '4', memory: '30Gi' } }),
        pod({ pin: 'n0', index: 2, requests: { cpu: '1', 'example.com/gpu': '3' } }),
        pod({ pin: 'n0', index: 3, phase: 'Succeeded', requests: { cpu: '8' } }),
      ]),
    );
    const details = l.violations.map((v) => v.detail).join('\n');
    expect(details).toMatch(/n1: cpu 9000m of 8000m, memory .* booked/);
    expect(details).toMatch(/n0: example.com\/gpu 3 of 2 booked/);
    expect(details).not.toMatch(/n0: cpu/);
  });

  it('flags a gang partly bound with every member ungated, times it, and flags its abandonment', () => {
    const l = new GangLedger(new Map([['a', 4]]));
    const partial = [
      ...gang('a', 2),
      pod({ gang: 'a', index: 2, pin: 'n1' }),
      pod({ gang: 'a', index: 3, pin: 'n1' }),
    ];
    l.observe(0, one(partial));
    l.observe(4000, one(partial));
    expect(l.maxPartialMs).toBe(4000);
    expect(l.openPartials()).toHaveLength(1);
    // The agent's bind timeout deletes it without the rest ever binding.
    l.observe(5000, one([]));
    expect(l.partialMs.get('a')).toBe(5000);
    expect(kinds(l)).toEqual(['partial-gang-abandoned']);
    expect(l.wholeRunning.has('a')).toBe(false);
  });

  it('counts a partial window that ends whole-bound, without a violation', () => {
    const l = new GangLedger(new Map([['a', 4]]));
    l.observe(0, one([...gang('a', 3), pod({ gang: 'a', index: 3, pin: 'n1' })]));
    l.observe(200, one(gang('a', 4)));
    expect(l.violations).toEqual([]);
    expect(l.partialMs.get('a')).toBe(200);
    expect(l.wholeRunning.has('a')).toBe(true);
    expect(l.wholeBound.has('a')).toBe(true);
  });

  it('records a gang bound together only when no member had finished yet', () => {
    const l = new GangLedger(new Map([['a', 3]]));
    // Members started one by one: the first finished before the last was bound.
    l.observe(0, one([...gang('a', 2), pod({ gang: 'a', index: 2, pin: 'n1' })]));
    l.observe(
      300,
      one([
        ...gang('a', 1, { phase: 'Succeeded' }),
        pod({ gang: 'a', index: 1, pin: 'n0', nodeName: 'n0', phase: 'Running' }),
        pod({ gang: 'a', index: 2, pin: 'n1', nodeName: 'n1' }),
      ]),
    );
    expect(l.wholeBound.has('a')).toBe(false);
    expect(l.wholeRunning.has('a')).toBe(false);
    l.observe(600, one([...gang('a', 2), pod({ gang: 'a', index: 2, pin: 'n1', nodeName: 'n1' })]));
    expect(l.wholeBound.has('a')).toBe(true);
    expect(l.wholeRunning.has('a')).toBe(false);
  });

  it('flags members ungated before the whole gang exists, not a whole gang shrinking', () => {
    const l = new GangLedger(
      new Map([
        ['a', 4],
        ['b', 4],
      ]),
    );
    l.observe(0, one([...gang('a', 2), ...gang('b', 4, { pin: 'n1', nodeName: 'n1' })]));
    l.observe(300, one([...gang('b', 3, { pin: 'n1', nodeName: 'n1' })]));
    expect(kinds(l)).toEqual(['partial-gang-ungated']);
    expect(l.violations[0]!.detail).toMatch(/gang a has 2 of 4 members, 2 ungated/);
  });

  it('ignores a gang while it is held by the gate, even partly created', () => {
    const l = new GangLedger(new Map([['a', 4]]));
    l.observe(0, one(gang('a', 2, { gated: true, nodeName: undefined, phase: 'Pending' })));
    expect(l.violations).toEqual([]);
  });

  it('counts a terminating copy as live: two clusters, and two tokens', () => {
    const l = new GangLedger(new Map([['a', 2]]));
    const old = gang('a', 2, { token: 1, deleting: true });
    const fresh = gang('a', 2, { token: 2 });
    l.observe(
      0,
      new Map([
        ['w1', { pods: old, nodes: NODES }],
        ['w2', { pods: fresh, nodes: NODES }],
      ]),
    );
    expect(kinds(l).sort()).toEqual(['gang-in-two-clusters', 'two-live-tokens']);
    // Same cluster, fenced copy still terminating beside the new one.
    const l2 = new GangLedger(new Map([['a', 2]]));
    l2.observe(
      0,
      one([...gang('a', 2, { token: 1, deleting: true, pin: 'n1', nodeName: 'n1' }), ...fresh]),
    );
    expect(kinds(l2)).toEqual(['two-live-tokens']);
    // A finished copy is not live.
    const l3 = new GangLedger(new Map([['a', 2]]));
    l3.observe(
      0,
      one([...gang('a', 2, { token: 1, phase: 'Succeeded', pin: 'n1', nodeName: 'n1' }), ...fresh]),
    );
    expect(l3.violations).toEqual([]);
    expect([...l.seen.get('a')!].sort()).toEqual(['w1', 'w2']);
  });
});

describe('GangLedger subjects and whole sightings', () => {
  it('names the gang or node each violation is about, for counting distinct ones', () => {
    const l = new GangLedger(new Map([['a', 2]]));
    l.observe(
      0,
      new Map([
        ['w1', { pods: gang('a', 2, { token: 1 }), nodes: NODES }],
        [
          'w2',
          {
            pods: [
              ...gang('a', 2, { token: 2 }),
              pod({ gang: 'b', index: 0, pin: 'n1', requests: { cpu: '9' } }),
            ],
            nodes: NODES,
          },
        ],
      ]),
    );
    const subjects = new Map(l.violations.map((v) => [v.kind, v.subject]));
    expect(subjects.get('gang-in-two-clusters')).toBe('a');
    expect(subjects.get('two-live-tokens')).toBe('a');
    expect(subjects.get('node-over-committed')).toBe('w2/n1');
    const l2 = new GangLedger(new Map([['c', 3]]));
    l2.observe(0, one(gang('c', 1)));
    expect(l2.violations.map((v) => [v.kind, v.subject])).toEqual([['partial-gang-ungated', 'c']]);
  });

  it('records the first sample that saw each copy whole, Running or bound, once', () => {
    const l = new GangLedger(new Map([['a', 2]]));
    l.observe(
      100,
      one(gang('a', 2, { token: 1, phase: 'Pending', gated: true, nodeName: undefined })),
    );
    expect(l.firstWhole.get('a')).toBeUndefined();
    l.observe(200, one(gang('a', 2, { token: 1, phase: 'Pending' }))); // bound, not yet Running
    l.observe(300, one(gang('a', 2, { token: 1 })));
    l.observe(900, one(gang('a', 2, { token: 2, pin: 'n1', nodeName: 'n1' })));
    expect(l.firstWhole.get('a')).toEqual([
      { cluster: 'w1', token: '1', at: 200 },
      { cluster: 'w1', token: '2', at: 900 },
    ]);
  });
});

describe('ClusterObserver keeping the last read', () => {
  /** A reader whose answers the test hands out: a list, a stall, or a failure. */
  function scripted(): ClusterReader & {
    next: (r: V1Pod[] | Error | 'stall') => void;
    release: () => void;
  } {
    let answer: V1Pod[] | Error | 'stall' = [];
    let waiting: (() => void)[] = [];
    return {
      next: (r) => (answer = r),
      release: () => {
        const w = waiting;
        waiting = [];
        for (const f of w) f();
      },
      async pods() {
        const a = answer;
        if (a === 'stall') {
          await new Promise<void>((r) => waiting.push(r));
          return [];
        }
        if (a instanceof Error) throw a;
        return a;
      },
      nodes: async () => NODES,
    };
  }

  it('judges a cluster that stopped answering on its last read, conservatively, and counts it', async () => {
    const w1 = scripted();
    const w2 = scripted();
    const o = ClusterObserver.withReaders(
      new Map([
        ['w1', w1],
        ['w2', w2],
      ]),
      new Map([['a', 2]]),
      { keepLastRead: true, readWaitMs: 20 },
    );
    w1.next(gang('a', 2, { token: 1 }));
    await o.sample();
    expect(o.samples).toBe(1);
    expect(o.violations).toEqual([]);
    // w1's API server stops: its last pods stay live while the gang turns up in w2.
    w1.next('stall');
    await o.sample(); // starts the read that stalls
    w2.next(gang('a', 2, { token: 2, pin: 'n1', nodeName: 'n1' }));
    await o.sample();
    expect(o.violations.map((v) => v.kind).sort()).toEqual([
      'gang-in-two-clusters',
      'two-live-tokens',
    ]);
    expect(o.failedSamples).toBe(2);
    expect(o.readStats.get('w1')!.staleSamples).toBe(2);
    expect(o.readStats.get('w1')!.staleAt).toHaveLength(2);
    expect(o.readStats.get('w2')!.staleSamples).toBe(0);
    // It answers again (with the old copy gone): fresh samples, and no new violation.
    w1.next([]);
    w1.release();
    const before = o.violations.length;
    await o.sample();
    await o.sample();
    expect(o.violations).toHaveLength(before);
    expect(o.lastRead('w1')!.state.pods).toEqual([]);
    expect(o.samples).toBeGreaterThanOrEqual(2);
    await o.stop();
  });

  it('counts a read that fails, keeps the last one, and tells when it failed', async () => {
    const w1 = scripted();
    const o = ClusterObserver.withReaders(new Map([['w1', w1]]), new Map(), {
      keepLastRead: true,
      readWaitMs: 20,
    });
    w1.next([pod({ pin: 'n0' })]);
    await o.sample();
    w1.next(new Error('connect ECONNREFUSED'));
    const t = Date.now();
    await o.sample();
    const st = o.readStats.get('w1')!;
    expect(st.failedReads).toBe(1);
    expect(st.failures[0]!.error).toBe('connect ECONNREFUSED');
    expect(st.failures[0]!.at).toBeGreaterThanOrEqual(t);
    expect(o.lastRead('w1')!.state.pods).toHaveLength(1);
    expect(o.failedSamples).toBe(1);
    expect(o.errors).toEqual(['w1: connect ECONNREFUSED']);
  });

  it('without keepLastRead drops a sample that could not read every cluster, as before', async () => {
    const w1 = scripted();
    const w2 = scripted();
    const o = ClusterObserver.withReaders(
      new Map([
        ['w1', w1],
        ['w2', w2],
      ]),
      new Map([['a', 2]]),
    );
    w1.next(gang('a', 2, { token: 1 }));
    w2.next(new Error('boom'));
    await o.sample();
    expect(o.samples).toBe(0);
    expect(o.failedSamples).toBe(1);
    expect(o.violations).toEqual([]);
    expect(o.errors).toEqual(['boom']);
  });
});
