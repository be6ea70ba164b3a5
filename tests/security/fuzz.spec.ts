// Hostile input against a running hub: a property-based run (fast-check) of more than 10,000
// malformed or adversarial requests — random bytes as raw gRPC messages, hand-made protobuf with
// wrong wire types and invalid UTF-8, messages of the wrong type, huge strings, deep JSON in pod
// templates, unicode look-alike names, garbage tokens — and random agent streams. Every answer
// must be a proper gRPC status (or a success for input that happens to be valid), the hub must
// keep serving, and Postgres must hold exactly what the successes stored: nothing for rejects.
import { randomUUID } from 'node:crypto';
import { Client, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import {
  CancelJobRequest,
  ConnectRequest,
  CreateCohortRequest,
  CreateQueueRequest,
  DeleteCohortRequest,
  ExplainJobRequest,
  GetCohortRequest,
  GetJobRequest,
  ListJobsRequest,
  RegisterClusterRequest,
  SubmitJobRequest,
  SubmitJobResponse,
  UpdateClusterRequest,
  UpdateCohortRequest,
  UpdateQueueRequest,
  type HubClients,
} from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import {
  agentCredentials,
  issuePki,
  leaks,
  secureHubOptions,
  tempDir,
  tlsCredentials,
  writeTokensFile,
  type Pki,
} from '../support/security';

const ADMIN = `fuzz-admin-${randomUUID()}`;
const SUBMITTER = `fuzz-submitter-${randomUUID()}`;
const MAX_REQUEST = 512 * 1024;
const BATCH = 10;
/** Batches of BATCH requests; the default makes 10,500 (MUSTER_FUZZ_RUNS only for quick local runs). */
const UNARY_RUNS = Number(process.env.MUSTER_FUZZ_RUNS ?? 1050);
const STREAM_RUNS = Number(process.env.MUSTER_FUZZ_STREAM_RUNS ?? 300);
const SERVER_NAME = { 'grpc.ssl_target_name_override': 'localhost' };

/** Statuses that mean "the hub judged the request"; anything else is a crash or a hang. */
const PROPER = new Set<number>([
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.PERMISSION_DENIED,
  status.RESOURCE_EXHAUSTED,
  status.FAILED_PRECONDITION,
  status.UNAUTHENTICATED,
]);

const METHODS = {
  JobService: ['SubmitJob', 'GetJob', 'ListJobs', 'CancelJob', 'ExplainJob', 'WatchJob'],
  InventoryService: [
    'RegisterCluster',
    'UpdateCluster',
    'GetCluster',
    'ListClusters',
    'CordonCluster',
    'UncordonCluster',
    'FenceCluster',
    'DeregisterCluster',
    'CreateQueue',
    'UpdateQueue',
    'GetQueue',
    'ListQueues',
    'DeleteQueue',
    'CreateCohort',
    'UpdateCohort',
    'GetCohort',
    'ListCohorts',
    'DeleteCohort',
  ],
} as const;
const PATHS = Object.entries(METHODS).flatMap(([svc, ms]) =>
  ms.map((m) => `/muster.v1.${svc}/${m}`),
);

interface Request {
  path: string;
  bytes: Uint8Array;
  token: 'admin' | 'submitter' | 'none' | 'garbage';
  kind: string;
}

// --- arbitraries -----------------------------------------------------------------------------

const lookAlikes = fc.constantFrom(
  'rеsearch', // Cyrillic е
  'ｒｅｓｅａｒｃｈ', // full width
  'research\u200b', // zero-width space
  'research\u0000',
  'RESEARCH',
  ' research',
  'gpu\u2010east', // Unicode hyphen
  'gpu-еast',
  'ɡpu-east', // Latin small script g
  'research\u202e', // right-to-left override
);
const huge = fc
  .tuple(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.integer({ min: 1000, max: MAX_REQUEST + 100_000 }),
  )
  .map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n));
