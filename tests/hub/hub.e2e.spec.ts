import { randomUUID } from 'node:crypto';
import { JobState, type HubClients, type JobEvent, type WatchJobResponse } from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import { grpcError, jobSpec, podSet, podTemplate, status } from '../support/fixtures';

let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
let api: HubClients;

const MAX_MEMBERS = 64;

async function jobCount(): Promise<number> {
  const [row] = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM jobs');
  return Number(row!.n);
}

beforeAll(async () => {
  env = await startHubEnvironment({
    env: { MUSTER_MAX_MEMBERS_PER_GANG: String(MAX_MEMBERS) },
    queues: [
      {
        name: 'research',
        description: 'team research',
        weight: 2,
        allowedNamespaces: ['default', 'ml'],
      },
    ],
  });
  ({ db, hub, api } = env);
});

afterAll(() => env?.stop());

describe('inventory', () => {
  it('registers, lists, cordons and deregisters clusters', async () => {
    const { cluster } = await api.inventory.registerCluster({
      name: 'gpu-east',
      displayName: 'GPU East',
      clusterSet: 'training',
      topologyLevels: [],
      accessProviders: [
        {
          name: 'token',
          cluster: {
            server: 'https://10.0.0.1:6443',
            certificateAuthorityData: Buffer.from('ca'),
            tlsServerName: '',
            proxyUrl: '',
            insecureSkipTlsVerify: false,
            extensions: [],
          },
        },
      ],
      labels: { region: 'east' },
    });
    expect(cluster!.clusterManager).toBe('muster');
    expect(cluster!.topologyLevels).toEqual([
      'topology.kubernetes.io/zone',
      'cloud.provider.com/topology-block',
      'cloud.provider.com/topology-rack',
      'kubernetes.io/hostname',
    ]);
    await api.inventory.registerCluster({
      name: 'cpu-west',
      displayName: '',
      clusterSet: '',
      topologyLevels: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
      accessProviders: [],
      labels: {},
    });
    const again = await grpcError(
      api.inventory.registerCluster({
        name: 'gpu-east',
        displayName: '',
        clusterSet: '',
        topologyLevels: [],
        accessProviders: [],
        labels: {},
      }),
    );
    expect(again.code).toBe(status.ALREADY_EXISTS);

    const list = await api.inventory.listClusters({});
    expect(list.clusters.map((c) => c.name)).toEqual(['cpu-west', 'gpu-east']);
    const got = await api.inventory.getCluster({ name: 'gpu-east' });
    expect(got.cluster!.accessProviders[0]!.cluster!.server).toBe('https://10.0.0.1:6443');
    expect(
      Buffer.from(got.cluster!.accessProviders[0]!.cluster!.certificateAuthorityData).toString(),
    ).toBe('ca');
    expect(got.cluster!.labels).toEqual({ region: 'east' });

    expect(
      (await api.inventory.cordonCluster({ name: 'cpu-west', reason: 'maintenance' })).cluster!
        .cordoned,
    ).toBe(true);
    expect((await api.inventory.uncordonCluster({ name: 'cpu-west' })).cluster!.cordoned).toBe(
      false,
    );
    await api.inventory.deregisterCluster({ name: 'cpu-west' });
    expect((await grpcError(api.inventory.getCluster({ name: 'cpu-west' }))).code).toBe(
      status.NOT_FOUND,
    );
  });

  it('refuses bad cluster input naming the field, storing nothing', async () => {
    const before = (await api.inventory.listClusters({})).clusters.length;
    const bad = [
      { req: { name: 'Bad_Name' }, field: 'name' },
      { req: { name: 'x'.repeat(64) }, field: 'name' },
      { req: { name: 'ok', topologyLevels: ['not a label!'] }, field: 'topology_levels[0]' },
      { req: { name: 'ok', labels: { 'bad key!': 'v' } }, field: 'labels["bad key!"]' },
    ];
    for (const { req, field } of bad) {
      const err = await grpcError(
        api.inventory.registerCluster({
          displayName: '',
          clusterSet: '',
          topologyLevels: [],
          accessProviders: [],
          labels: {},
          ...req,
        }),
      );
      expect([field, err.code]).toEqual([field, status.INVALID_ARGUMENT]);
      // The field travels as its own trailer, exactly, and heads the message people read.
      expect(err.metadata.get('muster-field')).toEqual([field]);
      expect(err.metadata.get('muster-error-code')).toEqual(['InvalidArgument']);
      expect(err.details.startsWith(`${field}:`)).toBe(true);
    }
    const server = await grpcError(
      api.inventory.registerCluster({
        name: 'ok',
        displayName: '',
        clusterSet: '',
        topologyLevels: [],
        labels: {},
        accessProviders: [
          {
            name: 'p',
            cluster: {
              server: 'not a url',
              certificateAuthorityData: Buffer.alloc(0),
              tlsServerName: '',
              proxyUrl: '',
              insecureSkipTlsVerify: false,
              extensions: [],
            },
          },
        ],
      }),
    );
    expect(server.code).toBe(status.INVALID_ARGUMENT);
    expect(server.metadata.get('muster-field')).toEqual(['access_providers[0].cluster.server']);
    expect(server.details).toMatch(/^access_providers\[0\]\.cluster\.server/);
    expect((await api.inventory.listClusters({})).clusters.length).toBe(before);
  });

  it('creates, updates, lists and deletes queues', async () => {
    await api.inventory.createQueue({
      queue: { name: 'scratch', description: '', weight: 0, allowedNamespaces: [] },
    });
    const updated = await api.inventory.updateQueue({
      queue: { name: 'scratch', description: 'temp', weight: 3, allowedNamespaces: ['b', 'a'] },
    });
    expect(updated.queue).toMatchObject({
      name: 'scratch',
      description: 'temp',
      weight: 3,
      allowedNamespaces: ['a', 'b'],
    });
    expect((await api.inventory.listQueues({})).queues.map((q) => q.name)).toEqual([
      'research',
      'scratch',
    ]);
    expect(
      (
        await grpcError(
          api.inventory.createQueue({
            queue: { name: 'scratch', description: '', weight: 1, allowedNamespaces: [] },
          }),
        )
      ).code,
    ).toBe(status.ALREADY_EXISTS);
    expect(
      (
        await grpcError(
          api.inventory.createQueue({
            queue: { name: 'q', description: '', weight: -1, allowedNamespaces: [] },
          }),
        )
      ).details,
    ).toMatch(/^queue\.weight/);
    await api.inventory.deleteQueue({ name: 'scratch' });
    expect((await grpcError(api.inventory.getQueue({ name: 'scratch' }))).code).toBe(
      status.NOT_FOUND,
    );
  });
});

