// Pod templates are policed and every limit answers with a clear gRPC status before anything is
// stored. Real hub over real TLS with bearer tokens.
import { randomUUID } from 'node:crypto';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { HubClients, JobSpec, PodSet } from '@muster/api';
import { eventually } from '../support/fake-agent';
import { grpcError, jobSpec, podSet } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import { issuePki, leaks, secureHubOptions, tempDir, writeTokensFile } from '../support/security';

// One caller per concern, so the submit rate of one test never throttles another.
const T = {
  ops: `ops-${randomUUID()}`,
  alice: `alice-${randomUUID()}`,
  sam: `sam-${randomUUID()}`,
  rita: `rita-${randomUUID()}`,
  walt: `walt-${randomUUID()}`,
  wendy: `wendy-${randomUUID()}`,
};
const MAX_REQUEST = 64 * 1024;
const MAX_METADATA = 2048;
const WATCHERS = 3;
const BURST = 20;

let dir: ReturnType<typeof tempDir>;
let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
const clients: HubClients[] = [];
let alice: HubClients;

function as(token: string): HubClients {
  const c = hub.connect({ token });
  clients.push(c);
  return c;
}

async function jobCount(): Promise<number> {
  const [row] = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM jobs');
  return Number(row!.n);
}

const container = (extra: Record<string, unknown> = {}) => ({
  name: 'main',
  image: 'registry.example/train:1',
  resources: { requests: { cpu: '1' } },
  ...extra,
});

function withTemplate(template: unknown, extra: Partial<PodSet> = {}): JobSpec {
  return jobSpec('research', {
    podSets: [
      {
        name: 'w',
        count: 1,
        podTemplateJson: JSON.stringify(template),
        topology: undefined,
        ...extra,
      },
    ],
  });
}

async function refused(spec: JobSpec, by: HubClients = alice): Promise<ServiceError> {
  const before = await jobCount();
  const err = await grpcError(by.jobs.submitJob({ clientRequestId: randomUUID(), spec }));
  expect(await jobCount()).toBe(before);
  return err;
}

beforeAll(async () => {
  dir = tempDir('muster-sec-limits-');
  const pki = issuePki(`${dir.path}/pki`, []);
  env = await startHubEnvironment({
    ...secureHubOptions(pki, {
      MUSTER_AUTH_TOKENS_FILE: writeTokensFile(dir.path, [
        { name: 'ops', token: T.ops, role: 'admin' },
        { name: 'alice', token: T.alice, role: 'submitter', queues: ['research'] },
        { name: 'sam', token: T.sam, role: 'submitter', queues: ['research'] },
        { name: 'rita', token: T.rita, role: 'submitter', queues: ['research'] },
        { name: 'walt', token: T.walt, role: 'viewer' },
        { name: 'wendy', token: T.wendy, role: 'submitter', queues: ['research'] },
      ]),
      MUSTER_MAX_MEMBERS_PER_GANG: '32',
      MUSTER_MAX_POD_SETS: '4',
      MUSTER_MAX_REQUEST_BYTES: String(MAX_REQUEST),
      MUSTER_MAX_TEMPLATE_METADATA_BYTES: String(MAX_METADATA),
      MUSTER_MAX_WATCHERS_PER_CALLER: String(WATCHERS),
      MUSTER_SUBMITS_PER_SECOND: '1',
      MUSTER_SUBMIT_BURST: String(BURST),
    }),
    client: { token: T.ops },
    queues: [{ name: 'research', allowedNamespaces: ['default', 'ml'] }],
  });
  ({ db, hub } = env);
  alice = as(T.alice);
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  try {
    await env?.stop();
  } finally {
    dir?.remove();
  }
});

