import { MemberPhase } from '@muster/api';
import { allocatedDevices, sliceRecord } from './devices';
import { ClusterModel, schedulerReason } from './model';
import type { MemberMeta, NodeRecord, PodRecord } from './objects';

const GI = 1024n ** 3n * 1000n;

function node(name: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name,
    labels: { 'kubernetes.io/hostname': name },
    taints: [],
    allocatable: { cpu: 8000n, memory: 64n * GI, pods: 110_000n, 'nvidia.com/gpu': 8000n },
    unschedulable: false,
    ready: true,
    ...over,
  };
}

let seq = 0;
function pod(
  over: Omit<Partial<PodRecord>, 'member'> & { member?: Partial<MemberMeta> } = {},
): PodRecord {
  const name = over.name ?? `p${seq++}`;
  const ns = over.namespace ?? 'ns';
  const { member, ...rest } = over;
  return {
    key: `${ns}/${name}`,
    namespace: ns,
    name,
    nodeName: 'n1',
    phase: 'Running',
    terminal: false,
    deleting: false,
    gated: false,
    terminationGraceSeconds: 30,
    requests: { cpu: 1000n, memory: GI, pods: 1000n },
    pinnedNode: '',
    reason: '',
    exitCode: 0,
    disruption: '',
    uid: '',
    notice: '',
    claimTemplates: [],
    ...rest,
    ...(member
      ? {
          member: {
            gangId: 'g1',
            jobId: 'j1',
            token: 1,
            podSet: 'w',
            index: 0,
            onClusterLost: 'wait',
            gangSize: 2,
            ...member,
          },
        }
      : {}),
  };
}

function free(m: ClusterModel, n: string) {
  return m.nodeState(n)!.free!.quantities;
}

describe('ClusterModel accounting', () => {
  it('subtracts the requests of non-terminal pods bound to a node', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.upsertPod(pod({ name: 'a' }));
    m.upsertPod(pod({ name: 'b', requests: { cpu: 2500n, 'nvidia.com/gpu': 4000n, pods: 1000n } }));
    m.upsertPod(pod({ name: 'unbound', nodeName: '' }));
    m.upsertPod(pod({ name: 'done', phase: 'Succeeded', terminal: true }));
    expect(free(m, 'n1')).toEqual({
      cpu: '4500m',
      memory: '63Gi',
      'nvidia.com/gpu': '4',
      pods: '108',
    });
    expect(m.nodeState('n1')!.allocatable!.quantities).toEqual({
      cpu: '8',
      memory: '64Gi',
      'nvidia.com/gpu': '8',
      pods: '110',
    });
  });

  it('counts terminating pods until they are gone and frees on completion', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.upsertPod(pod({ name: 'a' }));
    m.upsertPod(pod({ name: 'a', deleting: true }));
    expect(free(m, 'n1').cpu).toBe('7');
    m.upsertPod(pod({ name: 'a', phase: 'Failed', terminal: true }));
    expect(free(m, 'n1').cpu).toBe('8');
    m.removePod('ns/a');
    expect(free(m, 'n1').cpu).toBe('8');
  });

  it('moves usage when a pod is bound, and never reports below zero', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.upsertNode(node('n2'));
    m.upsertPod(pod({ name: 'a', nodeName: '' }));
    expect(free(m, 'n1').cpu).toBe('8');
    m.upsertPod(pod({ name: 'a', nodeName: 'n2' }));
    expect(free(m, 'n2').cpu).toBe('7');
    m.upsertPod(pod({ name: 'big', nodeName: 'n2', requests: { cpu: 100_000n } }));
    expect(free(m, 'n2').cpu).toBe('0');
  });

  it('counts pods bound to a node it has not seen yet once the node appears', () => {
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'a', nodeName: 'late' }));
    m.upsertNode(node('late'));
    expect(free(m, 'late').cpu).toBe('7');
  });
});

