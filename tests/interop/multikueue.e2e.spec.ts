// Proof that Kueue's MultiKueue reaches a Muster cluster through the ClusterProfile Muster
// publishes: a real management cluster and a real worker (testbed), the built hub and a real agent
// publishing the worker's ClusterProfile into Kueue's namespace, and Kueue v0.17.0's own manager
// (built from its Go module, infra/interop/kueue) running against each cluster. A Job queued on the
// management cluster must be dispatched to the worker and run there, with nothing but Muster's
// profile and the provider file's exec plugin telling Kueue where the worker is and how to log in.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubClients } from '@muster/api';
import type { ClusterProfile } from '@muster/k8s';
import {
  ensureGoBinary,
  kubeJSON,
  kubeRequest,
  POD_ANNOTATIONS,
  startTestbed,
  type KubeEndpoint,
  type Testbed,
} from '../../infra/testbed/src';
import { AgentProcess } from '../support/agent-process';
import { writeClusterAccess, type ClusterAccess } from '../support/cluster-access';
import { registerWorker, stopFleet, untilReporting } from '../support/clusters';
import { eventually } from '../support/eventually';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { freePort, testLogDir, type HubProcess } from '../support/hub-process';
import { issuePki } from '../support/security';
import { ManagementCluster, condition } from '../cluster-profiles/management-cluster';
import {
  conditionOf,
  installKueueCrds,
  installKueueWebhooks,
  KUEUE_API,
  KUEUE_MANAGER,
  KueueProcess,
  kueueModuleDir,
  type KubeObject,
} from './kueue';

jest.setTimeout(10 * 60_000);

/** MultiKueue reads ClusterProfiles in Kueue's own namespace; the hub publishes there. */
const KUEUE_NS = 'kueue-system';
const WORKER = 'mk-worker';
/** A Muster cluster registered with an API server nobody listens on (no agent either). */
const UNREACHABLE = 'mk-unreachable';
const JOB_NS = 'default';
const LOCAL_QUEUE = 'team-a';
const CLUSTER_QUEUE = 'muster-batch';
const FLAVOR = 'default-flavor';
const CHECK = 'muster-multikueue';
const MULTIKUEUE = 'kueue.x-k8s.io/multikueue';
const JOB = 'mk-train';

const NODE = { cpu: 16, memory: '64Gi', pods: 110 };
const TOPOLOGY = {
  clusters: [
    {
      name: 'mgmt',
      role: 'management' as const,
      nodePools: [{ name: 'system', count: 1, resources: { cpu: 4, memory: '8Gi', pods: 110 } }],
      // With this gate (beta, on in 1.36) a suspended Job's template may change only once the
      // Job controller set JobSuspended, which it never does for a Job managed by MultiKueue, so
      // Kueue 0.17's start of the manager's Job fails ("spec.template: field is immutable").
      featureGates: { MutableSchedulingDirectivesForSuspendedJobs: false },
    },
    {
      name: WORKER,
      role: 'worker' as const,
      nodePools: [{ name: 'cpu', count: 2, resources: NODE }],
    },
  ],
};

const logs = testLogDir('multikueue');
let tb: Testbed;
let mgmt: KubeEndpoint;
let worker: KubeEndpoint;
let profiles: ManagementCluster;
let access: ClusterAccess;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
let dir: string;
let unreachableServer: string;
const agents: AgentProcess[] = [];
const kueues: KueueProcess[] = [];
const started = Date.now();
const figures: string[] = [];

const poll = { intervalMs: 500 };