describe('jobs', () => {
  it('submit → get → list → watch → cancel', async () => {
    const { job, created } = await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('research', { name: 'llama-ft', labels: { team: 'nlp' } }),
    });
    expect(created).toBe(true);
    expect(job!.state).toBe(JobState.JOB_STATE_QUEUED);
    expect(job!.members!.total).toBe(4);

    const got = await api.jobs.getJob({ jobId: job!.id });
    expect(got.job!.spec!.name).toBe('llama-ft');
    expect(got.job!.spec!.labels).toEqual({ team: 'nlp' });
    expect(got.job!.spec!.namespace).toBe('default');
    expect(
      JSON.parse(got.job!.spec!.podSets[0]!.podTemplateJson).spec.containers[0].resources.requests[
        'nvidia.com/gpu'
      ],
    ).toBe('1');

    const listed = await api.jobs.listJobs({
      queue: 'research',
      states: [JobState.JOB_STATE_QUEUED],
      pageSize: 0,
      pageToken: '',
    });
    expect(listed.jobs.map((j) => j.id)).toContain(job!.id);

    const events: JobEvent[] = [];
    const stream = api.streams.watchJob({ jobId: job!.id, afterSequence: 0 });
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: WatchJobResponse) => {
        events.push(m.event!);
        if (events.length === 1)
          void api.jobs.cancelJob({ jobId: job!.id, reason: 'changed my mind' }).catch(reject);
      });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    await ended;
    expect(events.map((e) => [e.fromState, e.state, e.reason])).toEqual([
      [JobState.JOB_STATE_UNSPECIFIED, JobState.JOB_STATE_QUEUED, 'Submitted'],
      [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_CANCELLED, 'Cancelled'],
    ]);
    expect(events[1]!.message).toBe('changed my mind');
    expect(events[1]!.sequence).toBeGreaterThan(events[0]!.sequence);

    const after = await api.jobs.getJob({ jobId: job!.id });
    expect(after.job!.state).toBe(JobState.JOB_STATE_CANCELLED);
    // Cancelling again changes nothing.
    const again = await api.jobs.cancelJob({ jobId: job!.id, reason: '' });
    expect(again.job!.updatedAt).toEqual(after.job!.updatedAt);
    const history = await db.query('SELECT * FROM job_events WHERE job_id = $1', [job!.id]);
    expect(history).toHaveLength(2);
  });

  it('WatchJobs streams events of a queue as they happen', async () => {
    const seen: JobEvent[] = [];
    const stream = api.streams.watchJobs({ queue: 'research', afterSequence: 0 });
    stream.on('data', (m: { event: JobEvent }) => seen.push(m.event));
    const streamErrors: number[] = [];
    stream.on('error', (e: { code: number }) => streamErrors.push(e.code));
    await new Promise((r) => setTimeout(r, 300));
    const { job } = await api.jobs.submitJob({ clientRequestId: '', spec: jobSpec('research') });
    await api.jobs.cancelJob({ jobId: job!.id, reason: '' });
    const deadline = Date.now() + 10_000;
    while (seen.filter((e) => e.jobId === job!.id).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    stream.cancel();
    await new Promise((r) => setTimeout(r, 100));
    expect(streamErrors).toEqual([status.CANCELLED]);
    expect(seen.filter((e) => e.jobId === job!.id).map((e) => e.state)).toEqual([
      JobState.JOB_STATE_QUEUED,
      JobState.JOB_STATE_CANCELLED,
    ]);
  });

  it('a retried submit with the same client request id returns the same job', async () => {
    const id = randomUUID();
    const before = await jobCount();
    const first = await api.jobs.submitJob({ clientRequestId: id, spec: jobSpec('research') });
    const results = await Promise.all(
      [1, 2, 3].map(() => api.jobs.submitJob({ clientRequestId: id, spec: jobSpec('research') })),
    );
    for (const r of results) {
      expect(r.created).toBe(false);
      expect(r.job!.id).toBe(first.job!.id);
    }
    expect(await jobCount()).toBe(before + 1);
    const other = await grpcError(
      api.jobs.submitJob({ clientRequestId: id, spec: jobSpec('research', { priority: 5 }) }),
    );
    expect(other.code).toBe(status.ALREADY_EXISTS);
    expect(other.details).toMatch(/^client_request_id/);
  });

  it('SubmitJobs stores each good job once, refuses each bad one naming its field, and a retry creates nothing twice', async () => {
    const before = await jobCount();
    const jobs = [
      { clientRequestId: randomUUID(), spec: jobSpec('research', { name: 'bulk-a' }) },
      { clientRequestId: randomUUID(), spec: jobSpec('research', { name: 'Bad_Name' }) },
      { clientRequestId: randomUUID(), spec: jobSpec('nowhere', { name: 'bulk-c' }) },
      { clientRequestId: randomUUID(), spec: jobSpec('research', { name: 'bulk-d' }) },
    ];
    const { results } = await api.jobs.submitJobs({ jobs });
    expect(results.map((r) => r.result?.$case)).toEqual([
      'submitted',
      'error',
      'error',
      'submitted',
    ]);
    const error = (i: number) => {
      const r = results[i]!.result;
      if (r?.$case !== 'error') throw new Error(`jobs[${i}] was not refused`);
      return r.error;
    };
    expect(error(1)).toMatchObject({ code: 'InvalidArgument', field: 'jobs[1].spec.name' });
    expect(error(1).message).toMatch(/^jobs\[1\]\.spec\.name: must be a DNS-1123/);
    expect(error(2)).toMatchObject({ code: 'NotFound', field: 'jobs[2].spec.queue' });
    expect(await jobCount()).toBe(before + 2);
    const submitted = results.flatMap((r) =>
      r.result?.$case === 'submitted' ? [r.result.submitted] : [],
    );
    expect(submitted.map((r) => [r.job!.spec!.name, r.created])).toEqual([
      ['bulk-a', true],
      ['bulk-d', true],
    ]);
    for (const r of submitted)
      expect((await api.jobs.getJob({ jobId: r.job!.id })).job!.state).toBe(
        JobState.JOB_STATE_QUEUED,
      );

    // The same call again (a client that lost the reply): the same jobs, none created.
    const again = await api.jobs.submitJobs({ jobs });
    expect(
      again.results.flatMap((r) =>
        r.result?.$case === 'submitted'
          ? [[r.result.submitted.job!.id, r.result.submitted.created]]
          : [],
      ),
    ).toEqual(submitted.map((r) => [r.job!.id, false]));
    expect(await jobCount()).toBe(before + 2);
  });

  it('SubmitJobs refuses an empty or oversized call whole, naming jobs', async () => {
    const before = await jobCount();
    const empty = await grpcError(api.jobs.submitJobs({ jobs: [] }));
    expect(empty.code).toBe(status.INVALID_ARGUMENT);
    expect(empty.details).toMatch(/^jobs: needs at least one job/);
    const many = Array.from({ length: 501 }, () => ({
      clientRequestId: randomUUID(),
      spec: jobSpec('research'),
    }));
    const oversized = await grpcError(api.jobs.submitJobs({ jobs: many }));
    expect(oversized.code).toBe(status.INVALID_ARGUMENT);
    expect(oversized.details).toMatch(/^jobs: at most 500 jobs per call, got 501/);
    expect(await jobCount()).toBe(before);
  });

  it('pages through ListJobs', async () => {
    await api.inventory.createQueue({
      queue: { name: 'paging', description: '', weight: 1, allowedNamespaces: [] },
    });
    const ids = new Set<string>();
    for (let i = 0; i < 7; i++)
      ids.add((await api.jobs.submitJob({ clientRequestId: '', spec: jobSpec('paging') })).job!.id);
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await api.jobs.listJobs({ queue: 'paging', states: [], pageSize: 3, pageToken });
      seen.push(...page.jobs.map((j) => j.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== '');
    expect(pages).toBe(3);
    expect(new Set(seen)).toEqual(ids);
    expect(seen).toHaveLength(7);
    expect(
      (
        await grpcError(
          api.jobs.listJobs({ queue: '', states: [], pageSize: 0, pageToken: 'garbage' }),
        )
      ).details,
    ).toMatch(/^page_token/);
  });

  it('explains why a queued job is not placed, per cluster', async () => {
    const { job } = await api.jobs.submitJob({ clientRequestId: '', spec: jobSpec('research') });
    const explained = await api.jobs.explainJob({ jobId: job!.id });
    const east = explained.clusters.find((c) => c.cluster === 'gpu-east');
    expect(east).toMatchObject({ fits: false, reasonCode: 'ClusterNotReady' });
  });
});

