// The worker cluster holds a gang together itself: with the Workload API (scheduling.k8s.io/v1alpha2
// PodGroup, gang policy) the worker's scheduler binds all of a gang's members or none, and the
// agent's bind timeout tears down a gang that cannot bind, naming the scheduler's reason. A cluster
// without the API falls back to gates only: it still works, and a partly bound gang is torn down
// whole at the bind timeout. Two testbed clusters, one agent and one test hub each.
import { DispatchOutcome, GangScheduling, MemberPhase, type Dispatch } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '../../infra/testbed/src';
import { AgentProcess } from '../support/agent-process';
import { dispatch, podSet } from './support/fixtures';
import { eventually, Kube, type PodView } from './support/kube';
import { TestHub } from './support/test-hub';

const SETUP_TIMEOUT = 45 * 60_000;
const NS = 'ml';
const BIND_TIMEOUT_MS = 8000;
const SAMPLE_MS = 200;
const ACCEPTED = DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED;
const REJECTED = DispatchOutcome.DISPATCH_OUTCOME_REJECTED;
const PG = '/apis/scheduling.k8s.io/v1alpha2';
// small-0 has 3 pod slots, big-0 plenty.
const POOLS = [
  { name: 'small', count: 1, resources: { cpu: 32, memory: '256Gi', pods: 3 } },
  { name: 'big', count: 1, resources: { cpu: 32, memory: '256Gi', pods: 110 } },
];

interface Side {
  cluster: TestbedCluster;
  kube: Kube;
  hub: TestHub;
  agent: AgentProcess;
}

interface PodGroupView {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { schedulingPolicy: { gang?: { minCount: number } } };
}

let tb: Testbed;
let on: Side;
let off: Side;

async function side(name: string): Promise<Side> {
  const cluster = tb.cluster(name);
  const kube = new Kube(cluster);
  await kube.ensureNamespace(NS);
  const hub = await TestHub.start();
  const agent = AgentProcess.start({
    cluster: name,
    hub: hub.address,
    kubeconfig: cluster.kubeconfigPath,
    env: { MUSTER_BIND_TIMEOUT_MS: String(BIND_TIMEOUT_MS) },
  });
  await hub.waitFor(`${name} agent connected\n${agent.tail()}`, () => hub.snapshots[0], 60_000);
  return { cluster, kube, hub, agent };
}

beforeAll(async () => {
  tb = await startTestbed(
    {
      clusters: [
        { name: 'wl-on', role: 'worker', nodePools: POOLS },
        { name: 'wl-off', role: 'worker', nodePools: POOLS, workloadAPI: false },
      ],
    },
    { log: () => undefined },
  );
  on = await side('wl-on');
  off = await side('wl-off');
}, SETUP_TIMEOUT);

afterAll(async () => {
  for (const s of [on, off]) {
    await s?.agent.stop();
    await s?.hub.stop();
    s?.kube.close();
  }
  await tb?.stop();
});

async function answer(s: Side, d: Dispatch, n = 1) {
  const list = await s.hub.waitFor(
    `${n} answer(s) for ${d.gangId}\n${s.agent.tail()}`,
    () => {
      const a = s.hub.answersFor(d.gangId, d.fencingToken);
      return a.length >= n ? a : undefined;
    },
    60_000,
  );
  return list[n - 1]!;
}

async function podGroups(s: Side): Promise<PodGroupView[]> {
  const list = await s.kube.json<{ items: PodGroupView[] }>(
    'GET',
    `${PG}/namespaces/${NS}/podgroups`,
  );
  return list.items;
}

function gangOf(d: Dispatch) {
  return (g: PodGroupView) => g.metadata.labels?.['muster.dev/gang-id'] === d.gangId;
}

async function allGone(s: Side, d: Dispatch): Promise<void> {
  await eventually(`gang ${d.gangId} gone`, async () => {
    const pods = await s.kube.gangPods(NS, d.gangId);
    const groups = s === on ? (await podGroups(s)).filter(gangOf(d)) : [];
    return pods.length === 0 && groups.length === 0;
  });
}

/** Size-member gang, every member pinned to `node`. */
function pinned(node: string, size: number): Dispatch {
  return dispatch({
    podSets: [podSet('w', Array<string>(size).fill(node), { cpu: '100m' })],
  });
}

