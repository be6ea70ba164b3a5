// The cluster, queue and cohort commands of the built CLI against a hub process.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { CliSandbox } from './support/cli-process';

let env: HubEnvironment;
let cli: CliSandbox;

beforeAll(async () => {
  env = await startHubEnvironment();
  cli = new CliSandbox(env.hub.grpcAddress);
});

afterAll(() => env?.stop());

describe('clusters', () => {
  it('register → list → get → cordon → uncordon → deregister', async () => {
    const caFile = join(mkdtempSync(join(tmpdir(), 'muster-ca-')), 'ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    let r = await cli.run([
      'clusters',
      'register',
      'gpu-east',
      '--display-name',
      'GPU East',
      '--cluster-set',
      'training',
      '--topology-level',
      'cloud.provider.com/topology-block',
      '--topology-level',
      'kubernetes.io/hostname',
      '--label',
      'region=east',
      '--label',
      'tier=gold',
      '--server',
      'https://10.0.0.1:6443',
      '--ca-file',
      caFile,
    ]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'cluster gpu-east registered\n', '']);
    expect((await cli.run(['clusters', 'register', 'cpu-west'])).code).toBe(0);

    r = await cli.run(['clusters', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(
      /^NAME\s+STATUS\s+AGENT\s+NODES\s+CPU\s+GPU\s+TOPOLOGY$/,
    );
    // No agent has reported yet: readiness says so and capacity is unknown.
    expect(r.stdout).toMatch(
      /\ngpu-east\s+NeverConnected\s+-\s+-\s+-\s+-\s+topology-block,hostname\n/,
    );
    expect(r.stdout).toMatch(
      /\ncpu-west\s+NeverConnected\s+-\s+-\s+-\s+-\s+zone,topology-block,topology-rack,hostname\n/,
    );

    r = await cli.run(['clusters', 'get', 'gpu-east', '-o', 'json']);
    const cluster = JSON.parse(r.stdout);
    expect(cluster).toMatchObject({
      name: 'gpu-east',
      displayName: 'GPU East',
      clusterSet: 'training',
      agentState: 'AGENT_STATE_NEVER_CONNECTED',
      topologyLevels: ['cloud.provider.com/topology-block', 'kubernetes.io/hostname'],
      labels: { region: 'east', tier: 'gold' },
    });
    expect(cluster.accessProviders[0]).toMatchObject({
      name: 'muster',
      cluster: { server: 'https://10.0.0.1:6443' },
    });
    expect(
      Buffer.from(cluster.accessProviders[0].cluster.certificateAuthorityData, 'base64').toString(),
    ).toContain('BEGIN CERTIFICATE');

    r = await cli.run(['clusters', 'get', 'gpu-east']);
    expect(r.stdout).toContain('Status:          NeverConnected\n');
    expect(r.stdout).toContain('Access providers:\n  muster: https://10.0.0.1:6443\n');
    // kubectl's verb works too.
    const described = await cli.run(['clusters', 'describe', 'gpu-east']);
    expect([described.code, described.stdout.split('\n')[0]]).toEqual([0, r.stdout.split('\n')[0]]);

    r = await cli.run(['clusters', 'cordon', 'cpu-west', '--reason', 'maintenance']);
    expect([r.code, r.stdout]).toEqual([0, 'cluster cpu-west cordoned\n']);
    expect((await cli.run(['clusters', 'list'])).stdout).toMatch(
      /\ncpu-west\s+NeverConnected,Cordoned\s/,
    );
    r = await cli.run(['clusters', 'uncordon', 'cpu-west', '-o', 'yaml']);
    expect(parse(r.stdout)).toMatchObject({ name: 'cpu-west' });
    expect(parse(r.stdout).cordoned).toBeUndefined(); // false is the zero value, which the JSON mapping omits
    expect((await cli.run(['clusters', 'list'])).stdout).toMatch(/\ncpu-west\s+NeverConnected\s/);

    r = await cli.run(['clusters', 'deregister', 'cpu-west']);
    expect([r.code, r.stdout]).toEqual([0, 'cluster cpu-west deregistered\n']);
    r = await cli.run(['clusters', 'get', 'cpu-west']);
    expect([r.code, r.stderr]).toEqual([3, 'error: cluster "cpu-west" not found\n']);
    const listed = JSON.parse((await cli.run(['clusters', 'list', '-o', 'json'])).stdout);
    expect(listed.clusters.map((c: { name: string }) => c.name)).toEqual(['gpu-east']);
  });

  it('drain → get → list → uncordon, on a cluster no gang runs on', async () => {
    expect((await cli.run(['clusters', 'register', 'cpu-drain'])).code).toBe(0);
    let r = await cli.run([
      'clusters',
      'drain',
      'cpu-drain',
      '--grace',
      '10m',
      '--reason',
      'upgrade',
    ]);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      0,
      'cluster cpu-drain drained: 0 gangs given a notice of 10m; they are deleted after it and placed elsewhere\n',
      '',
    ]);
    r = await cli.run(['clusters', 'get', 'cpu-drain', '-o', 'json']);
    const drained = JSON.parse(r.stdout);
    expect(drained).toMatchObject({
      cordoned: true,
      drain: { graceSeconds: 600, reason: 'upgrade' },
    });
    expect(drained.drain.gangsLeft).toBeUndefined(); // 0, which the JSON mapping omits
    r = await cli.run(['clusters', 'get', 'cpu-drain']);
    expect(r.stdout).toContain('Status:          NeverConnected,Draining\n');
    expect(r.stdout).toMatch(
      /\nDrain:\n {2}Since: +\S+Z \(\d+s ago\)\n {2}Grace: +10m\n {2}Reason: +upgrade\n {2}Gangs left: +0\n/,
    );
    expect((await cli.run(['clusters', 'list'])).stdout).toMatch(
      /\ncpu-drain\s+NeverConnected,Draining\s/,
    );
    r = await cli.run(['clusters', 'drain', 'cpu-drain', '--grace', '30s', '--wait', '-o', 'json']);
    expect([r.code, r.stderr]).toEqual([0, 'cluster cpu-drain is empty\n']);
    expect(JSON.parse(r.stdout).noticedJobIds).toBeUndefined(); // none: the empty list is omitted

    r = await cli.run(['clusters', 'uncordon', 'cpu-drain', '-o', 'json']);
    expect(JSON.parse(r.stdout).cordoned).toBeUndefined();
    expect(JSON.parse(r.stdout).drain).toBeUndefined();
    expect((await cli.run(['clusters', 'list'])).stdout).toMatch(/\ncpu-drain\s+NeverConnected\s/);

    r = await cli.run(['clusters', 'drain', 'nope', '--grace', '1m']);
    expect([r.code, r.stderr]).toEqual([3, 'error: cluster "nope" not found\n']);
    r = await cli.run(['clusters', 'drain', 'cpu-drain', '--grace', '2d']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: option '--grace <duration>' argument '2d' is invalid.");
    expect((await cli.run(['clusters', 'deregister', 'cpu-drain'])).code).toBe(0);
  });

  it('reports refusals with the right exit codes', async () => {
    let r = await cli.run(['clusters', 'register', 'gpu-east']);
    expect([r.code, r.stderr]).toEqual([
      1,
      'error: name: cluster "gpu-east" is already registered\n',
    ]);
    r = await cli.run(['clusters', 'register', 'Bad_Name']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: name: must be a DNS-1123 label/);
    r = await cli.run(['clusters', 'register', 'x', '--ca-file', '/nope.pem']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'error: --ca-file, --tls-server-name and --insecure-skip-tls-verify describe an access provider; add --server URL\n',
    ]);
    r = await cli.run(['clusters', 'register', 'x', '--label', 'novalue']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "error: option '--label <key=value>' argument 'novalue' is invalid. must be KEY=VALUE",
    );
    r = await cli.run(['clusters', 'cordon', 'nope']);
    expect(r.code).toBe(3);
    // A cluster whose agent never connected is not Lost: nothing to confirm by hand.
    r = await cli.run(['clusters', 'fence', 'gpu-east', '--reason', 'powered off']);
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringMatching(/^error: cluster "gpu-east" is NeverConnected, not Lost; /),
    ]);
    r = await cli.run(['clusters', 'fence', 'nope']);
    expect(r.code).toBe(3);
  });
});