const validName = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/);
const anyName = fc.oneof(
  { weight: 4, arbitrary: validName },
  { weight: 3, arbitrary: lookAlikes },
  { weight: 3, arbitrary: fc.string({ maxLength: 70 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: huge },
);
const deepJson = fc
  .tuple(fc.integer({ min: 20, max: 20_000 }), fc.boolean())
  .map(([d, arrays]) =>
    arrays ? '['.repeat(d) + ']'.repeat(d) : '{"a":'.repeat(d) + '1' + '}'.repeat(d),
  );
const container = fc.record({
  name: fc.oneof(validName, anyName),
  image: fc.oneof(fc.constant('registry.example/x:1'), fc.string()),
  resources: fc.oneof(
    fc.constant({ requests: { cpu: '1' } }),
    fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })),
  ),
  securityContext: fc.option(
    fc.record({
      privileged: fc.option(fc.boolean()),
      allowPrivilegeEscalation: fc.option(fc.jsonValue({ maxDepth: 1 })),
      capabilities: fc.option(fc.record({ add: fc.array(fc.string({ maxLength: 12 })) })),
    }),
  ),
});
const template = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({ spec: fc.record({ containers: fc.array(container, { maxLength: 3 }) }) })
      .map((t) => JSON.stringify(t)),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        metadata: fc.record({
          labels: fc.dictionary(fc.string({ maxLength: 70 }), fc.string({ maxLength: 70 })),
          annotations: fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(fc.string(), huge)),
        }),
        spec: fc.record({
          containers: fc.constant([{ name: 'm', image: 'i' }]),
          hostNetwork: fc.option(fc.boolean()),
          volumes: fc.option(
            fc.array(
              fc.record({ name: fc.string(), hostPath: fc.option(fc.jsonValue({ maxDepth: 1 })) }),
            ),
          ),
        }),
      })
      .map((t) => JSON.stringify(t)),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: 'binary', maxLength: 100 })
      .map((s) => `{"spec":${JSON.stringify(s)}}`),
  },
);
const podSet = fc.record({
  name: anyName,
  count: fc.oneof(fc.integer({ min: -5, max: 10 }), fc.integer()),
  podTemplateJson: template,
  topology: fc.option(fc.record({ mode: fc.integer({ min: -1, max: 5 }), level: anyName }), {
    nil: undefined,
  }),
});
const labels = fc.dictionary(anyName, fc.oneof(anyName, fc.string()), { maxKeys: 5 });
const spec = fc.record({
  name: anyName,
  queue: fc.oneof(
    { weight: 3, arbitrary: fc.constant('fuzz-queue-base') },
    { weight: 2, arbitrary: anyName },
  ),
  priority: fc.integer(),
  onClusterLost: fc.integer({ min: -2, max: 5 }),
  labels,
  podSets: fc.array(podSet, { maxLength: 20 }),
  podSetGroups: fc.array(
    fc.record({ podSets: fc.array(anyName, { maxLength: 3 }), level: anyName }),
    { maxLength: 2 },
  ),
  namespace: fc.oneof(fc.constant(''), fc.constant('default'), anyName),
  maxRestarts: fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 200 })),
  resourceClaimTemplates: fc.array(
    fc.record({
      name: anyName,
      specJson: fc.oneof(
        fc.string(),
        fc.constant('{"devices":{"requests":[{"name":"gpu","exactly":{"deviceClassName":"x"}}]}}'),
      ),
    }),
    { maxLength: 2 },
  ),
  matchDeviceAttribute: fc.oneof(
    fc.constant(''),
    fc.constant('gpu.example.com/interconnect'),
    fc.string({ maxLength: 40 }),
  ),
});
const id = fc.oneof(fc.uuid(), fc.constant(randomUUID()), anyName);
/** Resource → quantity maps with nonsense in names and amounts. */
const resourceMap = fc.dictionary(
  fc.oneof(fc.constantFrom('nvidia.com/gpu', 'cpu', 'memory'), fc.string({ maxLength: 20 })),
  fc.oneof(fc.constantFrom('8', '64Gi', '-1', '1e999', '0.5'), fc.string({ maxLength: 10 })),
  { maxKeys: 3 },
);
const queueMsg = fc.record({
  name: anyName,
  description: fc.oneof(fc.string(), huge),
  weight: fc.integer(),
  allowedNamespaces: fc.array(anyName, { maxLength: 5 }),
  createdAt: fc.constant(undefined),
  updatedAt: fc.constant(undefined),
  quota: fc.option(
    fc.record({
      nominal: resourceMap,
      cohort: fc.oneof(fc.constant(''), anyName),
      borrowingLimit: resourceMap,
      lendingLimit: resourceMap,
    }),
    { nil: undefined },
  ),
  // Hours at and around the limits (0, negative, NaN, infinities, above 1e9), periods out of
  // the enum, resource names with nonsense.
  budget: fc.option(
    fc.record({
      resource: fc.oneof(
        fc.constantFrom('', 'nvidia.com/gpu', 'amd.com/gpu'),
        fc.string({ maxLength: 20 }),
      ),
      hours: fc.oneof(
        fc.constantFrom(0, -1, 5000, 1e9, 1e9 + 1, Number.NaN, Number.POSITIVE_INFINITY),
        fc.double(),
      ),
      period: fc.integer({ min: -1, max: 5 }),
    }),
    { nil: undefined },
  ),
});
/** Cohorts with look-alike names, parents that are themselves or nonsense, and bad amounts. */
const cohortMsg = fc
  .record({
    name: fc.oneof(fc.constant('fuzz-cohort-base'), anyName),
    parent: fc.oneof(fc.constant(''), fc.constant('fuzz-cohort-base'), anyName),
    description: fc.oneof(fc.string(), huge),
    quota: fc.option(
      fc.record({ nominal: resourceMap, borrowingLimit: resourceMap, lendingLimit: resourceMap }),
      { nil: undefined },
    ),
    createdAt: fc.constant(undefined),
    updatedAt: fc.constant(undefined),
    queues: fc.array(anyName, { maxLength: 2 }),
    children: fc.array(anyName, { maxLength: 2 }),
    ownParent: fc.integer({ min: 0, max: 9 }),
  })
  .map(({ ownParent, ...c }) => (ownParent === 0 ? { ...c, parent: c.name } : c));