describe('ClusterModel deltas', () => {
  it('reports new, changed and removed nodes once, then nothing', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.upsertNode(node('n2'));
    expect(m.takeSnapshot().nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(m.takeDelta()).toBeUndefined();

    m.upsertNode(node('n1')); // no relevant change (e.g. a heartbeat)
    expect(m.takeDelta()).toBeUndefined();

    m.upsertNode(node('n1', { unschedulable: true }));
    m.upsertNode(node('n3'));
    m.removeNode('n2');
    const d = m.takeDelta()!;
    expect(d.upsertedNodes.map((n) => [n.name, n.unschedulable])).toEqual([
      ['n1', true],
      ['n3', false],
    ]);
    expect(d.removedNodes).toEqual(['n2']);
    expect(m.takeDelta()).toBeUndefined();
  });

  it('reports a node whose free capacity changed', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.takeSnapshot();
    m.upsertPod(pod({ name: 'a' }));
    expect(m.takeDelta()!.upsertedNodes[0]!.free!.quantities.cpu).toBe('7');
    m.upsertPod(pod({ name: 'a' })); // same pod again: still dirty-marked but same numbers
    m.takeDelta();
    m.upsertPod(pod({ name: 'x', nodeName: '' }));
    expect(m.takeDelta()).toBeUndefined();
  });

  it('a node removed and re-added in one interval is an upsert', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.takeSnapshot();
    m.removeNode('n1');
    m.upsertNode(node('n1', { ready: false }));
    const d = m.takeDelta()!;
    expect(d.removedNodes).toEqual([]);
    expect(d.upsertedNodes.map((n) => n.ready)).toEqual([false]);
  });
});

describe('ClusterModel gangs', () => {
  it('holds a gang while its pods exist and reflects it once every member is bound', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.upsertPod(pod({ name: 'a', nodeName: '', member: { index: 0 } }));
    m.upsertPod(pod({ name: 'b', nodeName: '', member: { index: 1 } }));
    let s = m.takeSnapshot();
    expect(s.heldGangs).toEqual([{ gangId: 'g1', fencingToken: 1 }]);
    expect(s.reflectedDispatches).toEqual([]);

    m.upsertPod(pod({ name: 'a', member: { index: 0 } }));
    expect(m.takeDelta()!.reflectedDispatches).toEqual([]);
    m.upsertPod(pod({ name: 'b', member: { index: 1 } }));
    const d = m.takeDelta()!;
    expect(d.reflectedDispatches).toEqual([{ gangId: 'g1', fencingToken: 1 }]);
    expect(d.upsertedNodes[0]!.free!.quantities.cpu).toBe('6');
    s = m.takeSnapshot();
    expect(s.reflectedDispatches).toEqual([{ gangId: 'g1', fencingToken: 1 }]);
    expect(m.tokensOf('g1')).toEqual([1]);

    // Every delta carries the whole reflected set, also when only a node changed.
    m.upsertNode(node('n1', { unschedulable: true }));
    expect(m.takeDelta()!.reflectedDispatches).toEqual([{ gangId: 'g1', fencingToken: 1 }]);

    m.upsertPod(pod({ name: 'a', member: { index: 0 }, deleting: true }));
    m.upsertPod(pod({ name: 'b', member: { index: 1 }, deleting: true }));
    expect(m.heldGangs()).toEqual([]);
    m.takeDelta();
    m.removePod('ns/a');
    m.removePod('ns/b');
    expect(m.gang('g1', 1)).toBeUndefined();
    expect(m.tokensOf('g1')).toEqual([]);
    // The gang left the reflected set: that alone is worth a delta.
    const gone = m.takeDelta()!;
    expect(gone.reflectedDispatches).toEqual([]);
  });

  it('keeps tokens of the same gang apart', () => {
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'old', member: { token: 1, gangSize: 1 } }));
    m.upsertPod(pod({ name: 'new', nodeName: '', member: { token: 2, gangSize: 1 } }));
    expect(m.tokensOf('g1')).toEqual([1, 2]);
    expect(m.reflectedGangs()).toEqual([{ gangId: 'g1', fencingToken: 1 }]);
  });
});

