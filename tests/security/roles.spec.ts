// Who may do what: static tokens and OIDC tokens, the three roles, and tenants kept apart (another
// tenant's job answers exactly like a job that does not exist). Real hub over real TLS.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { JobState, type HubClients, type JobEvent } from '@muster/api';
import { writeFileSync } from 'node:fs';
import { CliSandbox } from '../cli/support/cli-process';
import { eventually } from '../support/fake-agent';
import { grpcError, jobSpec } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import {
  issuePki,
  leaks,
  secureHubOptions,
  tempDir,
  TestIssuer,
  writeTokensFile,
} from '../support/security';

const T = {
  ops: `ops-${randomUUID()}`,
  alice: `alice-${randomUUID()}`,
  bob: `bob-${randomUUID()}`,
  eve: `eve-${randomUUID()}`,
  val: `val-${randomUUID()}`,
};

let dir: ReturnType<typeof tempDir>;
let caFile: string;
let issuer: TestIssuer;
let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
const clients: HubClients[] = [];
let admin: HubClients;
let alice: HubClients;
let bob: HubClients;
let eve: HubClients;
let val: HubClients;
let anonymous: HubClients;
const jwts: string[] = [];

function as(token: string | undefined): HubClients {
  const c = hub.connect({ token, timeoutMs: 10_000 });
  clients.push(c);
  return c;
}

async function code(p: Promise<unknown>): Promise<status | 'OK'> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return (err as ServiceError).code;
  }
}

async function submit(c: HubClients, queue: string): Promise<string> {
  const { job } = await c.jobs.submitJob({ clientRequestId: randomUUID(), spec: jobSpec(queue) });
  return job!.id;
}

function streamFailure(stream: NodeJS.EventEmitter): Promise<ServiceError> {
  return new Promise((resolve, reject) => {
    stream.on('error', resolve);
    stream.on('data', () => reject(new Error('expected no data')));
  });
}

const cluster = (name: string) => ({
  name,
  displayName: '',
  clusterSet: '',
  topologyLevels: [],
  accessProviders: [
    {
      name: 'kubeconfig',
      cluster: {
        server: 'https://10.1.2.3:6443',
        certificateAuthorityData: Buffer.from('-----BEGIN CERTIFICATE-----\nCADATA-SECRET\n'),
        tlsServerName: '',
        proxyUrl: '',
        insecureSkipTlsVerify: false,
        extensions: [],
      },
    },
  ],
  labels: {},
});
const queue = (name: string) => ({
  queue: { name, description: '', weight: 1, allowedNamespaces: [] },
});
const cohort = (name: string) => ({
  cohort: { name, parent: '', description: '', queues: [], children: [] },
});

beforeAll(async () => {
  dir = tempDir('muster-sec-roles-');
  const pki = issuePki(`${dir.path}/pki`, []);
  caFile = pki.caFile;
  issuer = new TestIssuer(dir.path);
  env = await startHubEnvironment({
    ...secureHubOptions(pki, {
      MUSTER_AUTH_TOKENS_FILE: writeTokensFile(dir.path, [
        { name: 'ops', token: T.ops, role: 'admin' },
        { name: 'alice', token: T.alice, role: 'submitter', queues: ['research'] },
        { name: 'bob', token: T.bob, role: 'submitter', queues: ['vision'] },
        { name: 'eve', token: T.eve, role: 'viewer' },
        { name: 'val', token: T.val, role: 'viewer', queues: ['vision'] },
      ]),
      ...issuer.env({
        MUSTER_OIDC_GROUP_ROLES: JSON.stringify({
          'platform-admins': 'admin',
          'research-team': { role: 'submitter', queues: ['research'] },
        }),
      }),
    }),
    client: { token: T.ops, timeoutMs: 10_000 },
  });
  ({ db, hub, api: admin } = env);
  alice = as(T.alice);
  bob = as(T.bob);
  eve = as(T.eve);
  val = as(T.val);
  anonymous = as(undefined);
  await admin.inventory.createQueue(queue('research'));
  await admin.inventory.createQueue(queue('vision'));
  await admin.inventory.registerCluster(cluster('gpu-east'));
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  try {
    await env?.stop();
  } finally {
    dir?.remove();
  }
});