describe('bad input is refused naming the field, stores nothing, and the hub keeps serving', () => {
  const cases: [string, () => Parameters<HubClients['jobs']['submitJob']>[0], number, RegExp][] = [
    [
      'missing spec',
      () => ({ clientRequestId: '', spec: undefined }),
      status.INVALID_ARGUMENT,
      /^spec: is required/,
    ],
    [
      'empty name',
      () => ({ clientRequestId: '', spec: jobSpec('research', { name: '' }) }),
      status.INVALID_ARGUMENT,
      /^spec\.name: must not be empty/,
    ],
    [
      'oversized name',
      () => ({ clientRequestId: '', spec: jobSpec('research', { name: 'a'.repeat(300) }) }),
      status.INVALID_ARGUMENT,
      /^spec\.name: must be at most 253/,
    ],
    [
      'non-DNS-1123 name',
      () => ({ clientRequestId: '', spec: jobSpec('research', { name: 'Train_Job' }) }),
      status.INVALID_ARGUMENT,
      /^spec\.name: must be a DNS-1123/,
    ],
    [
      'non-DNS pod set name',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', { podSets: [podSet('Workers', 1)] }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.name/,
    ],
    [
      'negative quantity',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', { podSets: [podSet('w', 1, { cpu: '-1' })] }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.pod_template_json\.spec\.containers\[0\]\.resources\.requests\.cpu/,
    ],
    [
      'unparsable quantity',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', { podSets: [podSet('w', 1, { memory: '12 GB' })] }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.pod_template_json\.spec\.containers\[0\]\.resources\.requests\.memory/,
    ],
    [
      'zero members',
      () => ({ clientRequestId: '', spec: jobSpec('research', { podSets: [podSet('w', 0)] }) }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.count: must be at least 1/,
    ],
    [
      'too many members',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', { podSets: [podSet('a', MAX_MEMBERS), podSet('b', 1)] }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[1\]\.count: .*more than 64 members/,
    ],
    [
      'no pod sets',
      () => ({ clientRequestId: '', spec: jobSpec('research', { podSets: [] }) }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets: must have at least one/,
    ],
    [
      'duplicate pod set names',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', { podSets: [podSet('w', 1), podSet('w', 1)] }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[1\]\.name: duplicate/,
    ],
    [
      'template is not JSON',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', {
          podSets: [{ name: 'w', count: 1, podTemplateJson: '{nope', topology: undefined }],
        }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.pod_template_json: is not valid JSON/,
    ],
    [
      'template without containers',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', {
          podSets: [{ name: 'w', count: 1, podTemplateJson: '{"spec":{}}', topology: undefined }],
        }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.pod_template_json\.spec\.containers/,
    ],
    [
      'template pins a node',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', {
          podSets: [
            {
              name: 'w',
              count: 1,
              podTemplateJson: podTemplate({ cpu: '1' }, { nodeName: 'n1' }),
              topology: undefined,
            },
          ],
        }),
      }),
      status.INVALID_ARGUMENT,
      /nodeName: must not be set/,
    ],
    [
      'fractional GPU (the worker would refuse it; the cycle must never see it)',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', {
          podSets: [
            {
              name: 'w',
              count: 1,
              podTemplateJson: podTemplate({ cpu: '1', 'nvidia.com/gpu': '500m' }),
              topology: undefined,
            },
          ],
        }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.pod_template_json\.spec\.containers\[0\]\.resources\.requests\.nvidia\.com\/gpu: extended resource nvidia\.com\/gpu must be a whole number/,
    ],
    [
      'pods as a container resource',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', {
          podSets: [
            {
              name: 'w',
              count: 1,
              podTemplateJson: podTemplate({ pods: '2' }),
              topology: undefined,
            },
          ],
        }),
      }),
      status.INVALID_ARGUMENT,
      /resources\.requests\.pods: is not a container resource; every member takes one pod slot/,
    ],
    [
      'malformed node affinity',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', {
          podSets: [
            {
              name: 'w',
              count: 1,
              podTemplateJson: podTemplate(
                { cpu: '1' },
                {
                  affinity: {
                    nodeAffinity: {
                      requiredDuringSchedulingIgnoredDuringExecution: {
                        nodeSelectorTerms: [
                          { matchExpressions: [{ key: 'zone', operator: 'Near' }] },
                        ],
                      },
                    },
                  },
                },
              ),
              topology: undefined,
            },
          ],
        }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.pod_template_json\.spec\.affinity\.nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution\.nodeSelectorTerms\[0\]\.matchExpressions\[0\]\.operator: unknown operator Near/,
    ],
    [
      'topology without mode',
      () => ({
        clientRequestId: '',
        spec: jobSpec('research', {
          podSets: [
            { ...podSet('w', 2), topology: { mode: 0, level: 'cloud.provider.com/topology-rack' } },
          ],
        }),
      }),
      status.INVALID_ARGUMENT,
      /^spec\.pod_sets\[0\]\.topology\.mode/,
    ],
    [
      'bad label',
      () => ({ clientRequestId: '', spec: jobSpec('research', { labels: { team: 'not ok!' } }) }),
      status.INVALID_ARGUMENT,
      /^spec\.labels\["team"\]: value/,
    ],
    [
      'namespace outside the queue',
      () => ({ clientRequestId: '', spec: jobSpec('research', { namespace: 'kube-system' }) }),
      status.INVALID_ARGUMENT,
      /^spec\.namespace: queue "research" may only target/,
    ],
    [
      'oversized client request id',
      () => ({ clientRequestId: 'x'.repeat(200), spec: jobSpec('research') }),
      status.INVALID_ARGUMENT,
      /^client_request_id/,
    ],
    [
      'unknown queue',
      () => ({ clientRequestId: '', spec: jobSpec('no-such-queue') }),
      status.NOT_FOUND,
      /^spec\.queue: queue "no-such-queue" not found/,
    ],
  ];

  it.each(cases)('%s', async (_name, request, code, message) => {
    const before = await jobCount();
    const err = await grpcError(api.jobs.submitJob(request()));
    expect(err.code).toBe(code);
    expect(err.details).toMatch(message);
    expect(err.metadata.get('muster-error-code')).toHaveLength(1);
    expect(await jobCount()).toBe(before);
  });

  it('refuses malformed ids and filters on other RPCs', async () => {
    expect((await grpcError(api.jobs.getJob({ jobId: 'nope' }))).details).toMatch(/^job_id/);
    expect((await grpcError(api.jobs.getJob({ jobId: randomUUID() }))).code).toBe(status.NOT_FOUND);
    expect((await grpcError(api.jobs.cancelJob({ jobId: '', reason: '' }))).details).toMatch(
      /^job_id: is required/,
    );
    expect(
      (await grpcError(api.jobs.listJobs({ queue: 'BAD', states: [], pageSize: 0, pageToken: '' })))
        .details,
    ).toMatch(/^queue/);
    expect(
      (
        await grpcError(
          api.jobs.listJobs({ queue: '', states: [99 as JobState], pageSize: 0, pageToken: '' }),
        )
      ).details,
    ).toMatch(/^states\[0\]/);
    expect(
      (await grpcError(api.jobs.listJobs({ queue: '', states: [], pageSize: 5000, pageToken: '' })))
        .details,
    ).toMatch(/^page_size/);
  });

  it('is still serving afterwards', async () => {
    const res = await fetch(`${hub.httpUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', postgres: 'ok', redis: 'ok' });
    expect((await api.inventory.listQueues({})).queues.length).toBeGreaterThan(0);
  });
});

describe('operations', () => {
  it('serves /healthz and Prometheus /metrics', async () => {
    expect((await fetch(`${hub.httpUrl}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/muster_grpc_requests_total\{method="SubmitJob",code="OK"\} \d+/);
    expect(metrics).toMatch(
      /muster_grpc_requests_total\{method="SubmitJob",code="INVALID_ARGUMENT"\} \d+/,
    );
    expect(metrics).toMatch(/muster_jobs\{state="Queued"\} \d+/);
  });

  it('keeps an acknowledged submit across a SIGKILL of the hub', async () => {
    const { job } = await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('research', { name: 'survivor' }),
    });
    api.close();
    await hub.kill();
    await env.startHub();
    ({ hub, api } = env);
    const got = await api.jobs.getJob({ jobId: job!.id });
    expect(got.job!.spec!.name).toBe('survivor');
    expect(got.job!.state).toBe(JobState.JOB_STATE_QUEUED);
    const events = await db.query('SELECT state FROM job_events WHERE job_id = $1', [job!.id]);
    expect(events).toEqual([{ state: 'Queued' }]);
  });
});