describe('ClusterModel member states', () => {
  it('reports each change once, the latest state per member', () => {
    const m = new ClusterModel();
    m.upsertPod(
      pod({ name: 'a', nodeName: '', phase: 'Pending', reason: 'SchedulingGated', member: {} }),
    );
    m.upsertPod(pod({ name: 'a', nodeName: 'n1', phase: 'Pending', member: {} }));
    let states = m.takeMemberChanges();
    expect(states).toHaveLength(1);
    expect(states[0]).toMatchObject({
      phase: MemberPhase.MEMBER_PHASE_PENDING,
      nodeName: 'n1',
      podName: 'a',
    });
    m.upsertPod(pod({ name: 'a', nodeName: 'n1', phase: 'Pending', member: {} }));
    expect(m.hasMemberChanges()).toBe(false);
    m.upsertPod(pod({ name: 'a', phase: 'Running', member: {} }));
    m.upsertPod(
      pod({
        name: 'b',
        phase: 'Failed',
        terminal: true,
        exitCode: 3,
        reason: 'Error',
        member: { index: 1 },
      }),
    );
    states = m.takeMemberChanges();
    expect(states.map((s) => [s.index, s.phase, s.exitCode, s.reason])).toEqual([
      [0, MemberPhase.MEMBER_PHASE_RUNNING, 0, ''],
      [1, MemberPhase.MEMBER_PHASE_FAILED, 3, 'Error'],
    ]);
  });

  it('reports a member that disappears before ending as LOST, with the reason', () => {
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'a', member: { index: 0 } }));
    m.upsertPod(pod({ name: 'b', member: { index: 1 } }));
    m.upsertPod(pod({ name: 'c', phase: 'Succeeded', terminal: true, member: { index: 2 } }));
    m.takeMemberChanges();
    m.noteDeletion('ns/a', 'Cancelled');
    m.removePod('ns/a');
    m.removePod('ns/b');
    m.removePod('ns/c');
    const states = m.takeMemberChanges();
    expect(states.map((s) => [s.index, s.phase, s.reason])).toEqual([
      [0, MemberPhase.MEMBER_PHASE_LOST, 'Cancelled'],
      [1, MemberPhase.MEMBER_PHASE_LOST, 'Deleted'],
    ]);
  });

  it('keeps LOST states on the monotonic clock: a wall-clock step forward drops none (review 2.19)', () => {
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'a', member: { index: 0 } }));
    m.removePod('ns/a');
    const wall = jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 24 * 3600_000);
    try {
      m.pruneLost(60_000);
      expect(m.takeAllMemberStates().map((s) => s.phase)).toEqual([MemberPhase.MEMBER_PHASE_LOST]);
    } finally {
      wall.mockRestore();
    }
  });

  it('gives the full picture after a reconnect, LOST members included', () => {
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'a', member: { index: 0 } }));
    m.upsertPod(pod({ name: 'b', member: { index: 1 } }));
    m.takeMemberChanges();
    m.removePod('ns/b', 1000);
    const all = m.takeAllMemberStates();
    expect(all.map((s) => [s.index, s.phase]).sort()).toEqual([
      [0, MemberPhase.MEMBER_PHASE_RUNNING],
      [1, MemberPhase.MEMBER_PHASE_LOST],
    ]);
    expect(m.hasMemberChanges()).toBe(false);
    // LOST states are resent on every new stream until they age out.
    expect(m.takeAllMemberStates()).toHaveLength(2);
    m.pruneLost(500, 1400);
    expect(m.takeAllMemberStates()).toHaveLength(2);
    m.pruneLost(500, 1600);
    expect(m.takeAllMemberStates()).toHaveLength(1);
  });

  it('keeps the last state of a member whose pod went before that state was taken', () => {
    // A member ends and its pod is deleted between two report ticks, and then a new stream opens:
    // the pod is no longer in the model, so only its pending change still knows how it ended.
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'a', member: { index: 0 } }));
    m.upsertPod(pod({ name: 'b', member: { index: 1 } }));
    m.takeMemberChanges();
    m.upsertPod(pod({ name: 'a', member: { index: 0 }, phase: 'Succeeded', terminal: true }));
    m.upsertPod(pod({ name: 'b', member: { index: 1 }, phase: 'Succeeded', terminal: true }));
    m.removePod('ns/b');
    const all = m.takeAllMemberStates();
    expect(all.map((s) => [s.index, s.phase]).sort()).toEqual([
      [0, MemberPhase.MEMBER_PHASE_SUCCEEDED],
      [1, MemberPhase.MEMBER_PHASE_SUCCEEDED],
    ]);
    expect(m.hasMemberChanges()).toBe(false);
    // A pod still present is reported once, in its current state, not also as its pending change.
    m.upsertPod(pod({ name: 'c', member: { index: 2 } }));
    m.upsertPod(pod({ name: 'c', member: { index: 2 }, phase: 'Succeeded', terminal: true }));
    expect(m.takeAllMemberStates().filter((s) => s.index === 2)).toHaveLength(1);
  });
});