const accessProvider = fc.record({
  name: anyName,
  cluster: fc.option(
    fc.record({
      server: fc.oneof(fc.webUrl(), fc.string()),
      // ts-proto types `bytes` as Buffer.
      certificateAuthorityData: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      tlsServerName: fc.string(),
      proxyUrl: fc.oneof(fc.constant(''), fc.string()),
      insecureSkipTlsVerify: fc.boolean(),
      extensions: fc.array(
        fc.record({
          name: fc.string(),
          extensionJson: fc.oneof(
            fc.jsonValue().map((v) => JSON.stringify(v)),
            deepJson,
            fc.string(),
          ),
        }),
        { maxLength: 2 },
      ),
    }),
    { nil: undefined },
  ),
});

const enc = <T>(codec: { encode(m: T): { finish(): Uint8Array } }, m: T) =>
  codec.encode(m).finish();

/** Structured adversarial messages for the methods that store or look up things. */
const structured: fc.Arbitrary<Omit<Request, 'token'>> = fc.oneof(
  fc
    .record({
      clientRequestId: fc.oneof(fc.constant(''), fc.uuid(), anyName),
      spec: fc.option(spec, { nil: undefined }),
    })
    .map((m) => ({
      path: '/muster.v1.JobService/SubmitJob',
      bytes: enc(SubmitJobRequest, m),
      kind: 'submit',
    })),
  id.map((jobId) => ({
    path: '/muster.v1.JobService/GetJob',
    bytes: enc(GetJobRequest, { jobId }),
    kind: 'get-job',
  })),
  fc.record({ jobId: id, reason: fc.oneof(fc.string(), huge) }).map((m) => ({
    path: '/muster.v1.JobService/CancelJob',
    bytes: enc(CancelJobRequest, m),
    kind: 'cancel',
  })),
  id.map((jobId) => ({
    path: '/muster.v1.JobService/ExplainJob',
    bytes: enc(ExplainJobRequest, { jobId }),
    kind: 'explain',
  })),
  fc
    .record({
      queue: fc.oneof(fc.constant(''), anyName),
      states: fc.array(fc.integer({ min: -3, max: 12 }), { maxLength: 4 }),
      pageSize: fc.integer(),
      pageToken: fc.oneof(fc.constant(''), fc.base64String(), anyName),
    })
    .map((m) => ({
      path: '/muster.v1.JobService/ListJobs',
      bytes: enc(ListJobsRequest, m),
      kind: 'list-jobs',
    })),
  fc.record({ queue: fc.option(queueMsg, { nil: undefined }) }).map((m) => ({
    path: '/muster.v1.InventoryService/CreateQueue',
    bytes: enc(CreateQueueRequest, m),
    kind: 'create-queue',
  })),
  fc.record({ queue: fc.option(queueMsg, { nil: undefined }) }).map((m) => ({
    path: '/muster.v1.InventoryService/UpdateQueue',
    bytes: enc(UpdateQueueRequest, m),
    kind: 'update-queue',
  })),
  fc.record({ cohort: fc.option(cohortMsg, { nil: undefined }) }).map((m) => ({
    path: '/muster.v1.InventoryService/CreateCohort',
    bytes: enc(CreateCohortRequest, m),
    kind: 'create-cohort',
  })),
  fc.record({ cohort: fc.option(cohortMsg, { nil: undefined }) }).map((m) => ({
    path: '/muster.v1.InventoryService/UpdateCohort',
    bytes: enc(UpdateCohortRequest, m),
    kind: 'update-cohort',
  })),
  fc.oneof(fc.constant('fuzz-cohort-base'), anyName).map((name) => ({
    path: '/muster.v1.InventoryService/GetCohort',
    bytes: enc(GetCohortRequest, { name }),
    kind: 'get-cohort',
  })),
  anyName.map((name) => ({
    path: '/muster.v1.InventoryService/DeleteCohort',
    bytes: enc(DeleteCohortRequest, { name }),
    kind: 'delete-cohort',
  })),
  fc
    .record({
      name: anyName,
      displayName: fc.oneof(fc.string(), huge),
      clusterSet: anyName,
      topologyLevels: fc.array(anyName, { maxLength: 6 }),
      accessProviders: fc.array(accessProvider, { maxLength: 3 }),
      labels,
    })
    .map((m) => ({
      path: '/muster.v1.InventoryService/RegisterCluster',
      bytes: enc(RegisterClusterRequest, m),
      kind: 'register',
    })),
  fc
    .record({
      name: fc.oneof(fc.constant('fuzz-cluster-base'), anyName),
      displayName: fc.option(fc.string(), { nil: undefined }),
      clusterSet: fc.option(anyName, { nil: undefined }),
      topologyLevels: fc.array(anyName, { maxLength: 4 }),
      replaceTopologyLevels: fc.boolean(),
      accessProviders: fc.array(accessProvider, { maxLength: 2 }),
      replaceAccessProviders: fc.boolean(),
      labels,
      replaceLabels: fc.boolean(),
    })
    .map((m) => ({
      path: '/muster.v1.InventoryService/UpdateCluster',
      bytes: enc(UpdateClusterRequest, m),
      kind: 'update-cluster',
    })),
);

