// Proof that Muster publishes a PlacementDecision for every dispatched gang: a real management
// cluster and a real worker cluster (testbed), the built hub as a process on real Postgres and
// Redis, a real agent on the worker. Gangs go in over gRPC; the decisions are read from the
// management cluster's API server, as a GitOps tool reads them.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JobState, type HubClients, type JobSpec } from '@muster/api';
import { startTestbed, type Testbed } from '../../infra/testbed/src';
import type { AgentProcess } from '../support/agent-process';
import { startWorkers, stopFleet } from '../support/clusters';
import { eventually } from '../support/eventually';
import { jobSpec, podSet, succeedsAfter } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { freePort, testLogDir, type HubProcess } from '../support/hub-process';
import {
  DECISION_CRD_FILE,
  ManagementCluster,
  type PlacementDecisionObject,
} from './management-cluster';

jest.setTimeout(10 * 60_000);

const NS = 'muster-inventory';
const WORKER = 'pd-worker';
const QUEUE = 'pd';
const POLL_MS = 1000;
const PLACEMENT_KEY = 'multicluster.x-k8s.io/placement-key';
const MANAGED = 'x-k8s.io/cluster-manager=muster';
/** A job id no gang has: a leftover decision of Muster's for it must go. */
const GONE_JOB = '00000000-0000-4000-8000-000000000000';

const TOPOLOGY = {
  clusters: [
    {
      name: 'mgmt',
      role: 'management' as const,
      nodePools: [{ name: 'system', count: 1, resources: { cpu: 4, memory: '8Gi', pods: 110 } }],
    },
    {
      name: WORKER,
      role: 'worker' as const,
      nodePools: [
        {
          name: 'cpu',
          count: 2,
          zone: 'zone-a',
          resources: { cpu: 16, memory: '64Gi', pods: 110 },
        },
      ],
    },
  ],
};

const logs = testLogDir('placement-decisions');
let tb: Testbed;
let mgmt: ManagementCluster;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents: AgentProcess[] = [];

function gang(name: string, succeedAfter?: string): JobSpec {
  return jobSpec(QUEUE, {
    name,
    podSets: [
      podSet(
        'workers',
        2,
        { cpu: '1', memory: '1Gi' },
        succeedAfter ? succeedsAfter(succeedAfter) : undefined,
      ),
    ],
  });
}

async function submit(spec: JobSpec): Promise<string> {
  return (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec })).job!.id;
}

async function state(jobId: string): Promise<JobState> {
  return (await api.jobs.getJob({ jobId })).job!.state;
}

/** Muster's decisions of one gang (by the upstream placement-key label). */
function decisionsOf(jobId: string): Promise<PlacementDecisionObject[]> {
  return mgmt.decisions(NS, `${PLACEMENT_KEY}=${jobId}`);
}

async function decisionOf(jobId: string): Promise<PlacementDecisionObject | undefined> {
  const found = await decisionsOf(jobId);
  return found.length === 1 ? found[0] : undefined;
}

function hubLogs(h: HubProcess = hub): Record<string, unknown>[] {
  return h.logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

const poll = { intervalMs: 200 };

beforeAll(async () => {
  tb = await startTestbed(TOPOLOGY, { log: () => undefined });
  const m = tb.management!;
  mgmt = new ManagementCluster({ server: m.server, token: m.token, ca: m.ca });
  // Only the ClusterProfile CRD: the PlacementDecision one comes later, with the hub running.
  await mgmt.installCrd();
  env = await startHubEnvironment({
    grpcPort: await freePort(),
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_INVENTORY_KUBECONFIG: m.kubeconfigPath,
      MUSTER_INVENTORY_POLL_MS: String(POLL_MS),
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '500',
      MUSTER_LOG_LEVEL: 'debug',
    },
    queues: [QUEUE],
  });
  ({ hub, api } = env);
  await startWorkers(api, {
    hub: hub.grpcAddress,
    workers: [WORKER],
    kubeconfigOf: (name) => tb.cluster(name).kubeconfigPath,
    logs,
    agents,
  });
}, 15 * 60_000);

