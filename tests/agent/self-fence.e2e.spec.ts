// Self-fencing: with nothing heard from the hub for longer than the self-fence timeout (here set by
// the hub's HelloAck), the agent deletes gangs whose job asked to be requeued and leaves "wait"
// gangs alone; when the hub is back the agent redials, says hello again and reports what it did.
// (tests/agent/hub-stopped.e2e.spec.ts does the same with a real hub that is SIGSTOPped.)
import { DispatchOutcome, MemberPhase, type Dispatch } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '../../infra/testbed/src';
import { AgentProcess } from '../support/agent-process';
import { dispatch, OnClusterLost, podSet, workerTopology } from './support/fixtures';
import { eventually, Kube } from './support/kube';
import { TestHub } from './support/test-hub';

const SETUP_TIMEOUT = 45 * 60_000;
const NS = 'default';
/** The self-fence timeout the test hub's HelloAck sets. */
const SELF_FENCE_MS = 2000;
const HELLO_ACK = {
  heartbeatIntervalMs: 500,
  selfFenceTimeoutMs: SELF_FENCE_MS,
  fenceDeleteGraceSeconds: 1,
  echoesHeartbeats: true,
};

let tb: Testbed;
let cluster: TestbedCluster;
let kube: Kube;
let hub: TestHub;
let agent: AgentProcess;

beforeAll(async () => {
  tb = await startTestbed(workerTopology('w2', 2), { log: () => undefined });
  cluster = tb.cluster('w2');
  kube = new Kube(cluster);
  hub = await TestHub.start({ helloAck: HELLO_ACK });
  agent = AgentProcess.start({
    cluster: 'w2',
    hub: hub.address,
    kubeconfig: cluster.kubeconfigPath,
  });
}, SETUP_TIMEOUT);

afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  kube?.close();
  await tb?.stop();
});

async function accepted(d: Dispatch): Promise<void> {
  const a = await hub.waitFor(
    `answer for ${d.gangId}\n${agent.tail()}`,
    () => hub.answersFor(d.gangId)[0],
    60_000,
  );
  expect(a.outcome).toBe(DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED);
  await eventually(`gang ${d.gangId} running`, async () => {
    const pods = await kube.gangPods(NS, d.gangId);
    return pods.length === 2 && pods.every((p) => p.status?.phase === 'Running');
  });
}

