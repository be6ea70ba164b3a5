// The agent against a real Kubernetes API server (testbed: kube-apiserver, scheduler, controller
// manager, kwok nodes), run as a separate process, talking to a test hub over gRPC.
import { DispatchOutcome, MemberPhase, type Dispatch } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '../../infra/testbed/src';
import { AgentProcess } from '../support/agent-process';
import { dispatch, podSet, resources, template, workerTopology } from './support/fixtures';
import { eventually, Kube, type PodView } from './support/kube';
import { TestHub } from './support/test-hub';

const SETUP_TIMEOUT = 45 * 60_000;
const NS = 'ml';
const BIND_TIMEOUT_MS = 15_000;
const ACCEPTED = DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED;
const REJECTED = DispatchOutcome.DISPATCH_OUTCOME_REJECTED;
const NODES = ['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3'];
const RACK = 'w1-gpu-b0-r0';

let tb: Testbed;
let cluster: TestbedCluster;
let kube: Kube;
let hub: TestHub;
let agent: AgentProcess;

function startAgent(): AgentProcess {
  return AgentProcess.start({
    cluster: 'w1',
    hub: hub.address,
    kubeconfig: cluster.kubeconfigPath,
    env: { MUSTER_BIND_TIMEOUT_MS: String(BIND_TIMEOUT_MS) },
  });
}

async function answer(gangId: string, token: number, n = 1) {
  const list = await hub.waitFor(
    `${n} answer(s) for ${gangId}#${token}\n${agent.tail()}`,
    () => {
      const a = hub.answersFor(gangId, token);
      return a.length >= n ? a : undefined;
    },
    60_000,
  );
  return list[n - 1]!;
}

async function settledGangPods(ns: string, gangId: string): Promise<PodView[]> {
  return (await kube.gangPods(ns, gangId)).filter((p) => !p.metadata.deletionTimestamp);
}

async function runningGang(d: Dispatch): Promise<PodView[]> {
  const size = d.podSets.reduce((n, ps) => n + ps.members.length, 0);
  return eventually(`gang ${d.gangId} running`, async () => {
    const pods = await kube.gangPods(d.namespace, d.gangId);
    return pods.length === size && pods.every((p) => p.status?.phase === 'Running') && pods;
  });
}

async function gone(ns: string, gangId: string): Promise<void> {
  await eventually(
    `no pod of gang ${gangId} left`,
    async () => (await kube.gangPods(ns, gangId)).length === 0,
  );
}

function free(node: string): Record<string, string> {
  return hub.nodes.get(node)?.free?.quantities ?? {};
}