/** Requests that are valid, or one small change away from it: some succeed and store rows. */
const nearlyValid: fc.Arbitrary<Omit<Request, 'token'>> = fc.oneof(
  fc
    .record({ name: validName, weight: fc.integer({ min: 0, max: 10 }) })
    .map(({ name, weight }) => ({
      path: '/muster.v1.InventoryService/CreateQueue',
      bytes: enc(CreateQueueRequest, {
        queue: { name: `q-${name}`, description: 'fuzz', weight, allowedNamespaces: [] },
      }),
      kind: 'nearly-valid-queue',
    })),
  fc
    .record({
      name: validName,
      parent: fc.oneof(fc.constant(''), fc.constant('fuzz-cohort-base'), validName),
      gpus: fc.constantFrom('8', '-1', 'lots', '0'),
    })
    .map(({ name, parent, gpus }) => ({
      path: '/muster.v1.InventoryService/CreateCohort',
      bytes: enc(CreateCohortRequest, {
        cohort: {
          name: `k-${name}`,
          parent,
          description: 'fuzz',
          quota: { nominal: { 'nvidia.com/gpu': gpus }, borrowingLimit: {}, lendingLimit: {} },
          queues: [],
          children: [],
        },
      }),
      kind: 'nearly-valid-cohort',
    })),
  fc.record({ name: validName, set: fc.oneof(fc.constant(''), anyName) }).map(({ name, set }) => ({
    path: '/muster.v1.InventoryService/RegisterCluster',
    bytes: enc(RegisterClusterRequest, {
      name: `c-${name}`,
      displayName: '',
      clusterSet: set,
      topologyLevels: [],
      accessProviders: [],
      labels: {},
    }),
    kind: 'nearly-valid-cluster',
  })),
  fc
    .record({
      count: fc.integer({ min: 0, max: 3 }),
      cpu: fc.constantFrom('1', '500m', '-1', 'lots', '1e3'),
      privileged: fc.boolean(),
      namespace: fc.constantFrom('', 'default', 'kube-system'),
    })
    .map(({ count, cpu, privileged, namespace }) => ({
      path: '/muster.v1.JobService/SubmitJob',
      bytes: enc(SubmitJobRequest, {
        clientRequestId: randomUUID(),
        spec: {
          name: 'fuzz',
          queue: 'fuzz-queue-base',
          priority: 0,
          onClusterLost: 0,
          labels: {},
          namespace,
          podSetGroups: [],
          maxRestarts: 0,
          resourceClaimTemplates: [],
          matchDeviceAttribute: '',
          podSets: [
            {
              name: 'w',
              count,
              topology: undefined,
              podTemplateJson: JSON.stringify({
                spec: {
                  containers: [
                    {
                      name: 'm',
                      image: 'i',
                      resources: { requests: { cpu } },
                      ...(privileged ? { securityContext: { privileged } } : {}),
                    },
                  ],
                },
              }),
            },
          ],
        },
      }),
      kind: 'nearly-valid-submit',
    })),
);