async function getObject(ep: KubeEndpoint, path: string): Promise<KubeObject | undefined> {
  const res = await kubeRequest(ep, 'GET', path);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET ${path} -> ${res.status}: ${res.body}`);
  return JSON.parse(res.body) as KubeObject;
}

const create = (ep: KubeEndpoint, path: string, body: unknown) =>
  kubeJSON<KubeObject>(ep, 'POST', path, body);

/** Creates a Kueue object of `kind` (kueue.x-k8s.io/v1beta2) at its collection path. */
const createKueue = (ep: KubeEndpoint, kind: string, body: Omit<KubeObject, 'kind'>) =>
  create(ep, `${KUEUE_API}/${collection(kind, body.metadata.namespace)}`, {
    apiVersion: 'kueue.x-k8s.io/v1beta2',
    kind,
    ...body,
  });

function collection(kind: string, namespace?: string): string {
  const plural = `${kind.toLowerCase()}s`;
  return namespace ? `namespaces/${namespace}/${plural}` : plural;
}

/** The ResourceFlavor, ClusterQueue and LocalQueue of one cluster (with the check on the manager). */
async function createQueues(ep: KubeEndpoint, admissionCheck?: string): Promise<void> {
  await createKueue(ep, 'ResourceFlavor', { metadata: { name: FLAVOR } });
  await createKueue(ep, 'ClusterQueue', {
    metadata: { name: CLUSTER_QUEUE },
    spec: {
      namespaceSelector: {},
      resourceGroups: [
        {
          coveredResources: ['cpu', 'memory'],
          flavors: [
            {
              name: FLAVOR,
              resources: [
                { name: 'cpu', nominalQuota: '8' },
                { name: 'memory', nominalQuota: '32Gi' },
              ],
            },
          ],
        },
      ],
      ...(admissionCheck
        ? { admissionChecksStrategy: { admissionChecks: [{ name: admissionCheck }] } }
        : {}),
    },
  });
  await createKueue(ep, 'LocalQueue', {
    metadata: { name: LOCAL_QUEUE, namespace: JOB_NS },
    spec: { clusterQueue: CLUSTER_QUEUE },
  });
}

const multiKueueCluster = (name: string) =>
  getObject(mgmt, `${KUEUE_API}/multikueueclusters/${name}`);

const show = (o: unknown) => JSON.stringify(o, null, 1);

beforeAll(async () => {
  // Cached by source hash; tools/test-all.sh builds it before Jest, in parallel with lint.
  const t0 = Date.now();
  const kueueBin = await ensureGoBinary(KUEUE_MANAGER);
  figures.push(`Kueue binary (ensureGoBinary): ${Date.now() - t0} ms`);
  const moduleDir = kueueModuleDir();

  tb = await startTestbed(TOPOLOGY, { log: () => undefined });
  const m = tb.management!;
  const w = tb.cluster(WORKER);
  mgmt = { server: m.server, token: m.token, ca: m.ca };
  worker = { server: w.server, token: w.token, ca: w.ca };
  profiles = new ManagementCluster(mgmt);
  await profiles.installCrd();

  unreachableServer = `https://127.0.0.1:${await freePort()}`;
  access = writeClusterAccess([
    { name: WORKER, server: w.server, token: w.token, ca: w.ca },
    { name: UNREACHABLE, server: unreachableServer, token: 'x', ca: w.ca },
  ]);
  env = await startHubEnvironment({
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_INVENTORY_KUBECONFIG: m.kubeconfigPath,
      MUSTER_INVENTORY_NAMESPACE: KUEUE_NS,
      MUSTER_INVENTORY_POLL_MS: '1000',
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
    },
  });
  ({ hub, api } = env);
  for (const name of [WORKER, UNREACHABLE])
    await registerWorker(api, name, { accessProviders: access.accessProvidersFor(name) });
  agents.push(
    AgentProcess.start({
      cluster: WORKER,
      hub: hub.grpcAddress,
      kubeconfig: w.kubeconfigPath,
      logFile: join(logs, `agent-${WORKER}.log`),
      env: { MUSTER_LOG_LEVEL: 'info' },
    }),
  );
  await untilReporting(api, WORKER);

  // One serving certificate (infra/pki's, SANs localhost and 127.0.0.1) for both managers'
  // webhooks and metrics; the API servers trust its CA through the webhooks' caBundle.
  dir = mkdtempSync(join(tmpdir(), 'muster-kueue-'));
  const pki = issuePki(join(dir, 'pki'), []);
  const caPem = readFileSync(pki.caFile, 'utf8');
  const clusters = [
    { name: 'mgmt', ep: mgmt, kubeconfig: m.kubeconfigPath, manager: true },
    { name: WORKER, ep: worker, kubeconfig: w.kubeconfigPath, manager: false },
  ];
  const ports = new Map<string, { webhook: number; health: number }>();
  for (const c of clusters)
    ports.set(c.name, { webhook: await freePort(), health: await freePort() });
  await Promise.all(
    clusters.map(async (c) => {
      await kubeJSON(c.ep, 'POST', '/api/v1/namespaces', { metadata: { name: KUEUE_NS } }, [409]);
      await installKueueCrds(c.ep, moduleDir);
      await installKueueWebhooks(
        c.ep,
        moduleDir,
        `https://127.0.0.1:${ports.get(c.name)!.webhook}`,
        caPem,
      );
    }),
  );
  // The provider file's entries, plus the interactiveMode Kueue's configuration requires of an
  // execConfig (the provider file format leaves it out; Never is what the library sets anyway).
  const providers = (
    JSON.parse(readFileSync(access.providerFile, 'utf8')) as {
      providers: { name: string; execConfig: Record<string, unknown> }[];
    }
  ).providers.map((p) => ({ ...p, execConfig: { ...p.execConfig, interactiveMode: 'Never' } }));
  for (const c of clusters) {
    const certDir = join(dir, c.name);
    mkdirSync(certDir);
    copyFileSync(pki.hubCertFile, join(certDir, 'tls.crt'));
    copyFileSync(pki.hubKeyFile, join(certDir, 'tls.key'));
    const t = Date.now();
    kueues.push(
      await KueueProcess.start({
        name: c.name,
        binary: kueueBin,
        kubeconfig: c.kubeconfig,
        dir: certDir,
        webhookPort: ports.get(c.name)!.webhook,
        healthPort: ports.get(c.name)!.health,
        logFile: join(logs, `kueue-${c.name}.log`),
        ...(c.manager
          ? {
              featureGates: { MultiKueueClusterProfile: true },
              // Kueue 0.17 calls the provider list credentialsProviders (later releases:
              // accessProviders).
              multiKueue: { clusterProfile: { credentialsProviders: providers } },
            }
          : {}),
      }),
    );
    figures.push(`Kueue for ${c.name} start -> ready: ${Date.now() - t} ms`);
  }
}, 45 * 60_000);

