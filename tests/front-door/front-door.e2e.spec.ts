// Proof of the front door: Jobs, JobSets and PyTorchJobs created on a real management cluster
// (testbed) with a queue label run as gangs on a real worker, their state follows on the
// management cluster (annotations, Events, status conditions), a bad one is refused naming the
// field with nothing dispatched, deleting one cancels its gang, and a hub killed mid-way and
// started again submits nothing twice. The objects are created over plain REST, as
// `kubectl create` sends them. The hub runs as the service account of infra/deploy/hub, so the
// RBAC there is proved to be enough.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { JobState, type HubClients, type Job } from '@muster/api';
import { kubeJSON, startTestbed, type KubeEndpoint, type Testbed } from '../../infra/testbed/src';
import type { AgentProcess } from '../support/agent-process';
import { startWorkers, stopFleet } from '../support/clusters';
import { eventually } from '../support/eventually';
import { succeedsAfter } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { freePort, REPO_ROOT, testLogDir } from '../support/hub-process';
import { DECISION_CRD_FILE, ManagementCluster } from '../cluster-profiles/management-cluster';
import { collectionOf, Kube, manifestsOf, writeKubeconfig } from '../agent/support/kube';

jest.setTimeout(10 * 60_000);

const NS = 'team-a';
const SANDBOX = 'sandbox';
const QUEUE = 'main';
const SMALL = 'fd-worker-a';
const BIG = 'fd-worker-b';
const OPERATOR_CRDS = join(REPO_ROOT, 'infra/testbed/crds/operator-kinds.yaml');
const PYTORCH_SAMPLE = join(REPO_ROOT, 'libs/manifests/src/testdata/sample-pytorchjob.yaml');
const HUB_DEPLOY = join(REPO_ROOT, 'infra/deploy/hub');

const TOPOLOGY = {
  clusters: [
    {
      name: 'mgmt',
      role: 'management' as const,
      // No node fits the test's pods: whatever starts here stays Pending.
      nodePools: [{ name: 'system', count: 1, resources: { cpu: 1, memory: '1Gi', pods: 110 } }],
    },
    {
      name: SMALL,
      role: 'worker' as const,
      nodePools: [{ name: 'cpu', count: 1, resources: { cpu: 1, memory: '2Gi', pods: 110 } }],
    },
    {
      name: BIG,
      role: 'worker' as const,
      nodePools: [{ name: 'cpu', count: 2, resources: { cpu: 16, memory: '64Gi', pods: 110 } }],
    },
  ],
};

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

interface KubeEvent {
  type: string;
  reason: string;
  message: string;
  reportingComponent?: string;
}

const PATHS: Record<string, string> = {
  Job: '/apis/batch/v1',
  JobSet: '/apis/jobset.x-k8s.io/v1alpha2',
  PyTorchJob: '/apis/kubeflow.org/v1',
};
const PLURALS: Record<string, string> = {
  Job: 'jobs',
  JobSet: 'jobsets',
  PyTorchJob: 'pytorchjobs',
};

const logs = testLogDir('front-door');
let tb: Testbed;
let mgmt: KubeEndpoint;
let env: HubEnvironment;
let api: HubClients;
const agents: AgentProcess[] = [];
/** The refused Job, looked at again after the hub's restart. */
let refusedJob: KubeObject | undefined;

function pathOf(kind: string, namespace: string, name?: string): string {
  return `${PATHS[kind]}/namespaces/${namespace}/${PLURALS[kind]}${name ? `/${name}` : ''}`;
}

async function create(
  object: Omit<KubeObject, 'metadata'> & { metadata: Record<string, unknown> },
) {
  const ns = String(object.metadata.namespace);
  return kubeJSON<KubeObject>(mgmt, 'POST', pathOf(object.kind, ns), object);
}

async function read(kind: string, namespace: string, name: string): Promise<KubeObject> {
  return kubeJSON<KubeObject>(mgmt, 'GET', pathOf(kind, namespace, name));
}

async function remove(kind: string, namespace: string, name: string): Promise<void> {
  await kubeJSON(mgmt, 'DELETE', pathOf(kind, namespace, name), {
    propagationPolicy: 'Background',
  });
}

async function eventsOf(o: KubeObject): Promise<KubeEvent[]> {
  const selector = encodeURIComponent(`involvedObject.uid=${o.metadata.uid}`);
  const list = await kubeJSON<{ items: KubeEvent[] }>(
    mgmt,
    'GET',
    `/api/v1/namespaces/${o.metadata.namespace}/events?fieldSelector=${selector}`,
  );
  return list.items.filter((e) => e.reportingComponent === 'muster.dev/hub');
}