/** Hand-made protobuf: random fields with random wire types, invalid UTF-8 in strings. */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}
const INVALID_UTF8 = [
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xff],
  [0xed, 0xa0, 0x80],
  [0xc0, 0xaf],
];
const field = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom(...INVALID_UTF8),
      fc.string({ maxLength: 10 }),
    )
    .map(([f, bad, s]) => {
      const body = [...Buffer.from(s), ...bad, ...Buffer.from(s)];
      return [...varint((f << 3) | 2), ...varint(body.length), ...body];
    }),
  fc
    .tuple(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 0, max: 7 }),
      fc.uint8Array({ maxLength: 20 }),
    )
    .map(([f, wire, rest]) => [...varint((f << 3) | wire), ...rest]),
  fc
    .tuple(fc.integer({ min: 1, max: 12 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }))
    .map(([f, big]) => {
      const bytes: number[] = [...varint(f << 3)];
      let v = big;
      while (v > 0x7fn) {
        bytes.push(Number(v & 0x7fn) | 0x80);
        v >>= 7n;
      }
      bytes.push(Number(v));
      return bytes;
    }),
);
const handMade = fc
  .tuple(fc.constantFrom(...PATHS), fc.array(field, { minLength: 1, maxLength: 6 }))
  .map(([path, fields]) => ({ path, bytes: Uint8Array.from(fields.flat()), kind: 'hand-made' }));

const randomBytes = fc
  .tuple(fc.constantFrom(...PATHS), fc.uint8Array({ maxLength: 512 }))
  .map(([path, bytes]) => ({ path, bytes, kind: 'random-bytes' }));

/** A valid message of one type sent to another method. */
const wrongType = fc
  .tuple(structured, fc.constantFrom(...PATHS))
  .map(([m, path]) => ({ ...m, path, kind: `wrong-type:${m.kind}` }));

const request: fc.Arbitrary<Request> = fc
  .tuple(
    fc.oneof(
      { weight: 5, arbitrary: structured },
      { weight: 1, arbitrary: nearlyValid },
      { weight: 2, arbitrary: handMade },
      { weight: 2, arbitrary: randomBytes },
      { weight: 1, arbitrary: wrongType },
    ),
    fc.constantFrom(
      'admin',
      'admin',
      'admin',
      'admin',
      'admin',
      'admin',
      'submitter',
      'submitter',
      'none',
      'garbage',
    ),
  )
  .map(([m, token]) => ({ ...m, token: token as Request['token'] }));

// --- the run ---------------------------------------------------------------------------------

let dir: ReturnType<typeof tempDir>;
let pki: Pki;
let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
let client: Client;
let api: HubClients;

async function counts(): Promise<{
  jobs: number;
  clusters: number;
  queues: number;
  cohorts: number;
}> {
  const [row] = await db.query<{ jobs: string; clusters: string; queues: string; cohorts: string }>(
    'SELECT (SELECT COUNT(*) FROM jobs) AS jobs, (SELECT COUNT(*) FROM clusters) AS clusters, (SELECT COUNT(*) FROM queues) AS queues, (SELECT COUNT(*) FROM cohorts) AS cohorts',
  );
  return {
    jobs: Number(row!.jobs),
    clusters: Number(row!.clusters),
    queues: Number(row!.queues),
    cohorts: Number(row!.cohorts),
  };
}

function metadataFor(token: Request['token']): Metadata {
  const md = new Metadata();
  if (token === 'admin') md.set('authorization', `Bearer ${ADMIN}`);
  if (token === 'submitter') md.set('authorization', `Bearer ${SUBMITTER}`);
  if (token === 'garbage') md.set('authorization', `Bearer ${randomUUID()}.${randomUUID()}`);
  return md;
}

interface Outcome {
  code: number;
  details: string;
  response?: Buffer;
}

function send(r: Request): Promise<Outcome> {
  const deadline = Date.now() + 20_000;
  const bytes = Buffer.from(r.bytes);
  const identity = (b: Buffer) => b;
  return new Promise((resolve) => {
    if (r.path.endsWith('/WatchJob')) {
      const call = client.makeServerStreamRequest(
        r.path,
        identity,
        identity,
        bytes,
        metadataFor(r.token),
        { deadline },
      );
      let answered = false;
      call.on('data', () => {
        // A watch that found a job streams its events: a valid answer. Stop there.
        answered = true;
        call.cancel();
      });
      call.on('error', (e: ServiceError) =>
        resolve(answered ? { code: status.OK, details: '' } : { code: e.code, details: e.details }),
      );
      call.on('end', () => resolve({ code: status.OK, details: '' }));
      return;
    }
    client.makeUnaryRequest(
      r.path,
      identity,
      identity,
      bytes,
      metadataFor(r.token),
      { deadline },
      (err, res) =>
        resolve(
          err
            ? { code: err.code, details: err.details }
            : { code: status.OK, details: '', response: res },
        ),
    );
  });
}

const tally = {
  tried: 0,
  rejected: 0,
  accepted: 0,
  crashes: 0,
  byCode: new Map<string, number>(),
  stored: { jobs: 0, clusters: 0, queues: 0, cohorts: 0 },
  improper: [] as string[],
};

