// The observer's judging part on hand-made pod and node lists: each violation it exists to find
// is seeded once and must be reported; the same lists without the seed must report nothing.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import {
  chargedNode,
  GangLedger,
  milli,
  podCharge,
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