afterAll(async () => {
  await Promise.all(kueues.map((k) => k.stop()));
  const ends = await stopFleet(agents, env, tb);
  access?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  figures.push(`whole suite: ${Date.now() - started} ms`);
  process.stdout.write(`\nMultiKueue interop:\n  ${figures.join('\n  ')}\n`);
  if (env) expect(ends).toEqual(agents.map(() => 0));
});

describe('Kueue MultiKueue on Muster ClusterProfiles', () => {
  let profile: ClusterProfile;

  it("publishes the worker's ClusterProfile in Kueue's namespace, joined, with its access", async () => {
    profile = await eventually(
      `the ClusterProfile ${KUEUE_NS}/${WORKER} joined`,
      async () => {
        const p = await profiles.get(KUEUE_NS, WORKER);
        return condition(p, 'Joined')?.status === 'True' ? p : undefined;
      },
      {
        ...poll,
        timeoutMs: 60_000,
        describe: async () => show(await profiles.get(KUEUE_NS, WORKER)),
      },
    );
    expect(profile.spec.clusterManager.name).toBe('muster');
    expect(profile.status!.accessProviders).toEqual([
      {
        name: 'muster-token',
        cluster: {
          server: worker.server,
          'certificate-authority-data': Buffer.from(worker.ca).toString('base64'),
        },
      },
    ]);
  });

  it('a MultiKueueCluster naming that profile becomes Active; one naming an unreachable cluster does not', async () => {
    await createQueues(worker);
    await createKueue(mgmt, 'MultiKueueCluster', {
      metadata: { name: WORKER },
      spec: { clusterSource: { clusterProfileRef: { name: profile.metadata.name } } },
    });
    await eventually(`the ClusterProfile ${KUEUE_NS}/${UNREACHABLE}`, () =>
      profiles.get(KUEUE_NS, UNREACHABLE),
    );
    await createKueue(mgmt, 'MultiKueueCluster', {
      metadata: { name: UNREACHABLE },
      spec: { clusterSource: { clusterProfileRef: { name: UNREACHABLE } } },
    });
    await createKueue(mgmt, 'MultiKueueConfig', {
      metadata: { name: 'muster-workers' },
      spec: { clusters: [WORKER] },
    });
    await createKueue(mgmt, 'AdmissionCheck', {
      metadata: { name: CHECK },
      spec: {
        controllerName: MULTIKUEUE,
        parameters: {
          apiGroup: 'kueue.x-k8s.io',
          kind: 'MultiKueueConfig',
          name: 'muster-workers',
        },
      },
    });
    await createQueues(mgmt, CHECK);

    const t = Date.now();
    const active = await eventually(
      `MultiKueueCluster ${WORKER} Active`,
      async () => {
        const c = await multiKueueCluster(WORKER);
        return conditionOf(c, 'Active')?.status === 'True' ? c : undefined;
      },
      { ...poll, timeoutMs: 90_000, describe: async () => show(await multiKueueCluster(WORKER)) },
    );
    figures.push(`MultiKueueCluster created -> Active: ${Date.now() - t} ms`);
    expect(conditionOf(active, 'Active')!.reason).toBe('Active');

    // The same path with an endpoint that does not answer: Kueue says so and stays inactive.
    const inactive = await eventually(
      `MultiKueueCluster ${UNREACHABLE} Active=False`,
      async () => {
        const c = await multiKueueCluster(UNREACHABLE);
        return conditionOf(c, 'Active')?.status === 'False' ? c : undefined;
      },
      {
        ...poll,
        timeoutMs: 90_000,
        describe: async () => show(await multiKueueCluster(UNREACHABLE)),
      },
    );
    // Kueue dialled the server of Muster's profile: the profile was read, the connection failed.
    expect(conditionOf(inactive, 'Active')).toMatchObject({ reason: 'ClientConnectionFailed' });
    expect(conditionOf(inactive, 'Active')!.message).toContain(unreachableServer);

    for (const [ep, what] of [
      [mgmt, `${KUEUE_API}/admissionchecks/${CHECK}`],
      [mgmt, `${KUEUE_API}/clusterqueues/${CLUSTER_QUEUE}`],
      [worker, `${KUEUE_API}/clusterqueues/${CLUSTER_QUEUE}`],
    ] as const) {
      await eventually(
        `${what} Active`,
        async () => conditionOf(await getObject(ep, what), 'Active')?.status === 'True',
        { ...poll, timeoutMs: 60_000, describe: async () => show(await getObject(ep, what)) },
      );
    }
  });

  it('dispatches a Job queued on the management cluster to the worker, where its pods run', async () => {
    const jobPath = `/apis/batch/v1/namespaces/${JOB_NS}/jobs`;
    const t = Date.now();
    await create(mgmt, jobPath, {
      metadata: {
        name: JOB,
        namespace: JOB_NS,
        labels: { 'kueue.x-k8s.io/queue-name': LOCAL_QUEUE },
      },
      spec: {
        parallelism: 2,
        completions: 2,
        template: {
          metadata: { annotations: { [POD_ANNOTATIONS.succeedAfter]: '15s' } },
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'main',
                image: 'registry.example/train:1',
                resources: { requests: { cpu: '1', memory: '1Gi' } },
              },
            ],
          },
        },
      },
    });
    // Kueue's webhook on the manager: the Job waits, suspended, and belongs to MultiKueue.
    const queued = (await getObject(mgmt, `${jobPath}/${JOB}`))!;
    expect(queued.spec).toMatchObject({ suspend: true, managedBy: MULTIKUEUE });

    const remote = await eventually(
      `Job ${JOB} in ${WORKER}`,
      () => getObject(worker, `${jobPath}/${JOB}`),
      {
        ...poll,
        timeoutMs: 90_000,
        describe: async () =>
          show({
            managerJob: await getObject(mgmt, `${jobPath}/${JOB}`),
            workloads: await kubeJSON(mgmt, 'GET', `${KUEUE_API}/namespaces/${JOB_NS}/workloads`),
          }),
      },
    );
    figures.push(`Job created -> in the worker: ${Date.now() - t} ms`);
    expect(remote.metadata.labels).toMatchObject({ 'kueue.x-k8s.io/queue-name': LOCAL_QUEUE });

    const podsPath = `/api/v1/namespaces/${JOB_NS}/pods?labelSelector=${encodeURIComponent(`job-name=${JOB}`)}`;
    type PodList = {
      items: {
        metadata: { name: string };
        spec: { nodeName?: string };
        status: { phase: string };
      }[];
    };
    const running = await eventually(
      `2 pods of ${JOB} Running in ${WORKER}`,
      async () => {
        const pods = (await kubeJSON<PodList>(worker, 'GET', podsPath)).items;
        return pods.filter((p) => p.status.phase === 'Running').length === 2 ? pods : undefined;
      },
      {
        ...poll,
        timeoutMs: 90_000,
        describe: async () =>
          show({
            workerJob: await getObject(worker, `${jobPath}/${JOB}`),
            pods: (await kubeJSON<PodList>(worker, 'GET', podsPath)).items,
          }),
      },
    );
    figures.push(`Job created -> 2 pods Running in the worker: ${Date.now() - t} ms`);
    const nodes = new Set(tb.cluster(WORKER).nodes);
    for (const p of running) expect(nodes.has(p.spec.nodeName!)).toBe(true);
    // Nothing runs on the management cluster: its Job controller leaves a MultiKueue Job alone.
    expect((await kubeJSON<PodList>(mgmt, 'GET', podsPath)).items).toEqual([]);
    // So does Muster's front door on the same cluster, though the Job has Kueue's queue label:
    // its managedBy names another multi-cluster manager.
    const managerJob = (await getObject(mgmt, `${jobPath}/${JOB}`))!;
    expect(
      Object.keys(managerJob.metadata.annotations ?? {}).filter((k) => k.startsWith('muster.dev/')),
    ).toEqual([]);
    const { jobs } = await api.jobs.listJobs({
      queue: '',
      states: [],
      pageSize: 100,
      pageToken: '',
    });
    expect(jobs.filter((j) => j.spec?.name === JOB)).toEqual([]);

    // The manager's Workload names the worker it went to.
    const workloads = (
      await kubeJSON<{ items: KubeObject[] }>(
        mgmt,
        'GET',
        `${KUEUE_API}/namespaces/${JOB_NS}/workloads`,
      )
    ).items;
    expect(workloads).toHaveLength(1);
    expect(workloads[0]!.status).toMatchObject({
      clusterName: WORKER,
      admissionChecks: [expect.objectContaining({ name: CHECK, state: 'Ready' })],
    });

    // The worker's own Kueue admitted the copy MultiKueue made there, in the worker's queue.
    const remoteWorkloads = (
      await kubeJSON<{ items: KubeObject[] }>(
        worker,
        'GET',
        `${KUEUE_API}/namespaces/${JOB_NS}/workloads`,
      )
    ).items;
    expect(remoteWorkloads).toHaveLength(1);
    expect(conditionOf(remoteWorkloads[0], 'Admitted')).toMatchObject({ status: 'True' });
    expect(remoteWorkloads[0]!.status).toMatchObject({
      admission: { clusterQueue: CLUSTER_QUEUE },
    });

    // The manager Job's status follows the worker's, to completion.
    const done = await eventually(
      `Job ${JOB} Complete on the management cluster`,
      async () => {
        const j = await getObject(mgmt, `${jobPath}/${JOB}`);
        return conditionOf(j, 'Complete')?.status === 'True' ? j : undefined;
      },
      {
        ...poll,
        timeoutMs: 120_000,
        describe: async () =>
          show({
            managerJob: await getObject(mgmt, `${jobPath}/${JOB}`),
            workerJob: await getObject(worker, `${jobPath}/${JOB}`),
          }),
      },
    );
    figures.push(`Job created -> Complete on the management cluster: ${Date.now() - t} ms`);
    expect(done.status).toMatchObject({ succeeded: 2 });
  });
});