function account(r: Request, o: Outcome): boolean {
  tally.tried++;
  tally.byCode.set(
    status[o.code] ?? String(o.code),
    (tally.byCode.get(status[o.code] ?? String(o.code)) ?? 0) + 1,
  );
  if (!PROPER.has(o.code)) {
    tally.crashes++;
    tally.improper.push(`${r.kind} ${r.path}: ${status[o.code]} ${o.details.slice(0, 200)}`);
    return false;
  }
  // Without a valid token nothing is looked at, except the size (grpc-js refuses oversized
  // messages before any handler runs).
  const oversized = r.bytes.length > MAX_REQUEST && o.code === status.RESOURCE_EXHAUSTED;
  if (
    (r.token === 'none' || r.token === 'garbage') &&
    o.code !== status.UNAUTHENTICATED &&
    !oversized
  ) {
    tally.improper.push(`${r.kind} ${r.path} without a valid token answered ${status[o.code]}`);
    return false;
  }
  if (o.code !== status.OK) {
    tally.rejected++;
    return true;
  }
  tally.accepted++;
  const method = r.path.slice(r.path.lastIndexOf('/') + 1);
  if (method === 'SubmitJob' && SubmitJobResponse.decode(o.response!).created) tally.stored.jobs++;
  if (method === 'RegisterCluster') tally.stored.clusters++;
  if (method === 'DeregisterCluster') tally.stored.clusters--;
  if (method === 'CreateQueue') tally.stored.queues++;
  if (method === 'DeleteQueue') tally.stored.queues--;
  if (method === 'CreateCohort') tally.stored.cohorts++;
  if (method === 'DeleteCohort') tally.stored.cohorts--;
  return true;
}

/** Counterexamples can be megabytes of bytes: report what went wrong, and the seed to replay. */
function shortReport<Ts>(run: fc.RunDetails<Ts>): void {
  if (!run.failed) return;
  throw new Error(
    `fuzz failed (seed ${run.seed}, path ${run.counterexamplePath}): ${tally.improper.slice(0, 10).join('; ') || String(run.errorInstance)}`,
  );
}

beforeAll(async () => {
  dir = tempDir('muster-sec-fuzz-');
  pki = issuePki(`${dir.path}/pki`, ['fuzz-cluster-base']);
  env = await startHubEnvironment({
    ...secureHubOptions(pki, {
      MUSTER_AUTH_TOKENS_FILE: writeTokensFile(dir.path, [
        { name: 'fuzz-admin', token: ADMIN, role: 'admin' },
        {
          name: 'fuzz-submitter',
          token: SUBMITTER,
          role: 'submitter',
          queues: ['fuzz-queue-base'],
        },
      ]),
      MUSTER_MAX_REQUEST_BYTES: String(MAX_REQUEST),
      MUSTER_SUBMITS_PER_SECOND: '0',
      MUSTER_AGENT_MESSAGES_PER_SECOND: '50',
      MUSTER_AGENT_MESSAGE_BURST: '20',
    }),
    client: { token: ADMIN },
    queues: ['fuzz-queue-base'],
  });
  ({ db, hub, api } = env);
  await api.inventory.registerCluster({
    name: 'fuzz-cluster-base',
    displayName: '',
    clusterSet: '',
    topologyLevels: [],
    accessProviders: [],
    labels: {},
  });
  await api.inventory.createCohort({
    cohort: { name: 'fuzz-cohort-base', parent: '', description: '', queues: [], children: [] },
  });
  client = new Client(hub.grpcAddress, tlsCredentials(pki), SERVER_NAME);
});

afterAll(async () => {
  if (process.env.MUSTER_TEST_HUB_LOGS === '1')
    console.log(hub?.logs.filter((l) => !l.includes('"level":"info"')).join('\n'));
  client?.close();
  try {
    await env?.stop();
  } finally {
    dir?.remove();
  }
});