afterAll(async () => {
  const ends = await stopFleet(agents, env, tb);
  if (env) expect(ends).toEqual(agents.map(() => 0));
});

describe('PlacementDecisions of dispatched gangs', () => {
  it('without the CRD: one warning naming it and its file, and ClusterProfiles still published', async () => {
    await eventually(
      `the ClusterProfile of ${WORKER}`,
      async () => (await mgmt.get(NS, WORKER))?.spec.clusterManager.name === 'muster',
      { ...poll, timeoutMs: 60_000 },
    );
    const warnings = () =>
      hubLogs().filter((l) => l.msg === 'PlacementDecisions unavailable; retrying');
    await eventually('the missing-CRD warning', () => warnings().length > 0, 30_000);
    // Several passes later, still one.
    await new Promise((r) => setTimeout(r, 4 * POLL_MS));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({
      level: 'warn',
      crd: 'placementdecisions.multicluster.x-k8s.io',
      file: 'infra/crds/placementdecisions.multicluster.x-k8s.io.yaml',
    });
    expect(String(warnings()[0]!.error)).toContain(
      'apply infra/crds/placementdecisions.multicluster.x-k8s.io.yaml',
    );
    expect(hub.running).toBe(true);
  });

  let foreign: PlacementDecisionObject;
  let longGang = '';

  it('once the CRD is installed: a running gang gets one decision naming the worker', async () => {
    await mgmt.installCrd(DECISION_CRD_FILE);
    // Another scheduler's decision, and a leftover of Muster's for a gang that no longer exists.
    foreign = await mgmt.createDecision(NS, {
      apiVersion: 'multicluster.x-k8s.io/v1alpha1',
      kind: 'PlacementDecision',
      metadata: { name: 'other-placement', labels: { 'x-k8s.io/cluster-manager': 'ocm' } },
      schedulerName: 'other-scheduler',
      decisions: [{ clusterProfileRef: { name: WORKER, namespace: NS }, reason: 'theirs' }],
    });
    await mgmt.createDecision(NS, {
      apiVersion: 'multicluster.x-k8s.io/v1alpha1',
      kind: 'PlacementDecision',
      metadata: {
        name: `muster-${GONE_JOB}`,
        labels: { 'x-k8s.io/cluster-manager': 'muster', [PLACEMENT_KEY]: GONE_JOB },
      },
      schedulerName: 'muster',
      decisions: [{ clusterProfileRef: { name: WORKER, namespace: NS } }],
    });

    const id = await submit(gang('train-long'));
    await eventually(
      'the gang running',
      async () => (await state(id)) === JobState.JOB_STATE_RUNNING,
      { ...poll, timeoutMs: 90_000 },
    );
    const d = await eventually(`the decision of ${id}`, () => decisionOf(id), {
      ...poll,
      timeoutMs: 30_000,
    });
    expect(d.metadata.name).toBe(`muster-${id}`);
    expect(d.metadata.labels).toEqual({
      [PLACEMENT_KEY]: id,
      'x-k8s.io/cluster-manager': 'muster',
      'muster.dev/queue': QUEUE,
    });
    expect(d.metadata.annotations).toEqual({ 'muster.dev/job-name': 'train-long' });
    expect(d.schedulerName).toBe('muster');
    expect(d.decisions).toHaveLength(1);
    expect(d.decisions[0]!.clusterProfileRef).toEqual({ namespace: NS, name: WORKER });
    // The reservation's placement message (the domain path starts at the zone), not the job's
    // message of the moment ("0/2 members bound, ..." while its pods start).
    expect(d.decisions[0]!.reason).toMatch(new RegExp(`^placed on ${WORKER} in zone-a/`));
    // It names the worker's ClusterProfile, which is Muster's.
    expect((await mgmt.get(NS, WORKER))?.spec.clusterManager.name).toBe('muster');

    await eventually(
      'the leftover decision of a gone gang deleted',
      async () => (await decisionsOf(GONE_JOB)).length === 0,
      { ...poll, timeoutMs: 10_000 },
    );
    expect((await mgmt.decisions(NS, MANAGED)).map((x) => x.metadata.name)).toEqual([
      `muster-${id}`,
    ]);
    // The other scheduler's decision is still there, as it was.
    const theirs = (await mgmt.decisions(NS)).find((x) => x.metadata.name === 'other-placement');
    expect(theirs?.metadata.resourceVersion).toBe(foreign.metadata.resourceVersion);
    longGang = id;
  });

  it('deletes the decision of a gang that succeeded', async () => {
    const id = await submit(gang('train-short', '6s'));
    await eventually(`the decision of ${id}`, () => decisionOf(id), {
      ...poll,
      timeoutMs: 90_000,
    });
    await eventually(
      'the gang succeeded',
      async () => (await state(id)) === JobState.JOB_STATE_SUCCEEDED,
      { ...poll, timeoutMs: 90_000 },
    );
    await eventually(
      `the decision of ${id} deleted`,
      async () => (await decisionsOf(id)).length === 0,
      { ...poll, timeoutMs: 10_000 },
    );
    expect(await decisionOf(longGang)).toBeDefined();
  });

  it('a hub killed and started again keeps exactly the one decision, unwritten', async () => {
    const before = (await decisionOf(longGang))!;
    api.close();
    await hub.kill();
    await env.startHub();
    ({ hub, api } = env);
    await eventually(
      'the PlacementDecision sync of the new hub ready',
      () => hubLogs().some((l) => l.msg === 'PlacementDecision sync ready'),
      { ...poll, timeoutMs: 30_000 },
    );
    // Several passes of the new hub.
    await new Promise((r) => setTimeout(r, 4 * POLL_MS));
    expect(await state(longGang)).toBe(JobState.JOB_STATE_RUNNING);
    const after = await decisionsOf(longGang);
    expect(after).toHaveLength(1);
    expect(after[0]!.metadata.uid).toBe(before.metadata.uid);
    expect(after[0]!.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect((await mgmt.decisions(NS, MANAGED)).map((x) => x.metadata.name)).toEqual([
      `muster-${longGang}`,
    ]);
  });

  it('reverts a hand edit of the decision', async () => {
    const before = (await decisionOf(longGang))!;
    await mgmt.replaceDecision({
      ...before,
      decisions: [{ clusterProfileRef: { name: 'somewhere-else', namespace: NS }, reason: 'hand' }],
    });
    await eventually(
      'the hand edit reverted',
      async () => {
        const d = await decisionOf(longGang);
        return (
          d?.decisions.length === 1 &&
          d.decisions[0]!.clusterProfileRef.name === WORKER &&
          d.decisions[0]!.reason === before.decisions[0]!.reason
        );
      },
      { ...poll, timeoutMs: 10_000 },
    );
  });

  it('deletes the decision of a cancelled gang and never touched the one of another scheduler', async () => {
    await api.jobs.cancelJob({ jobId: longGang, reason: 'test done' });
    await eventually(
      `the decision of ${longGang} deleted`,
      async () => (await decisionsOf(longGang)).length === 0,
      { ...poll, timeoutMs: 60_000 },
    );
    expect(await mgmt.decisions(NS, MANAGED)).toEqual([]);
    const theirs = (await mgmt.decisions(NS)).find((d) => d.metadata.name === 'other-placement');
    expect(theirs?.metadata.resourceVersion).toBe(foreign.metadata.resourceVersion);
    // The missing CRD was warned about once, by the first hub only.
    expect(hubLogs().filter((l) => l.msg === 'PlacementDecisions unavailable; retrying')).toEqual(
      [],
    );
  });
});
