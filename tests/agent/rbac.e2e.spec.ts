// Least privilege: the agent runs with a ServiceAccount bound to infra/deploy/agent's ClusterRole
// (token from the TokenRequest API) and does everything it must; the role allows nothing more.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DispatchOutcome, GangScheduling, MemberPhase } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '../../infra/testbed/src';
import { AgentProcess } from '../support/agent-process';
import { REPO_ROOT } from '../support/hub-process';
import { dispatch, podSet, workerTopology } from './support/fixtures';
import {
  collectionOf as collection,
  eventually,
  Kube,
  manifestsOf,
  writeKubeconfig,
  type Manifest,
} from './support/kube';
import { TestHub } from './support/test-hub';

const SETUP_TIMEOUT = 45 * 60_000;
const DEPLOY = join(REPO_ROOT, 'infra/deploy/agent');
const SA_USER = 'system:serviceaccount:muster-system:muster-agent';
const NS = 'team-a';

let tb: Testbed;
let cluster: TestbedCluster;
let kube: Kube;
let hub: TestHub;
let agent: AgentProcess;
let dir: string;
let kubeconfig: string;

function manifests(file: string): Manifest[] {
  return manifestsOf(join(DEPLOY, file));
}

function allowed(verb: string, resource: string, group = '', namespace = NS): Promise<boolean> {
  return kube.allowed(SA_USER, verb, resource, group, namespace);
}

async function podGroups(): Promise<
  Array<{ spec: { schedulingPolicy: { gang: { minCount: number } } } }>
> {
  const list = await kube.json<{
    items: Array<{ spec: { schedulingPolicy: { gang: { minCount: number } } } }>;
  }>('GET', `/apis/scheduling.k8s.io/v1alpha2/namespaces/${NS}/podgroups`);
  return list.items;
}

beforeAll(async () => {
  tb = await startTestbed(workerTopology('w3', 2), { log: () => undefined });
  cluster = tb.cluster('w3');
  kube = new Kube(cluster);
  for (const file of ['serviceaccount.yaml', 'clusterrole.yaml']) {
    for (const m of manifests(file)) await kube.apply(collection(m), m);
  }
  await kube.ensureNamespace(NS);
  dir = mkdtempSync(join(tmpdir(), 'muster-agent-rbac-'));
  kubeconfig = join(dir, 'kubeconfig');
  const token = await eventually('service account token', () =>
    kube.serviceAccountToken('muster-system', 'muster-agent'),
  );
  writeKubeconfig(kubeconfig, cluster, token);
  hub = await TestHub.start();
  agent = AgentProcess.start({ cluster: 'w3', hub: hub.address, kubeconfig });
}, SETUP_TIMEOUT);

afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  kube?.close();
  await tb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('the role grants exactly the verbs the agent uses', async () => {
  for (const verb of ['get', 'list', 'watch', 'create', 'patch', 'delete']) {
    expect([verb, await allowed(verb, 'pods')]).toEqual([verb, true]);
  }
  for (const verb of ['list', 'watch'])
    expect([verb, await allowed(verb, 'nodes')]).toEqual([verb, true]);
  expect(await allowed('create', 'events')).toBe(true);
  for (const verb of ['get', 'list', 'watch', 'create', 'delete']) {
    expect([verb, await allowed(verb, 'podgroups', 'scheduling.k8s.io')]).toEqual([verb, true]);
  }
  for (const resource of ['resourceslices', 'deviceclasses', 'resourceclaims']) {
    for (const verb of ['list', 'watch']) {
      expect([verb, resource, await allowed(verb, resource, 'resource.k8s.io')]).toEqual([
        verb,
        resource,
        true,
      ]);
    }
  }
  for (const verb of ['get', 'create', 'delete']) {
    expect([verb, await allowed(verb, 'resourceclaimtemplates', 'resource.k8s.io')]).toEqual([
      verb,
      true,
    ]);
  }
  const denied: Array<[string, string, string?]> = [
    ['update', 'pods'],
    ['deletecollection', 'pods'],
    ['create', 'pods/binding'],
    ['create', 'pods/eviction'],
    ['get', 'nodes'],
    ['patch', 'nodes'],
    ['delete', 'nodes'],
    ['get', 'secrets'],
    ['list', 'configmaps'],
    ['update', 'events'],
    ['delete', 'events'],
    ['list', 'events'],
    ['list', 'jobs', 'batch'],
    ['update', 'podgroups', 'scheduling.k8s.io'],
    ['patch', 'podgroups', 'scheduling.k8s.io'],
    ['update', 'podgroups/status', 'scheduling.k8s.io'],
    ['create', 'workloads', 'scheduling.k8s.io'],
    ['create', 'resourceslices', 'resource.k8s.io'],
    ['create', 'resourceclaims', 'resource.k8s.io'],
    ['update', 'resourceclaims/status', 'resource.k8s.io'],
    ['create', 'deviceclasses', 'resource.k8s.io'],
    ['list', 'resourceclaimtemplates', 'resource.k8s.io'],
    ['update', 'resourceclaimtemplates', 'resource.k8s.io'],
  ];
  for (const [verb, resource, group] of denied) {
    expect([verb, resource, await allowed(verb, resource, group)]).toEqual([verb, resource, false]);
  }
});