it('deletes requeue gangs once the hub has been gone too long, keeps wait gangs, reconnects', async () => {
  await hub.waitFor(`agent connected\n${agent.tail()}`, () => hub.snapshots[0], 60_000);
  const requeue = dispatch({
    namespace: NS,
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
    podSets: [podSet('w', ['gpu-0', 'gpu-1'], { cpu: '100m' })],
  });
  const wait = dispatch({
    namespace: NS,
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
    podSets: [podSet('w', ['gpu-0', 'gpu-1'], { cpu: '100m' })],
  });
  hub.dispatch(requeue);
  hub.dispatch(wait);
  await accepted(requeue);
  await accepted(wait);
  await eventually('HelloAck applied', async () =>
    agent.logs('hello acknowledged').some((l) => l.selfFenceTimeoutMs === SELF_FENCE_MS),
  );

  // The hub goes away at t0, having last said something (a HubHeartbeat) before t0. That message
  // echoed a ping the agent sent at lastHeard: the agent's lease runs from there.
  // Nothing may be deleted before the self-fence timeout has passed since then: one second in,
  // both gangs are whole and none of their pods is being deleted.
  await eventually('the hub has echoed a heartbeat ping', async () => hub.lastEchoedPingSentAt > 0);
  const port = Number(hub.address.split(':')[1]);
  const t0 = Date.now();
  const lastHeard = hub.lastEchoedPingSentAt;
  await hub.stop();
  const early = Math.max(0, t0 + 1000 - Date.now());
  await new Promise((r) => setTimeout(r, early));
  for (const d of [requeue, wait]) {
    const pods = await kube.gangPods(NS, d.gangId);
    expect([
      d.gangId,
      pods.length,
      pods.filter((p) => p.metadata.deletionTimestamp).length,
    ]).toEqual([d.gangId, 2, 0]);
  }
  expect(Date.now() - t0).toBeLessThan(SELF_FENCE_MS); // the check above really was early
  await eventually(
    'requeue gang deleted',
    async () => (await kube.gangPods(NS, requeue.gangId)).length === 0,
  );
  const fenced = agent.logs(
    'no word from the hub within the self-fence timeout; deleting requeue gang',
  );
  // The agent decided to delete no sooner than the timeout after the hub's last proof of life.
  expect(fenced.length).toBeGreaterThan(0);
  expect(Date.parse(fenced[0]!.time) - lastHeard).toBeGreaterThanOrEqual(SELF_FENCE_MS);
  expect(fenced.map((l) => l.gang)).toEqual([requeue.gangId]);
  expect(fenced[0]!.job).toBe(requeue.jobId);
  const waiting = await kube.gangPods(NS, wait.gangId);
  expect(waiting).toHaveLength(2);
  expect(waiting.every((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running')).toBe(
    true,
  );

  // The hub comes back on the same address: hello, a snapshot holding only the wait gang, and
  // the requeue gang's members reported LOST.
  hub = await TestHub.start({ helloAck: HELLO_ACK }, port);
  const snap = await hub.waitFor(
    `snapshot after the hub came back\n${agent.tail()}`,
    () => hub.snapshots[0],
    60_000,
  );
  expect(hub.hellos[0]!.cluster).toBe('w2');
  expect(snap.heldGangs).toEqual([{ gangId: wait.gangId, fencingToken: 1 }]);
  const lost = await hub.waitFor('requeue members LOST', () => {
    const m = hub.membersOf(requeue.gangId, 1);
    return m.length === 2 && m;
  });
  expect(lost.map((m) => [m.phase, m.reason])).toEqual([
    [MemberPhase.MEMBER_PHASE_LOST, 'SelfFenced'],
    [MemberPhase.MEMBER_PHASE_LOST, 'SelfFenced'],
  ]);
  expect(hub.membersOf(wait.gangId, 1).map((m) => m.phase)).toEqual([
    MemberPhase.MEMBER_PHASE_RUNNING,
    MemberPhase.MEMBER_PHASE_RUNNING,
  ]);
  expect((await kube.gangPods(NS, wait.gangId)).length).toBe(2);
});

it('a restarted agent that cannot reach the hub fences its requeue gangs by the terms its pods recorded', async () => {
  const requeue = dispatch({
    namespace: NS,
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
    podSets: [podSet('w', ['gpu-0', 'gpu-1'], { cpu: '100m' })],
  });
  hub.dispatch(requeue);
  await accepted(requeue);
  const recorded = (await kube.gangPods(NS, requeue.gangId)).map((p) => [
    p.metadata.annotations?.['muster.dev/self-fence-timeout-ms'],
    p.metadata.annotations?.['muster.dev/fence-delete-grace-s'],
  ]);
  expect(recorded).toEqual([
    [String(SELF_FENCE_MS), '1'],
    [String(SELF_FENCE_MS), '1'],
  ]);

  // The hub goes, then the agent dies before its lease ran out; the new agent process never
  // hears a HelloAck and has no MUSTER_SELF_FENCE_TIMEOUT_MS of its own.
  await hub.stop();
  await agent.kill();
  const t0 = Date.now();
  agent = AgentProcess.start({
    cluster: 'w2',
    hub: hub.address,
    kubeconfig: cluster.kubeconfigPath,
  });
  await eventually(
    `requeue gang deleted by the restarted agent\n${agent.tail()}`,
    async () => (await kube.gangPods(NS, requeue.gangId)).length === 0,
    30_000,
  );
  console.log(`restarted agent without a hub: requeue gang gone ${Date.now() - t0} ms after start`);
  const fenced = agent.logs(
    'no word from the hub within the self-fence timeout; deleting requeue gang',
  );
  expect(
    fenced.map((l) => [l.gang, l.selfFenceTimeoutMs, l.fenceDeleteGraceSeconds, l.streamUp]),
  ).toEqual([[requeue.gangId, SELF_FENCE_MS, 1, false]]);
});