describe('pod template policy (PERMISSION_DENIED, naming the rule and the field)', () => {
  const F = 'spec.pod_sets[0].pod_template_json.spec';
  it.each([
    [
      'no-privileged',
      { spec: { containers: [container({ securityContext: { privileged: true } })] } },
      `${F}.containers[0].securityContext.privileged: privileged containers are not allowed (policy rule "no-privileged")`,
    ],
    [
      'no-privilege-escalation',
      {
        spec: { containers: [container({ securityContext: { allowPrivilegeEscalation: true } })] },
      },
      `${F}.containers[0].securityContext.allowPrivilegeEscalation: containers may not allow privilege escalation (policy rule "no-privilege-escalation")`,
    ],
    [
      'no-host-namespaces',
      { spec: { hostNetwork: true, containers: [container()] } },
      `${F}.hostNetwork: sharing the node's network, PID or IPC namespace is not allowed (policy rule "no-host-namespaces")`,
    ],
    [
      'no-host-namespaces',
      { spec: { hostPID: true, containers: [container()] } },
      `${F}.hostPID: sharing the node's network, PID or IPC namespace is not allowed (policy rule "no-host-namespaces")`,
    ],
    [
      'no-host-namespaces',
      { spec: { hostIPC: true, containers: [container()] } },
      `${F}.hostIPC: sharing the node's network, PID or IPC namespace is not allowed (policy rule "no-host-namespaces")`,
    ],
    [
      'no-host-path',
      { spec: { containers: [container()], volumes: [{ name: 'root', hostPath: { path: '/' } }] } },
      `${F}.volumes[0].hostPath: hostPath volumes are not allowed (policy rule "no-host-path")`,
    ],
    [
      'no-host-ports',
      { spec: { containers: [container({ ports: [{ containerPort: 22, hostPort: 22 }] })] } },
      `${F}.containers[0].ports[0].hostPort: host ports are not allowed (policy rule "no-host-ports")`,
    ],
    [
      'allowed-capabilities',
      {
        spec: {
          containers: [container()],
          initContainers: [
            container({ name: 'init', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }),
          ],
        },
      },
      `${F}.initContainers[0].securityContext.capabilities.add[0]: adding this capability is not allowed ("SYS_ADMIN" is not one of AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) (policy rule "allowed-capabilities")`,
    ],
  ])('%s', async (_rule, template, message) => {
    const err = await refused(withTemplate(template));
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.details).toBe(message);
    expect(err.metadata.get('muster-field')[0]).toBe(message.slice(0, message.indexOf(':')));
  });

  it('passes a template within the policy', async () => {
    const clientRequestId = randomUUID();
    const { job, created } = await alice.jobs.submitJob({
      clientRequestId,
      spec: withTemplate({
        spec: {
          containers: [
            container({
              securityContext: {
                privileged: false,
                allowPrivilegeEscalation: false,
                capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
              },
            }),
          ],
        },
      }),
    });
    expect(created).toBe(true);
    const rows = await db.query<{ id: string }>(
      'SELECT id FROM jobs WHERE client_request_id = $1',
      [clientRequestId],
    );
    expect(rows).toEqual([{ id: job!.id }]);
  });

  it('keeps the queue’s namespace list: INVALID_ARGUMENT', async () => {
    const err = await refused(jobSpec('research', { namespace: 'kube-system' }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(
      'spec.namespace: queue "research" may only target namespaces default, ml',
    );
  });
});

describe('size limits (INVALID_ARGUMENT or RESOURCE_EXHAUSTED, nothing stored)', () => {
  let sam: HubClients;
  beforeAll(() => (sam = as(T.sam)));

  it('request size: RESOURCE_EXHAUSTED', async () => {
    const err = await refused(
      withTemplate({ spec: { containers: [container({ args: ['x'.repeat(MAX_REQUEST)] })] } }),
      sam,
    );
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('members per gang and pod sets per gang', async () => {
    expect((await refused(jobSpec('research', { podSets: [podSet('w', 33)] }), sam)).details).toBe(
      'spec.pod_sets[0].count: the gang has more than 32 members, the configured maximum',
    );
    const five = ['a', 'b', 'c', 'd', 'e'].map((n) => podSet(n, 1));
    const err = await refused(jobSpec('research', { podSets: five }), sam);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe('spec.pod_sets: at most 4 pod sets per gang (got 5)');
  });

  it('template labels and annotations: key and value rules, total size', async () => {
    const meta = (metadata: unknown) =>
      withTemplate({ metadata, spec: { containers: [container()] } });
    const F = 'spec.pod_sets[0].pod_template_json.metadata';
    const cases: [unknown, string][] = [
      [{ labels: { 'no spaces': 'x' } }, `${F}.labels.no spaces: key name part must consist of`],
      [{ labels: { app: 'v'.repeat(64) } }, `${F}.labels.app: value must be at most 63 characters`],
      [{ annotations: { '-bad': 'x' } }, `${F}.annotations.-bad: key name part must consist of`],
      [
        { annotations: { note: 'n'.repeat(MAX_METADATA) } },
        `${F}: labels and annotations must total at most ${MAX_METADATA} bytes (got ${MAX_METADATA + 4})`,
      ],
      [{ labels: { app: 7 } }, `${F}.labels.app: must be a string`],
    ];
    for (const [metadata, message] of cases) {
      const err = await refused(meta(metadata), sam);
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details.startsWith(message)).toBe(true);
    }
  });

  it('unstorable and absurd input: NUL characters, unpaired surrogates, deep JSON', async () => {
    const nul = await refused(jobSpec('research', { name: 'train\u0000' }), sam);
    expect(nul.code).toBe(status.INVALID_ARGUMENT);
    expect(nul.details).toBe('spec.name: must not contain NUL characters');
    const env = await refused(
      withTemplate({
        spec: { containers: [container({ env: [{ name: 'A', value: 'a\u0000b' }] })] },
      }),
      sam,
    );
    expect(env.details).toBe('spec.pod_sets[0].pod_template_json: must not contain NUL characters');
    const surrogate = await refused(
      withTemplate({ spec: { containers: [container({ command: ['\ud83d'] })] } }),
      sam,
    );
    expect(surrogate.code).toBe(status.INVALID_ARGUMENT);
    let deep: unknown = {};
    for (let i = 0; i < 200; i++) deep = { a: deep };
    const err = await refused(withTemplate({ spec: { containers: [container()], deep } }), sam);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/nested deeper than/);
  });
});

describe('an error quoting a huge input (INVALID_ARGUMENT, cut to fit a client trailer)', () => {
  // A status message travels in the grpc-message trailer, and a client drops trailers over its
  // metadata limit (8 KiB in grpc-js): quoting a 60 KB label prefix used to leave the call
  // unanswered until its deadline.
  it('names the field and says how much of the message was left out', async () => {
    const ops = as(T.ops);
    const level = `${'a.'.repeat(30_000)}b/zone`;
    const err = await grpcError(
      ops.inventory.registerCluster(
        {
          name: 'huge-level',
          displayName: '',
          clusterSet: '',
          topologyLevels: [level],
          accessProviders: [],
          labels: {},
        },
        { timeoutMs: 10_000 },
      ),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.metadata.get('muster-field')).toEqual(['topology_levels[0]']);
    expect(err.details).toMatch(/^topology_levels\[0\]: prefix "a\.a\./);
    expect(err.details).toMatch(/… \(\d+ more characters\)$/);
    expect((await ops.inventory.listClusters({})).clusters.map((c) => c.name)).not.toContain(
      'huge-level',
    );
    ops.close();
  });
});

describe('rate and concurrency limits per caller (RESOURCE_EXHAUSTED)', () => {
  it(`submits: a burst of ${BURST}, then the rate, with a retry hint; other callers unaffected`, async () => {
    const rita = as(T.rita);
    const before = await jobCount();
    const results = await Promise.all(
      Array.from({ length: BURST * 3 }, () =>
        rita.jobs.submitJob({ clientRequestId: randomUUID(), spec: jobSpec('research') }).then(
          () => 'OK' as const,
          (e: ServiceError) => e,
        ),
      ),
    );
    const ok = results.filter((r) => r === 'OK').length;
    const limited = results.filter((r): r is ServiceError => r !== 'OK');
    expect(ok).toBeGreaterThanOrEqual(BURST);
    expect(limited.length).toBeGreaterThan(0);
    for (const e of limited) {
      expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(e.details).toMatch(
        new RegExp(
          `^at most 1 SubmitJob calls per second per caller \\(burst ${BURST}\\); retry after \\d+ ms$`,
        ),
      );
      expect(Number(e.metadata.get('muster-retry-after-ms')[0])).toBeGreaterThan(0);
    }
    expect(await jobCount()).toBe(before + ok);
    // Another caller still submits at once.
    expect(
      (await alice.jobs.submitJob({ clientRequestId: randomUUID(), spec: jobSpec('research') }))
        .created,
    ).toBe(true);
    // After the hinted wait, rita may submit again.
    const wait = Number(limited[0]!.metadata.get('muster-retry-after-ms')[0]);
    await new Promise((r) => setTimeout(r, wait + 50));
    await eventually('rita may submit again', () =>
      rita.jobs.submitJob({ clientRequestId: randomUUID(), spec: jobSpec('research') }).then(
        () => true,
        () => undefined,
      ),
    );
  });

  it(`watch streams: at most ${WATCHERS} per caller`, async () => {
    const walt = as(T.walt);
    const wendy = as(T.wendy);
    const open: ClientReadableStream<unknown>[] = [];
    for (let i = 0; i < WATCHERS; i++) {
      const s = walt.streams.watchJobs({ queue: '', afterSequence: 0 });
      s.on('data', () => undefined);
      s.on('error', () => undefined);
      open.push(s);
    }
    // Each of the open ones is really served: a new job's event reaches them all.
    const seen = open.map(() => new Set<string>());
    open.forEach((s, i) =>
      s.on('data', (m: { event: { jobId: string } }) => seen[i]!.add(m.event.jobId)),
    );
    const { job } = await wendy.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('research'),
    });
    await eventually(
      'all watchers see the job',
      () => seen.every((s) => s.has(job!.id)) || undefined,
    );

    const extra = walt.streams.watchJobs({ queue: '', afterSequence: 0 });
    const err = await new Promise<ServiceError>((resolve) => extra.on('error', resolve));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(`at most ${WATCHERS} open watch streams per caller; close one first`);
    // Another caller is not affected.
    const other = wendy.streams.watchJobs({ queue: '', afterSequence: 0 });
    other.on('data', () => undefined);
    other.on('error', () => undefined);
    const otherSeen = new Set<string>();
    other.on('data', (m: { event: { jobId: string } }) => otherSeen.add(m.event.jobId));
    // Closing one frees its slot.
    open.shift()!.cancel();
    const again = await eventually('a slot frees up', async () => {
      const s = walt.streams.watchJobs({ queue: '', afterSequence: 0 });
      s.on('data', () => undefined);
      const refused = await Promise.race([
        new Promise<boolean>((resolve) => s.on('error', () => resolve(true))),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
      ]);
      return refused ? undefined : s;
    });
    const second = await wendy.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('research'),
    });
    await eventually(
      'the other caller’s watch works',
      () => otherSeen.has(second.job!.id) || undefined,
    );
    [...open, again, other].forEach((s) => s.cancel());
  });
});

describe('secrets', () => {
  it('keeps tokens and template secrets out of logs, and error messages quote no input JSON', async () => {
    const secret = `hunter2-${randomUUID()}`;
    const broken = `{"spec":{"containers":[{"name":"m","image":"i","env":[{"name":"PASSWORD","value":"${secret}"}]}]}`;
    const err = await refused(
      jobSpec('research', {
        podSets: [{ name: 'w', count: 1, podTemplateJson: broken, topology: undefined }],
      }),
    );
    expect(err.details).toMatch(/^spec\.pod_sets\[0\]\.pod_template_json: is not valid JSON/);
    expect(err.details).not.toContain(secret);
    expect(leaks(hub.logs.join('\n'), [...Object.values(T), secret])).toEqual([]);
  });
});