it('the example Deployment is accepted by the API server', async () => {
  for (const m of manifests('deployment.yaml')) {
    await kube.json('POST', `${collection(m)}?dryRun=All`, m);
  }
});

it('runs with that identity: watches, materialises (create + ungate), re-reads after restart, gives an eviction notice, fences', async () => {
  const snap = await hub.waitFor(`snapshot\n${agent.tail()}`, () => hub.snapshots[0], 60_000);
  expect(snap.nodes.map((n) => n.name)).toEqual(['gpu-0', 'gpu-1']);
  const gang = dispatch({
    namespace: NS,
    podSets: [podSet('w', ['gpu-0', 'gpu-1'], { cpu: '1' })],
  });
  hub.dispatch(gang);
  const a = await hub.waitFor('answer', () => hub.answersFor(gang.gangId)[0], 60_000);
  expect(a).toMatchObject({ outcome: DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED, reason: '' });
  await hub.waitFor('members RUNNING', () => {
    const m = hub.membersOf(gang.gangId, 1);
    return m.length === 2 && m.every((s) => s.phase === MemberPhase.MEMBER_PHASE_RUNNING);
  });
  // The Workload API is on in the testbed: the agent made the gang's PodGroup with that identity.
  expect(hub.hellos[0]!.gangScheduling).toBe(GangScheduling.GANG_SCHEDULING_WORKLOAD_API);
  const groups = await podGroups();
  expect(groups).toHaveLength(1);
  expect(groups[0]!.spec.schedulingPolicy.gang.minCount).toBe(2);

  // After a restart a repeated dispatch meets its own pods (AlreadyExists) and reads them (get).
  await agent.kill();
  agent = AgentProcess.start({ cluster: 'w3', hub: hub.address, kubeconfig });
  await hub.waitFor('second hello', () => hub.hellos[1], 60_000);
  hub.dispatch(gang);
  const again = await hub.waitFor('second answer', () => hub.answersFor(gang.gangId)[1], 60_000);
  expect(again.outcome).toBe(DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED);

  // An eviction notice: each member gets the annotation and an Event, and the agent confirms.
  hub.send({
    $case: 'evictionNotice',
    evictionNotice: {
      gangId: gang.gangId,
      fencingToken: gang.fencingToken,
      reason: 'Preempted',
      message: 'preempted by gang urgent',
      graceSeconds: 30,
    },
  });
  const noticed = await hub.waitFor('eviction noticed', () => hub.noticed[0], 30_000);
  expect(noticed).toMatchObject({
    gangId: gang.gangId,
    fencingToken: gang.fencingToken,
    members: 2,
  });
  const pods = await kube.gangPods(NS, gang.gangId);
  for (const p of pods) {
    const notice = JSON.parse(p.metadata.annotations?.['muster.dev/eviction-notice'] ?? '{}');
    expect(notice).toMatchObject({ reason: 'Preempted', graceSeconds: 30 });
  }
  const events = await kube.json<{
    items: { reason: string; involvedObject: { name: string }; type: string }[];
  }>('GET', `/api/v1/namespaces/${NS}/events`);
  for (const p of pods)
    expect(events.items).toContainEqual(
      expect.objectContaining({
        reason: 'Preempted',
        type: 'Warning',
        involvedObject: expect.objectContaining({ name: p.metadata.name }),
      }),
    );
  // Nothing is deleted by a notice, and a repeated one marks nothing twice.
  const marked = events.items.filter((e) => e.reason === 'Preempted').length;
  hub.send({
    $case: 'evictionNotice',
    evictionNotice: {
      gangId: gang.gangId,
      fencingToken: gang.fencingToken,
      reason: 'Preempted',
      message: 'again',
      graceSeconds: 20,
    },
  });
  await hub.waitFor('second confirmation', () => hub.noticed[1], 30_000);
  expect((await kube.gangPods(NS, gang.gangId)).length).toBe(2);
  const later = await kube.json<{ items: { reason: string }[] }>(
    'GET',
    `/api/v1/namespaces/${NS}/events`,
  );
  expect(later.items.filter((e) => e.reason === 'Preempted').length).toBe(marked);

  hub.gangList({ gangs: [], generation: 1 });
  await eventually(
    'fenced gang deleted',
    async () => (await kube.gangPods(NS, gang.gangId)).length === 0,
  );
  await eventually('its PodGroup deleted', async () => (await podGroups()).length === 0);
  expect(agent.logs('informer failed; restarting')).toEqual([]);
  expect(agent.lines.filter((l) => l.level === 'error')).toEqual([]);
});