/** Every Muster job, all states. */
async function allJobs(): Promise<Job[]> {
  return (await api.jobs.listJobs({ queue: '', states: [], pageSize: 1000, pageToken: '' })).jobs;
}

function container(name: string, cpu: string) {
  return {
    name,
    image: 'registry.k8s.io/e2e-test-images/agnhost:2.53',
    args: ['pause'],
    resources: { requests: { cpu, memory: '200Mi' } },
  };
}

/** A Job shaped like Kueue's sample-job.yaml: suspended, the queue in Kueue's label. */
function sampleJob(name: string, opts: { cpu?: string; suspend?: boolean; ns?: string } = {}) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: opts.ns ?? NS, labels: { 'kueue.x-k8s.io/queue-name': QUEUE } },
    spec: {
      parallelism: 2,
      completions: 2,
      suspend: opts.suspend ?? true,
      template: {
        metadata: { annotations: succeedsAfter('4s') },
        spec: { containers: [container('main', opts.cpu ?? '1')], restartPolicy: 'Never' },
      },
    },
  };
}

function annotationsOf(o: KubeObject): Record<string, string> {
  return o.metadata.annotations ?? {};
}

async function untilState(kind: string, name: string, state: string, ns = NS): Promise<KubeObject> {
  return eventually(
    `${kind} ${name} to be ${state}`,
    async () => {
      const o = await read(kind, ns, name);
      if (annotationsOf(o)['muster.dev/state'] !== state)
        throw new Error(`${kind} ${name}: ${JSON.stringify(annotationsOf(o))}`);
      return o;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

/** A kubeconfig of the hub's service account (infra/deploy/hub) on the management cluster. */
async function hubKubeconfig(): Promise<string> {
  const kube = new Kube(mgmt);
  try {
    for (const file of ['serviceaccount.yaml', 'rbac.yaml']) {
      for (const m of manifestsOf(join(HUB_DEPLOY, file))) await kube.apply(collectionOf(m), m);
    }
    const token = await eventually('the hub service account token', () =>
      kube.serviceAccountToken('muster-system', 'muster-hub'),
    );
    const path = join(mkdtempSync(join(tmpdir(), 'muster-front-door-')), 'kubeconfig');
    writeKubeconfig(path, mgmt, token, 'management');
    return path;
  } finally {
    kube.close();
  }
}

beforeAll(async () => {
  tb = await startTestbed(TOPOLOGY, { log: () => undefined });
  const m = tb.management!;
  mgmt = { server: m.server, token: m.token, ca: m.ca };
  const management = new ManagementCluster(mgmt);
  await management.installCrd();
  await management.installCrd(OPERATOR_CRDS);
  await management.installCrd(DECISION_CRD_FILE);
  for (const ns of [NS, SANDBOX]) {
    await management.createNamespace(ns);
    for (const w of [SMALL, BIG]) {
      const c = tb.cluster(w);
      await kubeJSON(
        { server: c.server, token: c.token, ca: c.ca },
        'POST',
        '/api/v1/namespaces',
        { metadata: { name: ns } },
        [409],
      );
    }
  }
  env = await startHubEnvironment({
    grpcPort: await freePort(),
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_INVENTORY_KUBECONFIG: await hubKubeconfig(),
      MUSTER_INVENTORY_POLL_MS: '500',
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '500',
      MUSTER_FRONT_DOOR_QUEUES: `${SANDBOX}=-,*/*=*`,
    },
    queues: [{ name: QUEUE, allowedNamespaces: [NS, SANDBOX] }],
  });
  api = env.api;
  await startWorkers(api, {
    hub: env.hub.grpcAddress,
    workers: [SMALL, BIG],
    kubeconfigOf: (name) => tb.cluster(name).kubeconfigPath,
    logs,
    agents,
  });
}, 15 * 60_000);

afterAll(async () => {
  const ends = await stopFleet(agents, env, tb);
  if (env) expect(ends).toEqual(agents.map(() => 0));
});

describe('the management-cluster front door', () => {
  it("runs Kueue's sample Job as one gang on the worker it fits, and mirrors every step", async () => {
    const created = await create(sampleJob('sample-job'));
    const queued = await eventually(
      'the sample Job to be taken',
      async () => {
        const o = await read('Job', NS, 'sample-job');
        const id = annotationsOf(o)['muster.dev/job-id'];
        if (!id) throw new Error('no job id yet');
        return { o, id };
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const job = (await api.jobs.getJob({ jobId: queued.id })).job!;
    expect(job.spec).toMatchObject({ name: 'sample-job', queue: QUEUE, namespace: NS });
    expect(job.members?.total).toBe(2);
    const done = await untilState('Job', 'sample-job', 'Succeeded');
    expect(annotationsOf(done)['muster.dev/cluster']).toBe(BIG);
    // Still suspended on the management cluster: its pods ran only where Muster put them.
    expect(done.spec.suspend).toBe(true);
    const reasons = (await eventsOf(created)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Queued', 'Running', 'Succeeded']));
    expect(reasons.filter((r) => r === 'Succeeded')).toHaveLength(1);
    const runningEvent = (await eventsOf(created)).find((e) => e.reason === 'Running')!;
    expect(runningEvent.message).toContain(`on ${BIG}`);
  });

  it('runs a JobSet handed to Muster by managedBy, with status conditions kubectl wait can read', async () => {
    const jobset = {
      apiVersion: 'jobset.x-k8s.io/v1alpha2',
      kind: 'JobSet',
      metadata: { name: 'trainer', namespace: NS, labels: { 'muster.dev/queue': QUEUE } },
      spec: {
        managedBy: 'muster.dev/hub',
        replicatedJobs: [
          {
            name: 'workers',
            replicas: 2,
            template: {
              spec: {
                parallelism: 2,
                completions: 2,
                template: {
                  metadata: { annotations: succeedsAfter('4s') },
                  spec: { containers: [container('w', '1')], restartPolicy: 'Never' },
                },
              },
            },
          },
        ],
      },
    };
    await create(jobset);
    const done = await untilState('JobSet', 'trainer', 'Succeeded');
    const finished = done.status?.conditions?.find((c) => c.type === 'muster.dev/Finished');
    expect(finished).toMatchObject({ status: 'True', reason: 'Succeeded' });
    const placed = done.status?.conditions?.find((c) => c.type === 'muster.dev/Placed');
    expect(placed).toMatchObject({ status: 'True', message: `placed on ${BIG}` });
    const job = (await api.jobs.getJob({ jobId: annotationsOf(done)['muster.dev/job-id']! })).job!;
    expect(job.members?.total).toBe(4);
    // managedBy Muster's: never suspended by the hub (its own controller leaves it alone).
    expect(done.spec.suspend).toBeUndefined();
  });

  it("runs Kueue's sample PyTorchJob as one gang of its master and workers", async () => {
    const sample = parse(readFileSync(PYTORCH_SAMPLE, 'utf8')) as KubeObject;
    sample.metadata = {
      ...sample.metadata,
      namespace: NS,
      labels: { 'kueue.x-k8s.io/queue-name': QUEUE },
    };
    const specs = (
      sample.spec as { pytorchReplicaSpecs: Record<string, { template: { metadata?: unknown } }> }
    ).pytorchReplicaSpecs;
    for (const r of Object.values(specs))
      r.template.metadata = { annotations: succeedsAfter('4s') };
    const created = await create(sample);
    const done = await untilState('PyTorchJob', sample.metadata.name, 'Succeeded');
    const job = (await api.jobs.getJob({ jobId: annotationsOf(done)['muster.dev/job-id']! })).job!;
    expect(job.spec?.podSets.map((p) => [p.name, p.count])).toEqual([
      ['master', 1],
      ['worker', 2],
    ]);
    // Suspended by Muster (the sample does not suspend itself), and told why.
    expect((done.spec as { runPolicy?: { suspend?: boolean } }).runPolicy?.suspend).toBe(true);
    const events = await eventsOf(created);
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['Suspended', 'Converted']));
  });

  it('refuses a bad object with an Event naming the field, and dispatches nothing', async () => {
    // The API server takes it; Muster's pod policy (Pod Security "baseline") does not.
    const bad = sampleJob('bad-job');
    (bad.spec.template.spec.containers[0] as { securityContext?: unknown }).securityContext = {
      privileged: true,
    };
    const before = (await allJobs()).length;
    const created = await create(bad);
    refusedJob = created;
    const refused = await untilState('Job', 'bad-job', 'Refused');
    expect(annotationsOf(refused)['muster.dev/message']).toMatch(
      /^spec\.template\.spec\.containers\[0\]\.securityContext\.privileged: /,
    );
    const events = await eventsOf(created);
    expect(events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        reason: 'Refused',
        message: expect.stringContaining('spec.template.spec.containers[0].securityContext'),
      }),
    ]);
    expect((await allJobs()).length).toBe(before);
  });

  it("refuses by the administrator's namespace rule", async () => {
    await create(sampleJob('sandboxed', { ns: SANDBOX }));
    const refused = await untilState('Job', 'sandboxed', 'Refused', SANDBOX);
    expect(annotationsOf(refused)['muster.dev/message']).toContain(
      `namespace ${SANDBOX} may not submit to queue "${QUEUE}"`,
    );
    expect((await allJobs()).filter((j) => j.spec?.name === 'sandboxed')).toEqual([]);
  });

  it('says why a gang waits, and cancels it when its object is deleted', async () => {
    const created = await create(sampleJob('too-big', { cpu: '32' }));
    const queued = await eventually(
      'the Job too big for any worker to be queued with a reason',
      async () => {
        const o = await read('Job', NS, 'too-big');
        const a = annotationsOf(o);
        if (a['muster.dev/state'] !== 'Queued' || a['muster.dev/reason'] === 'Submitted')
          throw new Error(JSON.stringify(a));
        return o;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const jobId = annotationsOf(queued)['muster.dev/job-id']!;
    // The Event says what `muster explain` says: no worker has 2 × 32 CPUs free.
    const reason = annotationsOf(queued)['muster.dev/reason'];
    const waiting = (await eventsOf(created)).filter((e) => e.reason === reason);
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.message).toMatch(/cpu/);
    await remove('Job', NS, 'too-big');
    await eventually(
      'the deleted Job’s gang to be cancelled',
      async () => {
        const s = (await api.jobs.getJob({ jobId })).job!.state;
        if (s !== JobState.JOB_STATE_CANCELLED) throw new Error(`state ${s}`);
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });

  it("the hub's service account (infra/deploy/hub) may do all of it", async () => {
    const profiles = await new ManagementCluster(mgmt).list('muster-inventory');
    expect(profiles.map((p) => p.metadata.name).sort()).toEqual([SMALL, BIG].sort());
    expect(env.hub.logs.filter((l) => /HTTP 403|forbidden/i.test(l))).toEqual([]);
  });

  it('a hub killed while objects arrive submits each once after its restart', async () => {
    const names = ['restart-0', 'restart-1', 'restart-2', 'restart-3'];
    // The last one never fits: deleted while the hub is down, it must not be left waiting.
    const created = await Promise.all(
      names.map((n, i) => create(sampleJob(n, i === 3 ? { cpu: '32' } : {}))),
    );
    // Killed as soon as the first of them has a job: the rest are mid-way or not seen yet.
    await eventually(
      'the first Job to be taken',
      async () => {
        const o = await read('Job', NS, names[0]!);
        return annotationsOf(o)['muster.dev/job-id'];
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    await env.hub.kill();
    // Deleted while the hub is down: seen at the next list.
    await remove('Job', NS, names[3]!);
    await env.startHub();
    api = env.api;
    for (const n of names.slice(0, 3)) await untilState('Job', n, 'Succeeded');
    const jobs = await allJobs();
    for (const n of names.slice(0, 3))
      expect(jobs.filter((j) => j.spec?.name === n)).toHaveLength(1);
    const deleted = jobs.filter((j) => j.spec?.name === names[3]);
    // Taken before the kill (then cancelled) or never: not left running.
    expect(deleted.length).toBeLessThanOrEqual(1);
    for (const j of deleted) expect(j.state).toBe(JobState.JOB_STATE_CANCELLED);
    for (const o of created.slice(0, 3)) {
      const reasons = (await eventsOf(o)).map((e) => e.reason);
      for (const r of ['Running', 'Succeeded'])
        expect(reasons.filter((x) => x === r).length).toBeLessThanOrEqual(1);
    }
    // The new hub read the objects from a list (whose items of built-in kinds carry no kind):
    // the refused one is refused for the same reason as before, and told once.
    if (refusedJob) {
      const again = await read('Job', NS, 'bad-job');
      expect(annotationsOf(again)['muster.dev/message']).toMatch(/securityContext\.privileged/);
      expect((await eventsOf(refusedJob)).map((e) => e.reason)).toEqual(['Refused']);
    }
  });
});