beforeAll(async () => {
  tb = await startTestbed(workerTopology('w1', 4), { log: () => undefined });
  cluster = tb.cluster('w1');
  kube = new Kube(cluster);
  await kube.ensureNamespace(NS);
  // Pods that exist before the agent starts: a running trainer, a pod whose init container is
  // larger than its main container, a finished pod (frees its node) and an unschedulable one.
  const pod = (
    name: string,
    spec: Record<string, unknown>,
    annotations: Record<string, string> = {},
  ) => kube.createPod(NS, { apiVersion: 'v1', kind: 'Pod', metadata: { name, annotations }, spec });
  const c = (name: string, requests: Record<string, string>) => ({
    name,
    image: 'x',
    resources: resources(requests),
  });
  await pod('seed-train', {
    nodeName: 'gpu-0',
    containers: [c('main', { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' })],
  });
  await pod('seed-init', {
    nodeName: 'gpu-1',
    initContainers: [c('init', { cpu: '4' })],
    containers: [c('main', { cpu: '1' })],
  });
  await pod(
    'seed-done',
    { nodeName: 'gpu-2', restartPolicy: 'Never', containers: [c('main', { cpu: '8' })] },
    { 'testbed.muster.dev/succeed-after': '0s' },
  );
  await pod('seed-pending', {
    nodeSelector: { nowhere: 'true' },
    containers: [c('main', { cpu: '1' })],
  });
  await eventually('seed pods settled', async () => {
    const phases = Object.fromEntries(
      (await kube.pods(NS)).map((p) => [p.metadata.name, p.status?.phase]),
    );
    return (
      phases['seed-train'] === 'Running' &&
      phases['seed-init'] === 'Running' &&
      phases['seed-done'] === 'Succeeded'
    );
  });
  hub = await TestHub.start();
  agent = startAgent();
}, SETUP_TIMEOUT);

afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  kube?.close();
  await tb?.stop();
});

describe('agent on a real cluster', () => {
  it('says hello and sends a snapshot matching the seeded nodes and running pods', async () => {
    const snap = await hub.waitFor(
      `first snapshot\n${agent.tail()}`,
      () => hub.snapshots[0],
      60_000,
    );
    const hello = hub.hellos[0]!;
    expect(hello.cluster).toBe('w1');
    expect(hello.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(hello.epoch).toMatch(/^[0-9a-f]{16}$/);
    expect(hello.kubernetesVersion).toMatch(/^v\d/);
    expect(hello.topologyLevels).toEqual([
      'topology.kubernetes.io/zone',
      'cloud.provider.com/topology-block',
      'cloud.provider.com/topology-rack',
      'kubernetes.io/hostname',
    ]);
    const kinds = hub.received.filter((r) => r.stream === 1).map((r) => r.msg.$case);
    expect(kinds.slice(0, 2)).toEqual(['hello', 'snapshot']);

    expect(snap.nodes.map((n) => n.name)).toEqual(NODES);
    const byName = new Map(snap.nodes.map((n) => [n.name, n]));
    const g0 = byName.get('gpu-0')!;
    expect(g0.ready).toBe(true);
    expect(g0.unschedulable).toBe(false);
    expect(g0.labels['cloud.provider.com/topology-rack']).toBe(RACK);
    expect(g0.allocatable!.quantities).toEqual({
      cpu: '32',
      memory: '256Gi',
      'nvidia.com/gpu': '8',
      pods: '110',
    });
    // seed-train: 2 CPU, 4Gi, 1 GPU, one pod slot.
    expect(g0.free!.quantities).toEqual({
      cpu: '30',
      memory: '252Gi',
      'nvidia.com/gpu': '7',
      pods: '109',
    });
    // seed-init: max(main 1, init 4) = 4 CPU.
    expect(byName.get('gpu-1')!.free!.quantities.cpu).toBe('28');
    // seed-done has Succeeded: nothing held; seed-pending is bound nowhere.
    expect(byName.get('gpu-2')!.free!.quantities).toEqual(
      byName.get('gpu-2')!.allocatable!.quantities,
    );
    expect(snap.heldGangs).toEqual([]);
    expect(snap.reflectedDispatches).toEqual([]);

    hub.requestSnapshot('test asks');
    const again = await hub.waitFor('requested snapshot', () => hub.snapshots[1]);
    expect(again.reportSequence).toBeGreaterThan(snap.reportSequence);
    expect(again.nodes).toEqual(snap.nodes);
    await hub.waitFor('a heartbeat', () => hub.messages('heartbeat')[0]);
  });

  it('reports a node added, cordoned and removed in deltas', async () => {
    await kube.createNode(
      'extra-0',
      { cpu: '4', memory: '8Gi', pods: '10' },
      { 'topology.kubernetes.io/zone': 'z9' },
    );
    const added = await hub.waitFor('extra-0 ready in the view', () => {
      const n = hub.nodes.get('extra-0');
      return n?.ready && n;
    });
    expect(added.free!.quantities).toEqual({ cpu: '4', memory: '8Gi', pods: '10' });
    expect(added.labels['topology.kubernetes.io/zone']).toBe('z9');
    await kube.cordon('extra-0', true);
    await hub.waitFor('extra-0 cordoned', () => hub.nodes.get('extra-0')?.unschedulable);
    await kube.deleteNode('extra-0');
    await hub.waitFor('extra-0 removed', () => !hub.nodes.has('extra-0'));
    const deltas = hub.messages('delta').map((m) => m.delta);
    expect(deltas.some((d) => d.removedNodes.includes('extra-0'))).toBe(true);
    expect(
      deltas.some((d) => d.upsertedNodes.some((n) => n.name === 'extra-0' && n.unschedulable)),
    ).toBe(true);
  });

  let gangA: Dispatch;

  it('materialises a gang whole: pinned, labelled, ungated, Running, reported', async () => {
    gangA = dispatch({
      podSets: [
        podSet('workers', NODES, { cpu: '500m', 'nvidia.com/gpu': '1' }),
        podSet(
          'launcher',
          [''],
          { cpu: '250m' },
          {
            domainLevel: 'cloud.provider.com/topology-rack',
            domainValue: RACK,
          },
        ),
      ],
    });
    const before = free('gpu-3');
    hub.dispatch(gangA);
    const a = await answer(gangA.gangId, 1);
    // Held from the moment it is accepted, pods seen by the informer or not.
    hub.requestSnapshot('after accepting gang A');
    const heldAt = hub.snapshots.length;
    const held = await hub.waitFor('snapshot after accepting A', () => hub.snapshots[heldAt]);
    expect(held.heldGangs).toContainEqual({ gangId: gangA.gangId, fencingToken: 1 });
    expect(a).toEqual({
      gangId: gangA.gangId,
      fencingToken: 1,
      outcome: ACCEPTED,
      reason: '',
      message: '5 members created and ungated',
    });

    const pods = await runningGang(gangA);
    const prefix = `m-${gangA.gangId.replace(/-/g, '').slice(0, 12)}-1-`;
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(
      ['launcher-0', 'workers-0', 'workers-1', 'workers-2', 'workers-3'].map((s) => prefix + s),
    );
    for (const p of pods) {
      const l = p.metadata.labels!;
      expect(l['muster.dev/gang-id']).toBe(gangA.gangId);
      expect(l['muster.dev/job-id']).toBe(gangA.jobId);
      expect(l['muster.dev/fencing-token']).toBe('1');
      expect(l['muster.dev/queue']).toBe('research');
      expect(l.app).toBe('train');
      expect(p.metadata.annotations!['muster.dev/on-cluster-lost']).toBe('wait');
      expect(p.metadata.annotations!['muster.dev/gang-size']).toBe('5');
      expect(p.spec.schedulingGates ?? []).toEqual([]);
      if (l['muster.dev/pod-set'] === 'workers') {
        expect(p.spec.nodeName).toBe(NODES[Number(l['muster.dev/member-index'])]);
      } else {
        expect(p.spec.nodeSelector).toEqual({ 'cloud.provider.com/topology-rack': RACK });
      }
    }
    const states = await hub.waitFor('5 RUNNING member states', () => {
      const s = hub.membersOf(gangA.gangId, 1);
      return s.length === 5 && s.every((m) => m.phase === MemberPhase.MEMBER_PHASE_RUNNING) && s;
    });
    for (const s of states) {
      const pod = pods.find((p) => p.metadata.name === s.podName)!;
      expect(s.nodeName).toBe(pod.spec.nodeName);
    }
    await hub.waitFor('gang A reflected', () => hub.reflected.has(`${gangA.gangId}#1`));
    const launcherNode = pods.find((p) => p.metadata.labels!['muster.dev/pod-set'] === 'launcher')!
      .spec.nodeName;
    const expectCpu = launcherNode === 'gpu-3' ? '31250m' : '31500m';
    expect(Number(before['nvidia.com/gpu'])).toBe(8);
    await hub.waitFor(
      'gpu-3 capacity reduced',
      () => free('gpu-3').cpu === expectCpu && free('gpu-3')['nvidia.com/gpu'] === '7',
    );
  });

  it('rejects a lower token StaleToken and answers a repeated dispatch again without creating anything', async () => {
    const before = await kube.gangPods(NS, gangA.gangId);
    hub.dispatch({ ...gangA, fencingToken: 0 });
    hub.dispatch(gangA);
    const again = await answer(gangA.gangId, 1, 2);
    expect(again.outcome).toBe(ACCEPTED);
    // Answered, not ignored (review 2.21): the hub learns the token it has to move past.
    expect(await answer(gangA.gangId, 0)).toEqual({
      gangId: gangA.gangId,
      fencingToken: 0,
      outcome: REJECTED,
      reason: 'StaleToken',
      message: 'fencing token 0 is below the token this agent knows for the gang (known=1)',
    });
    expect(hub.answersFor(gangA.gangId, 0)).toHaveLength(1);
    expect(
      agent
        .logs('rejecting dispatch with a stale fencing token')
        .some((l) => l.gang === gangA.gangId && l.knownToken === 1),
    ).toBe(true);
    const after = await kube.gangPods(NS, gangA.gangId);
    expect(after.map((p) => p.metadata.name).sort()).toEqual(
      before.map((p) => p.metadata.name).sort(),
    );
    expect(after.every((p) => !p.metadata.deletionTimestamp)).toBe(true);
  });

  it('does not take a copy of a member for a member (review 2.9)', async () => {
    // Copies of gang A's member labels: index 99 under another name, failing; an existing index
    // under another name, failing; and the real member name in another namespace, failing.
    const running = await runningGang(gangA);
    const real = running.find((p) => p.metadata.labels!['muster.dev/pod-set'] === 'workers')!;
    const labels = { ...real.metadata.labels! };
    const forged = (ns: string, name: string, over: Record<string, string>) =>
      kube.createPod(ns, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          labels: { ...labels, ...over },
          annotations: { ...real.metadata.annotations, 'testbed.muster.dev/fail-after': '0s' },
        },
        spec: {
          nodeName: 'gpu-3',
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'x', resources: resources({ cpu: '10m' }) }],
        },
      });
    await kube.ensureNamespace('other');
    await forged(NS, 'forged-99', { 'muster.dev/member-index': '99' });
    await forged(NS, 'forged-0', {});
    await forged('other', real.metadata.name, {});
    await eventually('copies failed', async () => {
      const phases = [
        ...(await kube.pods(NS)).filter((p) => p.metadata.name.startsWith('forged-')),
        ...(await kube.pods('other')),
      ].map((p) => p.status?.phase);
      return phases.length === 3 && phases.every((ph) => ph === 'Failed');
    });
    // A gang dispatched after the copies failed: once its states are in, the copies' states
    // would have been too (one pod watch, in order, one reporter).
    const later = dispatch({ podSets: [podSet('w', ['gpu-1'], { cpu: '100m' })] });
    hub.dispatch(later);
    expect((await answer(later.gangId, 1)).outcome).toBe(ACCEPTED);
    await hub.waitFor('the later gang RUNNING', () =>
      hub.membersOf(later.gangId, 1).some((m) => m.phase === MemberPhase.MEMBER_PHASE_RUNNING),
    );
    const states = hub.membersOf(gangA.gangId, 1);
    expect(states.map((m) => `${m.podSet}/${m.index}:${m.podName}`).sort()).toEqual(
      running
        .map(
          (p) =>
            `${p.metadata.labels!['muster.dev/pod-set']}/${p.metadata.labels!['muster.dev/member-index']}:${p.metadata.name}`,
        )
        .sort(),
    );
    expect(states.every((m) => m.phase === MemberPhase.MEMBER_PHASE_RUNNING)).toBe(true);
    hub.requestSnapshot('after the copies');
    const n = hub.snapshots.length;
    const snap = await hub.waitFor('snapshot after the copies', () => hub.snapshots[n]);
    expect(snap.heldGangs).toContainEqual({ gangId: gangA.gangId, fencingToken: 1 });
    hub.cancel({ gangId: later.gangId, fencingToken: 1, reason: 'done' });
    await gone(NS, later.gangId);
    for (const [ns, name] of [
      [NS, 'forged-99'],
      [NS, 'forged-0'],
      ['other', real.metadata.name],
    ] as const)
      await kube.deletePod(ns, name);
    await eventually(
      'copies gone',
      async () =>
        (await kube.gangPods(NS, gangA.gangId)).length === running.length &&
        (await kube.pods('other')).length === 0,
    );
  });

  it('leaves no member behind when the API server refuses the third member', async () => {
    const bad = JSON.parse(template({ cpu: '100m' })) as {
      spec: { containers: Array<Record<string, unknown>> };
    };
    bad.spec.containers[0]!.env = [{ name: 'BAD=NAME', value: 'x' }];
    const gang = dispatch({
      podSets: [
        podSet('a', ['gpu-0'], { cpu: '100m' }),
        podSet('b', ['gpu-1'], { cpu: '100m' }),
        { ...podSet('c', ['gpu-2']), podTemplateJson: JSON.stringify(bad) },
      ],
    });
    hub.dispatch(gang);
    const a = await answer(gang.gangId, 1);
    expect(a.outcome).toBe(REJECTED);
    expect(a.reason).toBe('CreateFailed');
    expect(a.message).toMatch(/^creating pod m-.*-1-c-0: Invalid: .*BAD=NAME/);
    // All three creates start together (concurrency 32): a and b existed and were deleted.
    const rollback = agent
      .logs('gang rejected; every member deleted')
      .find((l) => l.gang === gang.gangId);
    expect(rollback).toMatchObject({ reason: 'CreateFailed', deleted: 2, job: gang.jobId });
    // The answer comes after the deletes: whatever is left is already being deleted.
    expect(await settledGangPods(NS, gang.gangId)).toEqual([]);
    await gone(NS, gang.gangId);
  });

  it('leaves no member behind when a ResourceQuota admits only two pods', async () => {
    await kube.ensureNamespace('quota');
    await kube.apply('/api/v1/namespaces/quota/resourcequotas', {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'two-pods', namespace: 'quota' },
      spec: { hard: { pods: '2' } },
    } as { metadata: { name: string } });
    await eventually('quota status computed', async () => {
      const q = await kube.json<{ status?: { hard?: Record<string, string> } }>(
        'GET',
        '/api/v1/namespaces/quota/resourcequotas/two-pods',
      );
      return q.status?.hard?.pods === '2';
    });
    const gang = dispatch({
      namespace: 'quota',
      podSets: [podSet('w', ['gpu-0', 'gpu-1', 'gpu-2'], { cpu: '100m' })],
    });
    hub.dispatch(gang);
    const a = await answer(gang.gangId, 1);
    expect(a).toMatchObject({ outcome: REJECTED, reason: 'CreateFailed' });
    expect(a.message).toContain('exceeded quota');
    const rollback = agent
      .logs('gang rejected; every member deleted')
      .find((l) => l.gang === gang.gangId);
    expect(rollback).toMatchObject({ reason: 'CreateFailed', deleted: 2 });
    expect(await settledGangPods('quota', gang.gangId)).toEqual([]);
    await gone('quota', gang.gangId);
  });

  it('cancel removes every member, reports them LOST, and a late repeat creates nothing', async () => {
    const gang = dispatch({ podSets: [podSet('w', ['gpu-0', 'gpu-1'], { cpu: '100m' })] });
    hub.dispatch(gang);
    expect((await answer(gang.gangId, 1)).outcome).toBe(ACCEPTED);
    await runningGang(gang);
    hub.cancel({ gangId: gang.gangId, fencingToken: 1, reason: 'user' });
    await gone(NS, gang.gangId);
    const lost = await hub.waitFor('2 LOST member states', () => {
      const s = hub.membersOf(gang.gangId, 1);
      return s.length === 2 && s.every((m) => m.phase === MemberPhase.MEMBER_PHASE_LOST) && s;
    });
    expect(lost.map((s) => s.reason)).toEqual(['Cancelled', 'Cancelled']);
    hub.cancel({ gangId: gang.gangId, fencingToken: 1, reason: 'again' }); // idempotent
    hub.dispatch(gang);
    const late = await answer(gang.gangId, 1, 2);
    expect(late).toMatchObject({ outcome: REJECTED, reason: 'Cancelled' });
    expect(await kube.gangPods(NS, gang.gangId)).toEqual([]);
    hub.requestSnapshot('after cancel');
    const n = hub.snapshots.length;
    const snap = await hub.waitFor('snapshot after cancel', () => hub.snapshots[n]);
    expect(snap.heldGangs.map((g) => g.gangId)).not.toContain(gang.gangId);
  });

  it('rejects with BindTimeout a gang the scheduler cannot bind, deleting it', async () => {
    const gang = dispatch({
      podSets: [podSet('w', ['gpu-0', 'gpu-1'], { cpu: '100m', 'nvidia.com/gpu': '100' })],
    });
    hub.dispatch(gang);
    expect((await answer(gang.gangId, 1)).outcome).toBe(ACCEPTED);
    const timeout = await answer(gang.gangId, 1, 2);
    expect(timeout).toMatchObject({ outcome: REJECTED, reason: 'BindTimeout' });
    expect(timeout.message).toContain('0 of 2 members bound');
    // ...and says why, in the worker scheduler's words.
    expect(timeout.message).toMatch(
      /; worker scheduler: 0\/4 nodes are available: .*Insufficient nvidia\.com\/gpu/,
    );
    await gone(NS, gang.gangId);
  }, 120_000);

  let gangF: Dispatch;

  it('deletes the pods of gangs missing from the authoritative list, ignoring a stale list', async () => {
    gangF = dispatch({ podSets: [podSet('w', ['gpu-2'], { cpu: '100m' })] });
    const gangG = dispatch({ fencingToken: 3, podSets: [podSet('w', ['gpu-3'], { cpu: '100m' })] });
    hub.dispatch(gangF);
    hub.dispatch(gangG);
    expect((await answer(gangF.gangId, 1)).outcome).toBe(ACCEPTED);
    expect((await answer(gangG.gangId, 3)).outcome).toBe(ACCEPTED);
    await runningGang(gangF);
    await runningGang(gangG);
    hub.gangList({
      generation: 10,
      gangs: [
        { gangId: gangA.gangId, fencingToken: 1 },
        { gangId: gangF.gangId, fencingToken: 1 },
        { gangId: gangG.gangId, fencingToken: 2 }, // G is listed with another token: it goes too
      ],
    });
    await gone(NS, gangG.gangId);
    // G has one member: its state must be there, and LOST (Fenced) — an empty list is not enough.
    await hub.waitFor('G members LOST (Fenced)', () => {
      const m = hub.membersOf(gangG.gangId, 3);
      return (
        m.length === 1 &&
        m.every((s) => s.phase === MemberPhase.MEMBER_PHASE_LOST && s.reason === 'Fenced')
      );
    });
    hub.gangList({ generation: 9, gangs: [] });
    await eventually(
      'stale list ignored',
      async () => agent.logs('ignoring a stale authoritative gang list').length > 0,
    );
    expect((await settledGangPods(NS, gangA.gangId)).length).toBe(5);
    expect((await settledGangPods(NS, gangF.gangId)).length).toBe(1);
  });

  // A measurement, not a check of speed (DESIGN: timings are measured and printed, never
  // asserted): it prints the agent's create time next to plain client loops on the same server.
  it('measures a 32-member materialisation next to a plain create loop (prints figures, 3 rounds)', async () => {
    await hub.waitFor(`agent connected\n${agent.tail()}`, () => hub.snapshots[0], 60_000);
    const nodes = NODES.flatMap((n) => Array<string>(8).fill(n));
    // The baseline: a plain client loop creating the same 32 gated, pinned pods.
    const rawPod = (i: number, tag: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `raw-${tag}-${i}`,
        labels: { raw: tag, app: 'train', 'muster.dev/queue': 'research' },
        annotations: { note: 'baseline' },
      },
      spec: {
        restartPolicy: 'Never',
        schedulingGates: [{ name: 'x/hold' }],
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodes[i]!] }] },
              ],
            },
          },
        },
        containers: [
          {
            name: 'main',
            image: 'registry.example/train:1',
            resources: { requests: { cpu: '100m' } },
          },
        ],
      },
    });
    const clearRaw = async (tag: string) => {
      await Promise.all(
        (await kube.pods(NS, `raw=${tag}`)).map((p) => kube.deletePod(NS, p.metadata.name)),
      );
      await eventually(
        `raw ${tag} pods gone`,
        async () => (await kube.pods(NS, `raw=${tag}`)).length === 0,
      );
    };
    const rounds: Array<Record<string, number>> = [];
    for (let round = 0; round < 3; round++) {
      let t = Date.now();
      for (let i = 0; i < 32; i++) await kube.createPod(NS, rawPod(i, `s${round}`));
      const sequentialMs = Date.now() - t;
      await clearRaw(`s${round}`);
      t = Date.now();
      await Promise.all(
        Array.from({ length: 32 }, (_, i) => kube.createPod(NS, rawPod(i, `c${round}`))),
      );
      const concurrentMs = Date.now() - t;
      await clearRaw(`c${round}`);

      const gang = dispatch({ podSets: [podSet('w', nodes, { cpu: '100m' })] });
      t = Date.now();
      hub.dispatch(gang);
      expect((await answer(gang.gangId, 1)).outcome).toBe(ACCEPTED);
      const acceptedMs = Date.now() - t;
      await runningGang(gang);
      const runningMs = Date.now() - t;
      const log = agent.logs('gang materialised').find((l) => l.gang === gang.gangId)!;
      hub.cancel({ gangId: gang.gangId, fencingToken: 1, reason: 'measured' });
      await gone(NS, gang.gangId);
      rounds.push({
        plainLoopSequentialMs: sequentialMs,
        plainLoopConcurrent32Ms: concurrentMs,
        agentCreateMs: Number(log.createMs),
        agentCreateAndUngateMs: Number(log.totalMs),
        agentCpuMs: Number(log.cpuMs),
        dispatchToAcceptedMs: acceptedMs,
        dispatchToAllRunningMs: runningMs,
      });
    }
    const median = (k: string) => rounds.map((r) => r[k]!).sort((a, b) => a - b)[1]!;
    const m = Object.fromEntries(Object.keys(rounds[0]!).map((k) => [k, median(k)]));
    const min = (k: string) => Math.min(...rounds.map((r) => r[k]!));
    const figures = {
      ...m,
      bestAgentCreateMs: min('agentCreateMs'),
      bestPlainLoopSequentialMs: min('plainLoopSequentialMs'),
      bestPlainLoopConcurrent32Ms: min('plainLoopConcurrent32Ms'),
      agentRateVsSequentialLoop: Number((m.plainLoopSequentialMs! / m.agentCreateMs!).toFixed(2)),
      agentRateVsConcurrentLoop: Number((m.plainLoopConcurrent32Ms! / m.agentCreateMs!).toFixed(2)),
      rounds,
    };
    process.stdout.write(
      `agent throughput, 32 members, medians of 3: ${JSON.stringify(figures)}\n`,
    );
    expect(rounds).toHaveLength(3);
  }, 180_000);

  it('rebuilds its view after SIGKILL and still reports its held gangs', async () => {
    const firstEpoch = hub.hellos[0]!.epoch;
    const before = await kube.gangPods(NS, gangA.gangId);
    await agent.kill();
    const helloCount = hub.hellos.length;
    agent = startAgent();
    const hello = await hub.waitFor(
      `hello after restart\n${agent.tail()}`,
      () => hub.hellos[helloCount],
      60_000,
    );
    expect(hello.epoch).not.toBe(firstEpoch);
    const stream = hub.streams;
    const snap = await hub.waitFor('snapshot on the new stream', () => {
      const r = hub.received.find((x) => x.stream === stream && x.msg.$case === 'snapshot');
      return r?.msg.$case === 'snapshot' && r.msg.snapshot;
    });
    const held = snap.heldGangs.map((g) => `${g.gangId}#${g.fencingToken}`).sort();
    expect(held).toEqual([`${gangA.gangId}#1`, `${gangF.gangId}#1`].sort());
    expect(snap.reflectedDispatches.map((g) => `${g.gangId}#${g.fencingToken}`).sort()).toEqual(
      held,
    );
    const g0 = snap.nodes.find((n) => n.name === 'gpu-0')!;
    // seed-train (2 CPU) + a gang A worker (0.5) + perhaps gang A's launcher (0.25).
    expect(['29500m', '29250m']).toContain(g0.free!.quantities.cpu);
    await hub.waitFor('member states of A resent after restart', () => {
      const sent = hub.received.filter(
        (r) => r.stream === stream && r.msg.$case === 'memberStates',
      );
      const members = sent.flatMap((r) =>
        r.msg.$case === 'memberStates' ? r.msg.memberStates.members : [],
      );
      const a = members.filter((m) => m.gangId === gangA.gangId);
      return a.length === 5 && a.every((m) => m.phase === MemberPhase.MEMBER_PHASE_RUNNING);
    });

    // The restarted agent has no memory of the answer, but a repeat still creates nothing.
    const answers = hub.answersFor(gangA.gangId, 1).length;
    hub.dispatch(gangA);
    expect((await answer(gangA.gangId, 1, answers + 1)).outcome).toBe(ACCEPTED);
    const after = await kube.gangPods(NS, gangA.gangId);
    expect(after.map((p) => p.metadata.name).sort()).toEqual(
      before.map((p) => p.metadata.name).sort(),
    );
  });

  it('kept the protocol: report sequences only grew', () => {
    expect(hub.violations).toEqual([]);
  });
});