describe('queues', () => {
  it('create → list → get → delete', async () => {
    let r = await cli.run([
      'queues',
      'create',
      'research',
      '--description',
      'NLP team',
      '--weight',
      '2',
      '--allowed-namespace',
      'ml',
      '--allowed-namespace',
      'default',
    ]);
    expect([r.code, r.stdout]).toEqual([0, 'queue research created\n']);
    expect((await cli.run(['queues', 'create', 'scratch'])).code).toBe(0);

    r = await cli.run(['queues', 'list']);
    expect(r.stdout).toMatch(
      /^NAME\s+WEIGHT\s+NAMESPACES\s+COHORT\s+QUOTA\s+USED\s+BORROWED\s+FAIR SHARE\s+BUDGET\s+AGE\s+DESCRIPTION\n/,
    );
    // No gang queued or running: no fair share yet.
    expect(r.stdout).toMatch(
      /\nresearch\s+2\s+default,ml\s+-\s+-\s+-\s+-\s+-\s+-\s+\d+s\s+NLP team\n/,
    );
    expect(r.stdout).toMatch(/\nscratch\s+1\s+default\s+-\s+-\s+-\s+-\s+-\s+-\s+\d+s\s+-\n/);

    r = await cli.run(['queues', 'get', 'research', '-o', 'json']);
    expect(JSON.parse(r.stdout)).toMatchObject({
      name: 'research',
      description: 'NLP team',
      weight: 2,
      allowedNamespaces: ['default', 'ml'],
    });

    r = await cli.run(['queues', 'delete', 'scratch']);
    expect([r.code, r.stdout]).toEqual([0, 'queue scratch deleted\n']);
    const names = parse((await cli.run(['queues', 'list', '-o', 'yaml'])).stdout).queues.map(
      (q: { name: string }) => q.name,
    );
    expect(names).toEqual(['research']);
    r = await cli.run(['queues', 'delete', 'scratch']);
    expect([r.code, r.stderr]).toEqual([3, 'error: queue "scratch" not found\n']);
  });

  it('quota: create in a cohort, list, update, remove; the hub keeps what the CLI sent', async () => {
    let r = await cli.run([
      'queues',
      'create',
      'nlp',
      '--quota',
      'nvidia.com/gpu=16,cpu=512',
      '--cohort',
      'labs',
      '--borrowing-limit',
      'nvidia.com/gpu=8',
    ]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    r = await cli.run(['queues', 'get', 'nlp', '-o', 'json']);
    expect(JSON.parse(r.stdout)).toMatchObject({
      quota: {
        nominal: { 'nvidia.com/gpu': '16', cpu: '512' },
        cohort: 'labs',
        borrowingLimit: { 'nvidia.com/gpu': '8' },
      },
      usage: { used: { 'nvidia.com/gpu': '0', cpu: '0' } },
    });
    r = await cli.run(['queues', 'list']);
    expect(r.stdout).toMatch(/\nnlp\s+1\s+default\s+labs\s+gpu 16, cpu 512\s+-\s+-\s/);
    r = await cli.run(['queues', 'update', 'nlp', '--lending-limit', 'nvidia.com/gpu=4']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    r = await cli.run(['queues', 'get', 'nlp', '-o', 'json']);
    expect(JSON.parse(r.stdout).quota).toMatchObject({
      cohort: 'labs',
      borrowingLimit: { 'nvidia.com/gpu': '8' },
      lendingLimit: { 'nvidia.com/gpu': '4' },
    });
    r = await cli.run(['queues', 'get', 'nlp']);
    expect(r.stdout).toMatch(/Quota:\s+.*nvidia.com\/gpu 16/);
    r = await cli.run(['queues', 'update', 'nlp', '--no-quota']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    r = await cli.run(['queues', 'get', 'nlp', '-o', 'json']);
    expect(JSON.parse(r.stdout).quota).toBeUndefined();
    // A bad quantity is refused before the hub is asked, naming the flag.
    r = await cli.run(['queues', 'create', 'bad', '--quota', 'nvidia.com/gpu=lots']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'error: --quota: nvidia.com/gpu: "lots" is not a Kubernetes quantity\n',
    ]);
    await cli.run(['queues', 'delete', 'nlp']);
  });

  it('budget: create, get, list, update --no-budget; a bad --budget is refused naming the flag', async () => {
    let r = await cli.run(['queues', 'create', 'gpus', '--budget', 'gpu-hours=5000/month']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'queue gpus created\n', '']);
    r = await cli.run(['queues', 'get', 'gpus', '-o', 'json']);
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    expect(JSON.parse(r.stdout)).toMatchObject({
      budget: { resource: 'nvidia.com/gpu', hours: 5000, period: 'BUDGET_PERIOD_MONTH' },
      // Nothing ran: all of it is left (budgetUsedHours is 0, which JSON leaves out).
      usage: { budgetLeftHours: 5000, budgetPeriodStart: monthStart.toISOString() },
    });
    r = await cli.run(['queues', 'get', 'gpus']);
    expect(r.stdout).toContain('Budget:           5000 nvidia.com/gpu-hours per month\n');
    expect(r.stdout).toContain('Budget used:      0 h\n');
    expect(r.stdout).toContain('Budget left:      5000 h\n');
    expect(r.stdout).toContain(`Period start:     ${monthStart.toISOString()}\n`);
    r = await cli.run(['queues', 'list']);
    expect(r.stdout).toMatch(
      /\ngpus\s+1\s+default\s+-\s+-\s+-\s+-\s+-\s+0\/5000 h\/month\s+\d+s\s+-\n/,
    );

    r = await cli.run(['queues', 'update', 'gpus', '--budget', 'amd.com/gpu-hours=100/week']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    r = await cli.run(['queues', 'get', 'gpus', '-o', 'json']);
    expect(JSON.parse(r.stdout).budget).toEqual({
      resource: 'amd.com/gpu',
      hours: 100,
      period: 'BUDGET_PERIOD_WEEK',
    });
    r = await cli.run(['queues', 'update', 'gpus', '--no-budget']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    r = await cli.run(['queues', 'get', 'gpus', '-o', 'json']);
    expect(JSON.parse(r.stdout).budget).toBeUndefined();
    // No budget figures are left (and no fair share: nothing is queued).
    expect(JSON.parse(r.stdout).usage ?? {}).toEqual({});
    r = await cli.run(['queues', 'list']);
    expect(r.stdout).toMatch(/\ngpus\s+1\s+default\s+-\s+-\s+-\s+-\s+-\s+-\s+\d+s\s+-\n/);

    r = await cli.run(['queues', 'create', 'bad', '--budget', 'gpu-hours=5000/year']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'error: --budget: "year" is not a period; use day, week or month\n',
    ]);
    r = await cli.run(['queues', 'get', 'bad']);
    expect(r.code).toBe(3);
    await cli.run(['queues', 'delete', 'gpus']);
  });

  it('refuses a duplicate queue and a bad weight', async () => {
    let r = await cli.run(['queues', 'create', 'research']);
    expect([r.code, r.stderr]).toEqual([1, 'error: queue.name: queue "research" already exists\n']);
    r = await cli.run(['queues', 'create', 'heavy', '--weight', '5000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "error: option '--weight <n>' argument '5000' is invalid. must be an integer from 1 to 1000.",
    );
  });
});

describe('cohorts', () => {
  it('create a parent and a child → list → get → a loop refused → delete the parent', async () => {
    let r = await cli.run(['cohorts', 'create', 'org', '--quota', 'nvidia.com/gpu=128']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'cohort org created\n', '']);
    r = await cli.run([
      'cohorts',
      'create',
      'labs',
      '--parent',
      'org',
      '--quota',
      'nvidia.com/gpu=64',
      '--lending-limit',
      'nvidia.com/gpu=16',
    ]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'cohort labs created\n', '']);
    r = await cli.run([
      'queues',
      'create',
      'vision',
      '--quota',
      'nvidia.com/gpu=16',
      '--cohort',
      'labs',
    ]);
    expect(r.code).toBe(0);

    r = await cli.run(['cohorts', 'list']);
    expect(r.stdout).toMatch(/^NAME\s+PARENT\s+QUOTA\s+QUEUES\s+CHILDREN\n/);
    expect(r.stdout).toMatch(/\nlabs\s+org\s+gpu 64\s+vision\s+-\n/);
    expect(r.stdout).toMatch(/\norg\s+-\s+gpu 128\s+-\s+labs\n/);
    r = await cli.run(['cohorts', 'get', 'labs', '-o', 'json']);
    expect(JSON.parse(r.stdout)).toMatchObject({
      name: 'labs',
      parent: 'org',
      quota: { nominal: { 'nvidia.com/gpu': '64' }, lendingLimit: { 'nvidia.com/gpu': '16' } },
      queues: ['vision'],
    });

    // The hub judges the chain against the stored cohorts, and stores nothing.
    r = await cli.run(['cohorts', 'update', 'org', '--parent', 'labs']);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      1,
      '',
      'error: cohort.parent: would make a loop: org → labs → org\n',
    ]);
    expect(
      JSON.parse((await cli.run(['cohorts', 'get', 'org', '-o', 'json'])).stdout).parent,
    ).toBeUndefined();
    r = await cli.run(['cohorts', 'create', 'org']);
    expect([r.code, r.stderr]).toEqual([1, 'error: cohort.name: cohort "org" already exists\n']);
    r = await cli.run(['cohorts', 'create', 'Bad_Name']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: cohort\.name: must be a DNS-1123 label/);

    // Deleting the parent leaves the child naming it: an implicit cohort, as before cohorts were objects.
    r = await cli.run(['cohorts', 'delete', 'org']);
    expect([r.code, r.stdout]).toEqual([0, 'cohort org deleted\n']);
    r = await cli.run(['cohorts', 'list', '-o', 'yaml']);
    expect(
      parse(r.stdout).cohorts.map((c: { name: string; parent: string }) => [c.name, c.parent]),
    ).toEqual([['labs', 'org']]);
    r = await cli.run(['cohorts', 'get', 'org']);
    expect([r.code, r.stderr]).toEqual([3, 'error: cohort "org" not found\n']);
    await cli.run(['queues', 'delete', 'vision']);
    await cli.run(['cohorts', 'delete', 'labs']);
  });
});