describe('Workload API on', () => {
  it('says so in its hello', () => {
    expect(on.hub.hellos[0]!.gangScheduling).toBe(GangScheduling.GANG_SCHEDULING_WORKLOAD_API);
  });

  it('a gang that cannot all fit never has a member bound or Running, and goes at the bind timeout naming why', async () => {
    const gang = pinned('small-0', 5); // 5 members, 3 pod slots
    on.hub.dispatch(gang);
    expect((await answer(on, gang)).outcome).toBe(ACCEPTED);

    // Sample the API server until the BindTimeout answer (and then until the gang is gone).
    const samples: PodView[][] = [];
    let sawGroup = false;
    let sawCharged = false;
    const deadline = Date.now() + BIND_TIMEOUT_MS + 30_000;
    for (;;) {
      const pods = await on.kube.gangPods(NS, gang.gangId);
      samples.push(pods);
      const bad = pods.filter((p) => p.spec.nodeName || p.status?.phase === 'Running');
      expect(bad.map((p) => [p.metadata.name, p.spec.nodeName, p.status?.phase])).toEqual([]);
      const group = (await podGroups(on)).find(gangOf(gang));
      if (group && !group.metadata.deletionTimestamp) {
        sawGroup = true;
        expect(group.spec.schedulingPolicy.gang?.minCount).toBe(5);
      }
      // The five pinned, unbound members are charged to small-0: no pod slot is reported free.
      if (on.hub.nodes.get('small-0')?.free?.quantities.pods === '0') sawCharged = true;
      const done = on.hub.answersFor(gang.gangId, 1).length >= 2 && pods.length === 0;
      if (done) break;
      if (Date.now() > deadline) throw new Error(`gang not torn down\n${on.agent.tail()}`);
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    expect(samples.some((p) => p.length === 5)).toBe(true);
    expect(sawGroup).toBe(true);
    expect(sawCharged).toBe(true);

    const timeout = await answer(on, gang, 2);
    expect(timeout).toMatchObject({ outcome: REJECTED, reason: 'BindTimeout' });
    expect(timeout.message).toMatch(
      new RegExp(
        `^0 of 5 members bound within ${BIND_TIMEOUT_MS} ms; worker scheduler: 0/2 nodes are available: .*Too many pods`,
      ),
    );
    await allGone(on, gang);
    // The LOST reports follow the deletes (the informer sees them, then the next report goes).
    const lost = await on.hub.waitFor('5 members LOST', () => {
      const states = on.hub.membersOf(gang.gangId, 1);
      return states.length === 5 && states.every((m) => m.phase === MemberPhase.MEMBER_PHASE_LOST)
        ? states
        : undefined;
    });
    expect(lost.map((m) => [m.phase, m.reason])).toEqual(
      Array(5).fill([MemberPhase.MEMBER_PHASE_LOST, 'BindTimeout']),
    );
  }, 120_000);

  it('a gang that fits runs whole with its PodGroup, and a cancel removes both', async () => {
    const gang = pinned('big-0', 3);
    on.hub.dispatch(gang);
    expect((await answer(on, gang)).outcome).toBe(ACCEPTED);
    const pods = await eventually('gang running', async () => {
      const p = await on.kube.gangPods(NS, gang.gangId);
      return p.length === 3 && p.every((x) => x.status?.phase === 'Running') && p;
    });
    const groups = (await podGroups(on)).filter(gangOf(gang));
    expect(groups.map((g) => g.metadata.name)).toEqual([
      `m-${gang.gangId.replace(/-/g, '').slice(0, 12)}-1`,
    ]);
    for (const p of pods) {
      expect((p.spec as { schedulingGroup?: unknown }).schedulingGroup).toEqual({
        podGroupName: groups[0]!.metadata.name,
      });
    }
    on.hub.cancel({ gangId: gang.gangId, fencingToken: 1, reason: 'done' });
    await allGone(on, gang);
  });

  it('deletes an orphan Muster PodGroup (no member, nothing in flight)', async () => {
    await on.kube.json('POST', `${PG}/namespaces/${NS}/podgroups`, {
      apiVersion: 'scheduling.k8s.io/v1alpha2',
      kind: 'PodGroup',
      metadata: {
        name: 'm-0123456789ab-7',
        labels: { 'muster.dev/gang-id': '0123456789abcdef', 'muster.dev/fencing-token': '7' },
      },
      spec: { schedulingPolicy: { gang: { minCount: 2 } } },
    });
    await eventually(
      'orphan PodGroup deleted',
      async () => !(await podGroups(on)).some((g) => g.metadata.name === 'm-0123456789ab-7'),
      40_000,
    );
    expect(on.agent.logs('deleting an orphan PodGroup').map((l) => l.podGroup)).toContain(
      `${NS}/m-0123456789ab-7`,
    );
  });
});

describe('Workload API off', () => {
  it('says gates in its hello and still runs a gang', async () => {
    expect(off.hub.hellos[0]!.gangScheduling).toBe(GangScheduling.GANG_SCHEDULING_GATES);
    const gang = pinned('big-0', 3);
    off.hub.dispatch(gang);
    expect((await answer(off, gang)).outcome).toBe(ACCEPTED);
    await eventually('gang running', async () => {
      const p = await off.kube.gangPods(NS, gang.gangId);
      return p.length === 3 && p.every((x) => x.status?.phase === 'Running');
    });
    off.hub.cancel({ gangId: gang.gangId, fencingToken: 1, reason: 'done' });
    await allGone(off, gang);
  });

  it('a partly bound gang is torn down whole at the bind timeout, naming why', async () => {
    const gang = pinned('small-0', 5);
    off.hub.dispatch(gang);
    expect((await answer(off, gang)).outcome).toBe(ACCEPTED);
    // Gates alone: three members bind one by one and run; two never can.
    await eventually('3 members running', async () => {
      const p = await off.kube.gangPods(NS, gang.gangId);
      return p.filter((x) => x.status?.phase === 'Running').length === 3;
    });
    const timeout = await answer(off, gang, 2);
    expect(timeout).toMatchObject({ outcome: REJECTED, reason: 'BindTimeout' });
    expect(timeout.message).toMatch(
      new RegExp(
        `^3 of 5 members bound within ${BIND_TIMEOUT_MS} ms; worker scheduler: 0/2 nodes are available: .*Too many pods`,
      ),
    );
    await allGone(off, gang);
  }, 120_000);
});