it(`answers ${UNARY_RUNS * BATCH} hostile requests with proper statuses and stores nothing it rejected`, async () => {
  const before = await counts();
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const outcomes = await Promise.all(batch.map(send));
      return batch.every((r, i) => account(r, outcomes[i]!));
    }),
    { numRuns: UNARY_RUNS, endOnFailure: true, reporter: shortReport },
  );
  const after = await counts();
  // The hub still serves, and holds exactly what the accepted requests stored.
  expect((await api.inventory.listQueues({})).queues.length).toBe(after.queues);
  expect((await api.inventory.listCohorts({})).cohorts.length).toBe(after.cohorts);
  // No write, however hostile, left a parent chain that loops.
  const [looping] = await db.query<{ n: string }>(
    `WITH RECURSIVE up(start, at, depth) AS (
       SELECT name, parent, 1 FROM cohorts WHERE parent IS NOT NULL
       UNION ALL
       SELECT up.start, c.parent, up.depth + 1 FROM up JOIN cohorts c ON c.name = up.at
        WHERE c.parent IS NOT NULL AND up.depth <= 17)
     SELECT COUNT(*) AS n FROM up WHERE at = start`,
  );
  expect(Number(looping!.n)).toBe(0);
  console.log(
    [
      `fuzz: requests tried ${tally.tried}, rejected ${tally.rejected}, accepted ${tally.accepted}, crashes ${tally.crashes} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `fuzz: stored by rejected requests: ${
        after.jobs -
        before.jobs -
        tally.stored.jobs +
        (after.clusters - before.clusters - tally.stored.clusters) +
        (after.queues - before.queues - tally.stored.queues) +
        (after.cohorts - before.cohorts - tally.stored.cohorts)
      } (rows stored by accepted requests: jobs ${tally.stored.jobs}, clusters ${tally.stored.clusters}, queues ${tally.stored.queues}, cohorts ${tally.stored.cohorts})`,
      `fuzz: statuses ${[...tally.byCode].map(([c, n]) => `${c} ${n}`).join(', ')}`,
    ].join('\n'),
  );
  expect(tally.improper).toEqual([]);
  expect(tally.crashes).toBe(0);
  expect(tally.tried).toBe(UNARY_RUNS * BATCH);
  expect(after).toEqual({
    jobs: before.jobs + tally.stored.jobs,
    clusters: before.clusters + tally.stored.clusters,
    queues: before.queues + tally.stored.queues,
    cohorts: before.cohorts + tally.stored.cohorts,
  });
  // No handler failed in an unexpected way (those log "request failed" with a stack).
  expect(hub.logs.filter((l) => /"level":"error"/.test(l))).toEqual([]);
});

const HELLO = ConnectRequest.encode({
  message: {
    $case: 'hello',
    hello: {
      cluster: 'fuzz-cluster-base',
      agentVersion: 'fuzz',
      epoch: 'fuzz',
      kubernetesVersion: 'v1',
      topologyLevels: [],
      gangScheduling: 0,
    },
  },
}).finish();
const resources = fc.dictionary(
  fc.oneof(fc.constantFrom('cpu', 'memory', 'nvidia.com/gpu'), fc.string({ maxLength: 20 })),
  fc.oneof(fc.constantFrom('1', '64Gi', '-1', '1e999', '0.0001m'), fc.string({ maxLength: 10 })),
  { maxKeys: 3 },
);
const node = fc.record({
  name: anyName,
  labels: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
  taints: fc.constant([]),
  allocatable: fc.record({ quantities: resources }),
  free: fc.record({ quantities: resources }),
  unschedulable: fc.boolean(),
  ready: fc.boolean(),
  devices: fc.array(
    fc.record({
      driver: fc.oneof(fc.constant('gpu.example.com'), fc.string({ maxLength: 20 })),
      pool: fc.string({ maxLength: 10 }),
      name: fc.string({ maxLength: 10 }),
      attributes: fc.dictionary(
        fc.oneof(fc.constant('gpu.example.com/model'), fc.string({ maxLength: 20 })),
        fc.record({
          value: fc.oneof(
            fc.record({ $case: fc.constant('stringValue' as const), stringValue: fc.string() }),
            fc.record({ $case: fc.constant('intValue' as const), intValue: fc.integer() }),
            fc.record({ $case: fc.constant('boolValue' as const), boolValue: fc.boolean() }),
            fc.record({
              $case: fc.constant('versionValue' as const),
              versionValue: fc.oneof(fc.constant('1.2.3'), fc.string({ maxLength: 8 })),
            }),
          ),
        }),
        { maxKeys: 2 },
      ),
      capacity: resources,
      allocated: fc.boolean(),
      consumesCounters: fc.array(
        fc.record({ counterSet: fc.string({ maxLength: 10 }), counters: resources }),
        { maxLength: 2 },
      ),
      allocatedGangId: fc.oneof(fc.constant(''), fc.uuid(), anyName),
      allocatedFencingToken: fc.integer(),
    }),
    { maxLength: 3 },
  ),
  counterSets: fc.array(
    fc.record({
      name: fc.string({ maxLength: 10 }),
      counters: resources,
      driver: fc.string({ maxLength: 20 }),
      pool: fc.string({ maxLength: 10 }),
    }),
    { maxLength: 2 },
  ),
});
/** DeviceClasses whose selectors may not even be CEL. */
const deviceClasses = fc.array(
  fc.record({
    name: anyName,
    selectors: fc.array(
      fc.oneof(
        fc.constant('device.driver == "gpu.example.com"'),
        fc.constant('device.attributes["gpu.example.com"].model =='),
        fc.string({ maxLength: 30 }),
      ),
      { maxLength: 2 },
    ),
  }),
  { maxLength: 2 },
);
const gangRef = fc.record({ gangId: fc.oneof(fc.uuid(), anyName), fencingToken: fc.integer() });
/** Agent → hub messages: random bytes, or well-formed messages with lies and nonsense in them. */
const agentMessage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc
    .oneof(
      fc.record({
        $case: fc.constant('hello' as const),
        hello: fc.record({
          cluster: anyName,
          agentVersion: fc.string(),
          epoch: fc.string(),
          kubernetesVersion: fc.string(),
          topologyLevels: fc.array(fc.string(), { maxLength: 3 }),
          gangScheduling: fc.integer({ min: -1, max: 5 }),
        }),
      }),
      fc.record({
        $case: fc.constant('snapshot' as const),
        snapshot: fc.record({
          reportSequence: fc.integer(),
          nodes: fc.array(node, { maxLength: 3 }),
          reflectedDispatches: fc.array(gangRef, { maxLength: 2 }),
          heldGangs: fc.array(gangRef, { maxLength: 2 }),
          deviceClasses,
        }),
      }),
      fc.record({
        $case: fc.constant('delta' as const),
        delta: fc.record({
          reportSequence: fc.integer(),
          upsertedNodes: fc.array(node, { maxLength: 3 }),
          removedNodes: fc.array(anyName, { maxLength: 2 }),
          reflectedDispatches: fc.array(gangRef, { maxLength: 2 }),
          deviceClasses,
        }),
      }),
      fc.record({
        $case: fc.constant('heartbeat' as const),
        heartbeat: fc.record({
          reportSequence: fc.integer(),
          sentAt: fc.constant(undefined),
          ping: fc.integer(),
        }),
      }),
      fc.record({
        $case: fc.constant('dispatchAnswer' as const),
        dispatchAnswer: fc.record({
          gangId: fc.oneof(fc.uuid(), anyName),
          fencingToken: fc.integer(),
          outcome: fc.integer({ min: -1, max: 4 }),
          reason: fc.string(),
          message: fc.string(),
        }),
      }),
      fc.record({
        $case: fc.constant('memberStates' as const),
        memberStates: fc.record({
          members: fc.array(
            fc.record({
              gangId: fc.oneof(fc.uuid(), anyName),
              fencingToken: fc.integer(),
              podSet: anyName,
              index: fc.integer(),
              phase: fc.integer({ min: -1, max: 7 }),
              reason: fc.string(),
              exitCode: fc.integer(),
              nodeName: fc.string(),
              podName: fc.string(),
            }),
            { maxLength: 3 },
          ),
          batchId: fc.integer(),
        }),
      }),
    )
    .map((message) => ConnectRequest.encode({ message } as ConnectRequest).finish()),
);

it(`cuts off ${STREAM_RUNS} random agent streams with proper statuses and keeps serving`, async () => {
  const agentClient = new Client(
    hub.grpcAddress,
    agentCredentials(pki, pki, 'fuzz-cluster-base'),
    SERVER_NAME,
  );
  const codes = new Map<string, number>();
  const identity = (b: Buffer) => b;
  tally.improper = [];
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(agentMessage, { minLength: 1, maxLength: 4 }),
        async (helloFirst, rest) => {
          const messages = helloFirst ? [HELLO, ...rest] : rest;
          const call = agentClient.makeBidiStreamRequest(
            '/muster.v1.AgentService/Connect',
            identity,
            identity,
            new Metadata(),
            {
              deadline: Date.now() + 20_000,
            },
          );
          const done = new Promise<number>((resolve) => {
            call.on('error', (e: ServiceError) => resolve(e.code));
            call.on('end', () => resolve(status.OK));
            call.on('data', () => undefined);
          });
          for (const m of messages) call.write(Buffer.from(m));
          call.end();
          const code = await done;
          codes.set(status[code]!, (codes.get(status[code]!) ?? 0) + 1);
          if (!PROPER.has(code)) tally.improper.push(`agent stream: ${status[code]}`);
          return PROPER.has(code);
        },
      ),
      { numRuns: STREAM_RUNS, endOnFailure: true, reporter: shortReport },
    );
  } finally {
    agentClient.close();
  }
  console.log(
    `fuzz: agent streams ${STREAM_RUNS}: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`,
  );
  expect((await api.inventory.listClusters({})).clusters.length).toBeGreaterThan(0);
  expect(leaks(hub.logs.join('\n'), [ADMIN, SUBMITTER, ...pki.privateKeys()])).toEqual([]);
  // Nothing an agent sent reached a query it could break.
  expect(hub.logs.filter((l) => /"level":"error"/.test(l))).toEqual([]);
});