describe('ClusterModel: pods pinned to a node but not yet bound', () => {
  it("charges a pinned pod (gated or not, anyone's) to its node, pod slot included", () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.upsertNode(node('n2'));
    m.upsertPod(pod({ name: 'gated', nodeName: '', pinnedNode: 'n1', gated: true, member: {} }));
    m.upsertPod(pod({ name: 'foreign', nodeName: '', pinnedNode: 'n1', phase: 'Pending' }));
    expect(free(m, 'n1')).toMatchObject({ cpu: '6', pods: '108' });
    // Binding it where it was pinned changes nothing; deleting it frees the slot.
    m.upsertPod(pod({ name: 'foreign', nodeName: 'n1', pinnedNode: 'n1' }));
    expect(free(m, 'n1')).toMatchObject({ cpu: '6', pods: '108' });
    m.removePod('ns/foreign');
    expect(free(m, 'n1')).toMatchObject({ cpu: '7', pods: '109' });
    // Not pinned, not bound: charged nowhere. Terminal: frees its node.
    m.upsertPod(pod({ name: 'free', nodeName: '', phase: 'Pending' }));
    m.upsertPod(pod({ name: 'done', nodeName: '', pinnedNode: 'n2', terminal: true }));
    expect(free(m, 'n2')).toMatchObject({ cpu: '8', pods: '110' });
  });

  it('a gang is reflected once every member is charged, bound only when every one is bound', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.takeSnapshot();
    m.upsertPod(pod({ name: 'a', nodeName: '', pinnedNode: 'n1', member: { index: 0 } }));
    expect(m.gang('g1', 1)).toMatchObject({ charged: 1, bound: 0, reflected: false });
    // A member placed in a domain (nodeSelector) only is charged once bound.
    m.upsertPod(pod({ name: 'b', nodeName: '', member: { index: 1 } }));
    expect(m.gang('g1', 1)!.reflected).toBe(false);
    m.upsertPod(pod({ name: 'b', nodeName: 'n1', member: { index: 1 } }));
    expect(m.gang('g1', 1)).toMatchObject({
      charged: 2,
      bound: 1,
      reflected: true,
      fullyBound: false,
    });
    expect(m.takeDelta()!.reflectedDispatches).toEqual([{ gangId: 'g1', fencingToken: 1 }]);
    m.upsertPod(pod({ name: 'a', nodeName: 'n1', pinnedNode: 'n1', member: { index: 0 } }));
    expect(m.gang('g1', 1)).toMatchObject({ bound: 2, fullyBound: true, reflected: true });
    expect(free(m, 'n1')).toMatchObject({ cpu: '6', pods: '108' });
  });
});