describe('authentication', () => {
  it('refuses every call without a valid bearer token: UNAUTHENTICATED', async () => {
    const id = randomUUID();
    const calls: [string, (c: HubClients) => Promise<unknown>][] = [
      ['SubmitJob', (c) => c.jobs.submitJob({ clientRequestId: '', spec: jobSpec('research') })],
      ['GetJob', (c) => c.jobs.getJob({ jobId: id })],
      ['ListJobs', (c) => c.jobs.listJobs({ queue: '', states: [], pageSize: 0, pageToken: '' })],
      ['CancelJob', (c) => c.jobs.cancelJob({ jobId: id, reason: '' })],
      ['ExplainJob', (c) => c.jobs.explainJob({ jobId: id })],
      ['ListQueues', (c) => c.inventory.listQueues({})],
      ['CreateQueue', (c) => c.inventory.createQueue(queue('sneaky'))],
      ['RegisterCluster', (c) => c.inventory.registerCluster(cluster('sneaky'))],
      ['ListClusters', (c) => c.inventory.listClusters({})],
      ['ListCohorts', (c) => c.inventory.listCohorts({})],
      ['CreateCohort', (c) => c.inventory.createCohort(cohort('sneaky'))],
    ];
    const wrong = as('not-a-real-token-at-all');
    const expired = as(issuer.token({ sub: 'x', muster_role: 'admin', exp: 1000 }));
    jwts.push(issuer.token({ sub: 'x', muster_role: 'admin', exp: 1000 }));
    for (const [name, call] of calls) {
      for (const c of [anonymous, wrong, expired]) {
        const err = await grpcError(call(c));
        expect({ name, code: err.code }).toEqual({ name, code: status.UNAUTHENTICATED });
      }
    }
    const watch = anonymous.streams.watchJobs({ queue: '', afterSequence: 0 });
    expect((await streamFailure(watch)).code).toBe(status.UNAUTHENTICATED);
    expect(
      await admin.jobs.listJobs({ queue: '', states: [], pageSize: 0, pageToken: '' }),
    ).toEqual({ jobs: [], nextPageToken: '' });
  });

  it('accepts OIDC tokens from the issuer: role claim or group mapping', async () => {
    const submitterJwt = issuer.token({
      sub: 'u-42',
      preferred_username: 'carol',
      muster_role: 'submitter',
      muster_queues: ['research'],
    });
    const groupAdminJwt = issuer.token({ sub: 'u-1', groups: ['platform-admins'] });
    const groupSubmitterJwt = issuer.token({ sub: 'u-2', groups: ['research-team', 'x'] });
    jwts.push(submitterJwt, groupAdminJwt, groupSubmitterJwt);
    const carol = as(submitterJwt);
    expect(await code(submit(carol, 'research'))).toBe('OK');
    expect(await code(submit(carol, 'vision'))).toBe(status.PERMISSION_DENIED);
    expect(await code(as(groupAdminJwt).inventory.createQueue(queue('oidc-made')))).toBe('OK');
    expect(await code(submit(as(groupSubmitterJwt), 'research'))).toBe('OK');
    expect(await code(as(groupSubmitterJwt).inventory.createQueue(queue('nope')))).toBe(
      status.PERMISSION_DENIED,
    );
  });

  it('refuses OIDC tokens that are expired, for another audience or issuer, or badly signed', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const bad = {
      expired: issuer.token({
        sub: 'u',
        muster_role: 'admin',
        exp: Math.floor(Date.now() / 1000) - 3600,
      }),
      audience: issuer.token({ sub: 'u', muster_role: 'admin', aud: 'another-service' }),
      issuer: issuer.token({ sub: 'u', muster_role: 'admin', iss: 'https://evil.test' }),
      signature: issuer.token({ sub: 'u', muster_role: 'admin' }, other),
      none: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
        JSON.stringify({
          iss: issuer.issuer,
          aud: issuer.audience,
          sub: 'u',
          muster_role: 'admin',
          exp: 9e9,
        }),
      ).toString('base64url')}.`,
    };
    jwts.push(...Object.values(bad));
    for (const [what, token] of Object.entries(bad)) {
      const err = await grpcError(as(token).inventory.listQueues({}));
      expect({ what, code: err.code }).toEqual({ what, code: status.UNAUTHENTICATED });
      expect(err.details).toBe(
        what === 'expired'
          ? 'the bearer token has expired'
          : 'the bearer token is not valid for this hub',
      );
    }
    const noRole = issuer.token({ sub: 'u', groups: ['strangers'] });
    jwts.push(noRole);
    expect((await grpcError(as(noRole).inventory.listQueues({}))).code).toBe(
      status.PERMISSION_DENIED,
    );
  });
});

describe('admin', () => {
  it('runs the inventory and may act on any queue', async () => {
    expect(await code(admin.inventory.createQueue(queue('scratch')))).toBe('OK');
    expect(await code(admin.inventory.updateQueue(queue('scratch')))).toBe('OK');
    expect(await code(admin.inventory.deleteQueue({ name: 'scratch' }))).toBe('OK');
    expect(await code(admin.inventory.registerCluster(cluster('tmp')))).toBe('OK');
    expect(await code(admin.inventory.cordonCluster({ name: 'tmp', reason: '' }))).toBe('OK');
    expect(await code(admin.inventory.deregisterCluster({ name: 'tmp' }))).toBe('OK');
    const id = await submit(admin, 'vision');
    expect((await admin.jobs.cancelJob({ jobId: id, reason: 'test' })).job!.state).toBe(
      JobState.JOB_STATE_CANCELLED,
    );
  });
});

describe('submitters are tenants of their queues', () => {
  let aliceJob: string;
  let bobJob: string;
  beforeAll(async () => {
    aliceJob = await submit(alice, 'research');
    bobJob = await submit(bob, 'vision');
  });

  it('may submit, read, explain and cancel in their own queues', async () => {
    expect((await alice.jobs.getJob({ jobId: aliceJob })).job!.spec!.queue).toBe('research');
    expect((await alice.jobs.explainJob({ jobId: aliceJob })).job!.id).toBe(aliceJob);
    const extra = await submit(alice, 'research');
    expect((await alice.jobs.cancelJob({ jobId: extra, reason: '' })).job!.state).toBe(
      JobState.JOB_STATE_CANCELLED,
    );
  });

  it('may not submit to another queue, nor change the inventory: PERMISSION_DENIED', async () => {
    const err = await grpcError(submit(alice, 'vision'));
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.details).toBe('spec.queue: you may not submit to queue "vision"');
    for (const p of [
      alice.inventory.createQueue(queue('mine')),
      alice.inventory.updateQueue(queue('research')),
      alice.inventory.deleteQueue({ name: 'research' }),
      alice.inventory.registerCluster(cluster('mine')),
      alice.inventory.updateCluster({
        name: 'gpu-east',
        topologyLevels: [],
        replaceTopologyLevels: false,
        accessProviders: [],
        replaceAccessProviders: false,
        labels: {},
        replaceLabels: false,
      }),
      alice.inventory.cordonCluster({ name: 'gpu-east', reason: '' }),
      alice.inventory.uncordonCluster({ name: 'gpu-east' }),
      alice.inventory.fenceCluster({ name: 'gpu-east', reason: '' }),
      alice.inventory.deregisterCluster({ name: 'gpu-east' }),
    ])
      expect(await code(p)).toBe(status.PERMISSION_DENIED);
  });

  it('see another tenant’s job exactly as a job that does not exist: NOT_FOUND', async () => {
    const missing = randomUUID();
    const same = async (call: (id: string) => Promise<unknown>) => {
      const theirs = await grpcError(call(bobJob));
      const nothing = await grpcError(call(missing));
      expect(theirs.code).toBe(status.NOT_FOUND);
      expect(nothing.code).toBe(status.NOT_FOUND);
      expect(theirs.details.replace(bobJob, 'ID')).toBe(nothing.details.replace(missing, 'ID'));
      // Headers and trailers alike, but "date": the clock may tick between the two calls.
      const trailers = (e: typeof theirs) => ({ ...e.metadata.getMap(), date: undefined });
      expect(trailers(theirs)).toEqual(trailers(nothing));
    };
    await same((id) => alice.jobs.getJob({ jobId: id }));
    await same((id) => alice.jobs.explainJob({ jobId: id }));
    await same((id) => alice.jobs.cancelJob({ jobId: id, reason: 'mine now' }));
    await same((id) =>
      streamFailure(alice.streams.watchJob({ jobId: id, afterSequence: 0 })).then((e) => {
        throw e;
      }),
    );
    // Nothing changed for bob.
    expect((await bob.jobs.getJob({ jobId: bobJob })).job!.state).toBe(JobState.JOB_STATE_QUEUED);
  });

  it('list and watch only their queues', async () => {
    const listed = await alice.jobs.listJobs({ queue: '', states: [], pageSize: 0, pageToken: '' });
    expect(listed.jobs.length).toBeGreaterThan(0);
    expect(new Set(listed.jobs.map((j) => j.spec!.queue))).toEqual(new Set(['research']));
    expect(
      await code(alice.jobs.listJobs({ queue: 'vision', states: [], pageSize: 0, pageToken: '' })),
    ).toBe(status.PERMISSION_DENIED);
    // Paging through the caller's queues works as usual.
    const page1 = await alice.jobs.listJobs({ queue: '', states: [], pageSize: 1, pageToken: '' });
    const page2 = await alice.jobs.listJobs({
      queue: '',
      states: [],
      pageSize: 1,
      pageToken: page1.nextPageToken,
    });
    expect(page2.jobs[0]!.id).not.toBe(page1.jobs[0]!.id);

    // From the first event on: history is filtered like live events.
    const stream = alice.streams.watchJobs({ queue: '', afterSequence: 1 });
    const seen: JobEvent[] = [];
    stream.on('data', (m: { event: JobEvent }) => seen.push(m.event));
    stream.on('error', () => undefined);
    const lastResearch = await submit(admin, 'research');
    await eventually(
      'alice sees the new research job',
      () => seen.some((e) => e.jobId === lastResearch) || undefined,
    );
    stream.cancel();
    expect(seen.some((e) => e.jobId === bobJob)).toBe(false);
    expect(new Set(seen.map((e) => e.queue))).toEqual(new Set(['research']));
    const other = alice.streams.watchJobs({ queue: 'vision', afterSequence: 0 });
    expect((await streamFailure(other)).code).toBe(status.PERMISSION_DENIED);
  });

  it('see their queues only and clusters without access details', async () => {
    expect((await alice.inventory.listQueues({})).queues.map((q) => q.name)).toEqual(['research']);
    const theirs = await grpcError(alice.inventory.getQueue({ name: 'vision' }));
    const none = await grpcError(alice.inventory.getQueue({ name: 'no-such-queue' }));
    expect([theirs.code, none.code]).toEqual([status.NOT_FOUND, status.NOT_FOUND]);
    expect(theirs.details.replace('vision', 'Q')).toBe(none.details.replace('no-such-queue', 'Q'));
    const c = (await alice.inventory.getCluster({ name: 'gpu-east' })).cluster!;
    expect(c.accessProviders).toEqual([]);
    expect((await alice.inventory.listClusters({})).clusters[0]!.accessProviders).toEqual([]);
  });

  it('cannot reach another tenant’s job through its client_request_id', async () => {
    const requestId = randomUUID();
    const { job } = await bob.jobs.submitJob({
      clientRequestId: requestId,
      spec: jobSpec('vision'),
    });
    const err = await grpcError(
      alice.jobs.submitJob({ clientRequestId: requestId, spec: jobSpec('research') }),
    );
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(err.details).not.toContain(job!.id);
  });
});

describe('the muster CLI', () => {
  it('works over TLS with the token of its context, and shows refusals', async () => {
    const cli = new CliSandbox(undefined);
    writeFileSync(
      cli.configPath,
      [
        'currentContext: alice',
        'contexts:',
        '  - name: alice',
        `    hub: ${hub.grpcAddress}`,
        `    token: ${T.alice}`,
        `    tls: { caFile: ${caFile} }`,
      ].join('\n'),
      { mode: 0o600 },
    );
    const listed = await cli.run(['queues', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('research');
    expect(listed.stdout).not.toContain('vision');
    const denied = await cli.run(['queues', 'create', 'mine']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/may not call CreateQueue/);
    const anonymous = await cli.run(['queues', 'list'], {
      env: { MUSTER_TOKEN: 'wrong-token-123456' },
    });
    expect(anonymous.code).not.toBe(0);
    expect(`${anonymous.stdout}${anonymous.stderr}`).not.toContain(T.alice);
  });
});

describe('viewers read and never write', () => {
  it('read every job, queue and cluster (with access details)', async () => {
    const listed = await eve.jobs.listJobs({ queue: '', states: [], pageSize: 0, pageToken: '' });
    expect(new Set(listed.jobs.map((j) => j.spec!.queue))).toEqual(new Set(['research', 'vision']));
    expect((await eve.jobs.getJob({ jobId: listed.jobs[0]!.id })).job!.id).toBe(listed.jobs[0]!.id);
    expect((await eve.inventory.listQueues({})).queues.length).toBeGreaterThanOrEqual(2);
    expect(
      (await eve.inventory.getCluster({ name: 'gpu-east' })).cluster!.accessProviders,
    ).toHaveLength(1);
  });

  it('may not submit, cancel or administer: PERMISSION_DENIED', async () => {
    const listed = await eve.jobs.listJobs({ queue: '', states: [], pageSize: 1, pageToken: '' });
    for (const p of [
      submit(eve, 'research'),
      eve.jobs.cancelJob({ jobId: listed.jobs[0]!.id, reason: '' }),
      eve.inventory.createQueue(queue('eve')),
      eve.inventory.registerCluster(cluster('eve')),
    ])
      expect(await code(p)).toBe(status.PERMISSION_DENIED);
  });

  it('a viewer bound to queues reads only those', async () => {
    const listed = await val.jobs.listJobs({ queue: '', states: [], pageSize: 0, pageToken: '' });
    expect(new Set(listed.jobs.map((j) => j.spec!.queue))).toEqual(new Set(['vision']));
    const research = await eve.jobs.listJobs({
      queue: 'research',
      states: [],
      pageSize: 1,
      pageToken: '',
    });
    expect(await code(val.jobs.getJob({ jobId: research.jobs[0]!.id }))).toBe(status.NOT_FOUND);
  });
});

describe('cohorts', () => {
  const quotaIn = (c: string) => ({
    nominal: { cpu: '1000' },
    cohort: c,
    borrowingLimit: {},
    lendingLimit: {},
  });
  beforeAll(async () => {
    await admin.inventory.createCohort(cohort('labs'));
    for (const name of ['research', 'vision'])
      await admin.inventory.updateQueue({
        queue: { ...queue(name).queue, quota: quotaIn('labs') },
      });
  });
  afterAll(async () => {
    for (const name of ['research', 'vision']) await admin.inventory.updateQueue(queue(name));
  });

  it('only admins create, update and delete them', async () => {
    expect(await code(admin.inventory.createCohort(cohort('scratch')))).toBe('OK');
    expect(await code(admin.inventory.updateCohort(cohort('scratch')))).toBe('OK');
    for (const c of [alice, eve, val]) {
      for (const call of [
        () => c.inventory.createCohort(cohort('mine')),
        () => c.inventory.updateCohort(cohort('labs')),
        () => c.inventory.deleteCohort({ name: 'labs' }),
      ])
        expect(await code(call())).toBe(status.PERMISSION_DENIED);
    }
    expect(await code(admin.inventory.deleteCohort({ name: 'scratch' }))).toBe('OK');
    expect((await admin.inventory.listCohorts({})).cohorts.map((c) => c.name)).toEqual(['labs']);
  });

  it('every role reads them, each seeing only the queues it may see', async () => {
    const seen = async (c: HubClients) => {
      const listed = (await c.inventory.listCohorts({})).cohorts.map((x) => [x.name, x.queues]);
      const got = (await c.inventory.getCohort({ name: 'labs' })).cohort!.queues;
      expect(listed).toEqual([['labs', got]]);
      return got;
    };
    expect(await seen(admin)).toEqual(['research', 'vision']);
    expect(await seen(eve)).toEqual(['research', 'vision']);
    expect(await seen(alice)).toEqual(['research']);
    expect(await seen(bob)).toEqual(['vision']);
    expect(await seen(val)).toEqual(['vision']);
  });
});

describe('secrets', () => {
  it('keeps every token and the access providers’ CA data out of logs, metrics and job events', async () => {
    const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const secrets = [
      ...Object.values(T),
      ...jwts,
      'not-a-real-token-at-all',
      'CADATA-SECRET',
      issuer.privateKeyPem,
    ];
    expect(leaks(hub.logs.join('\n'), secrets)).toEqual([]);
    expect(leaks(metrics, secrets)).toEqual([]);
    const events = await db.query<{ reason: string; message: string }>(
      'SELECT reason, message FROM job_events',
    );
    expect(leaks(events.map((e) => `${e.reason} ${e.message}`).join('\n'), secrets)).toEqual([]);
    // JWT payloads and signatures are as secret as the whole token.
    for (const jwt of jwts)
      for (const part of jwt.split('.').filter((p) => p.length > 20))
        expect(hub.logs.join('\n')).not.toContain(part);
  });
});