describe('schedulerReason', () => {
  const unschedulable = (name: string, message: string, index: number) =>
    pod({
      name,
      nodeName: '',
      phase: 'Pending',
      scheduled: { status: 'False', reason: 'Unschedulable', message },
      member: { index, gangSize: 4 },
    });

  it("names the scheduler's FitError of the unbound members before the gang plugin's wait", () => {
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'bound', member: { index: 0, gangSize: 4 } }));
    m.upsertPod(unschedulable('a', 'waiting for minCount pods from a gang to be scheduled', 1));
    m.upsertPod(unschedulable('b', 'waiting for minCount pods from a gang to be scheduled', 2));
    m.upsertPod(unschedulable('c', '0/4 nodes are available: 4 Too many pods.', 3));
    expect(schedulerReason(m.gang('g1', 1))).toBe('0/4 nodes are available: 4 Too many pods.');
  });

  it('says when the unbound members carry no reason', () => {
    const m = new ClusterModel();
    m.upsertPod(pod({ name: 'x', nodeName: '', phase: 'Pending', member: { gangSize: 1 } }));
    expect(schedulerReason(m.gang('g1', 1))).toBe(
      'no reason given (1 unbound member(s) without a PodScheduled=False condition)',
    );
  });
});

describe('devices in the reports', () => {
  const slice = (name: string, nodeName: string, devices: string[]) =>
    sliceRecord({
      metadata: { name },
      spec: {
        driver: 'gpu.example.com',
        pool: { name: nodeName, generation: 1 },
        nodeName,
        devices: devices.map((d) => ({ name: d, attributes: { model: { string: 'A100' } } })),
        sharedCounters: [{ name: 'set', counters: { memory: { value: '80Gi' } } }],
      },
    })!;
  const claimOf = (device: string) =>
    allocatedDevices({
      status: {
        allocation: {
          devices: { results: [{ driver: 'gpu.example.com', pool: 'n1', device }] },
        },
      },
    });

  it('reports every node its devices and counter sets, and DeviceClasses whole in every report', () => {
    const m = new ClusterModel();
    m.upsertNode(node('n1'));
    m.upsertNode(node('n2'));
    m.devices.upsertSlice(slice('s1', 'n1', ['gpu-0', 'gpu-1']));
    m.devices.upsertClass({ name: 'gpu', selectors: ['device.driver == "gpu.example.com"'] });
    const snap = m.takeSnapshot();
    expect(snap.deviceClasses).toEqual([
      { name: 'gpu', selectors: ['device.driver == "gpu.example.com"'] },
    ]);
    const n1 = snap.nodes.find((n) => n.name === 'n1')!;
    expect(n1.devices.map((d) => [d.name, d.allocated, Object.keys(d.attributes)])).toEqual([
      ['gpu-0', false, ['gpu.example.com/model']],
      ['gpu-1', false, ['gpu.example.com/model']],
    ]);
    expect(n1.counterSets).toEqual([
      { name: 'set', driver: 'gpu.example.com', pool: 'n1', counters: { memory: '80Gi' } },
    ]);
    expect(snap.nodes.find((n) => n.name === 'n2')!.devices).toEqual([]);
    expect(m.takeDelta()).toBeUndefined();

    // An allocation re-sends only its node; the classes come along whole.
    m.devices.upsertClaim('ml/c', claimOf('gpu-1'));
    const d = m.takeDelta()!;
    expect(d.upsertedNodes.map((n) => n.name)).toEqual(['n1']);
    expect(d.upsertedNodes[0]!.devices.map((x) => [x.name, x.allocated])).toEqual([
      ['gpu-0', false],
      ['gpu-1', true],
    ]);
    expect(d.deviceClasses.map((c) => c.name)).toEqual(['gpu']);
    expect(m.takeDelta()).toBeUndefined();

    // A DeviceClass change alone makes a delta, with no node in it.
    m.devices.upsertClass({ name: 'nic', selectors: [] });
    expect(m.takeDelta()).toMatchObject({ upsertedNodes: [], deviceClasses: [{}, {}] });

    m.devices.removeClaim('ml/c');
    expect(m.takeDelta()!.upsertedNodes[0]!.devices.every((x) => !x.allocated)).toBe(true);
  });

  it('a node that appears after its slices is reported with its devices', () => {
    const m = new ClusterModel();
    m.devices.upsertSlice(slice('s1', 'n1', ['gpu-0']));
    m.takeSnapshot();
    expect(m.takeDelta()).toBeUndefined();
    m.upsertNode(node('n1'));
    expect(m.takeDelta()!.upsertedNodes[0]!.devices.map((x) => x.name)).toEqual(['gpu-0']);
  });
});
