// Agents authenticate with mutual TLS, and a stream acts for the cluster its certificate names
// and no other. Real hub process over real TLS; certificates from infra/pki/issue.mjs; scripted
// agents (tests/support/fake-agent.ts).
import { randomUUID } from 'node:crypto';
import { Client, status, type ServiceError } from '@grpc/grpc-js';
import {
  AgentState,
  ConnectRequest,
  DispatchOutcome,
  JobState,
  MemberPhase,
  type HubClients,
} from '@muster/api';
import { eventually, FakeAgent, type FakeNode } from '../support/fake-agent';
import { jobSpec, podSet } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
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

const ADMIN_TOKEN = `adm-${randomUUID()}`;
const FLOOD_BURST = 40;
/** The hub certificate's DNS name (it has 127.0.0.1 too; a name avoids Node's SNI warning). */
const SERVER_NAME = { 'grpc.ssl_target_name_override': 'localhost' };

let dir: ReturnType<typeof tempDir>;
let pki: Pki;
let foreign: Pki;
let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents: FakeAgent[] = [];
const timers: NodeJS.Timeout[] = [];

const nodes = (prefix: string, gpus: number): FakeNode[] => [
  {
    name: `${prefix}-n0`,
    allocatable: { cpu: '32', memory: '128Gi', 'nvidia.com/gpu': String(gpus) },
  },
];

function agent(cluster: string, creds = agentCredentials(pki, pki, cluster), hello = cluster) {
  const a = new FakeAgent(hub.grpcAddress, hello, creds, SERVER_NAME);
  agents.push(a);
  return a;
}

async function connected(a: FakeAgent, node: FakeNode[]): Promise<FakeAgent> {
  a.connect(node);
  timers.push(setInterval(() => !a.ended && a.heartbeat(), 300));
  await eventually(
    `${a.cluster} acknowledged`,
    () => a.received.some((m) => m.message?.$case === 'helloAck') || undefined,
  );
  return a;
}

async function refusal(a: FakeAgent): Promise<ServiceError> {
  return (await eventually('the stream to end with an error', () => a.error)) as ServiceError;
}

async function agentState(cluster: string): Promise<AgentState> {
  return (await api.inventory.getCluster({ name: cluster })).cluster!.agentState;
}

async function jobState(id: string): Promise<JobState> {
  return (await api.jobs.getJob({ jobId: id })).job!.state;
}

beforeAll(async () => {
  dir = tempDir('muster-sec-agents-');
  pki = issuePki(`${dir.path}/pki`, ['alpha', 'beta', 'gamma', 'delta']);
  // Another CA that also issues an "alpha" certificate: it must count for nothing.
  foreign = issuePki(`${dir.path}/foreign`, ['alpha'], 'Impostor CA');
  env = await startHubEnvironment({
    ...secureHubOptions(pki, {
      MUSTER_AUTH_TOKENS_FILE: writeTokensFile(dir.path, [
        { name: 'ops', token: ADMIN_TOKEN, role: 'admin' },
      ]),
      MUSTER_AGENT_MESSAGES_PER_SECOND: '10',
      MUSTER_AGENT_MESSAGE_BURST: String(FLOOD_BURST),
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_HEARTBEAT_INTERVAL_MS: '300',
    }),
    client: { token: ADMIN_TOKEN },
    queues: ['q'],
  });
  ({ hub, api } = env);
  for (const name of ['alpha', 'beta', 'gamma', 'delta'])
    await api.inventory.registerCluster({
      name,
      displayName: '',
      clusterSet: '',
      topologyLevels: [],
      accessProviders: [],
      labels: {},
    });
});

afterAll(async () => {
  if (process.env.MUSTER_TEST_HUB_LOGS === '1') console.log(hub?.logs.join('\n'));
  timers.forEach(clearInterval);
  agents.forEach((a) => a.close());
  try {
    await env?.stop();
  } finally {
    dir?.remove();
  }
});

describe('transport', () => {
  it('serves only TLS: a plain-text client gets no answer', async () => {
    const { connectHub } = await import('@muster/api');
    const plain = connectHub(hub.grpcAddress, { token: ADMIN_TOKEN, timeoutMs: 3000 });
    const err = (await plain.inventory.listQueues({}).catch((e: unknown) => e)) as ServiceError;
    plain.close();
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.INTERNAL]).toContain(err.code);
  });

  it('lets people in over TLS without a client certificate (their token decides)', async () => {
    expect((await api.inventory.listQueues({})).queues.map((q) => q.name)).toEqual(['q']);
  });
});

describe('agent authentication', () => {
  it('accepts an agent with its cluster’s certificate', async () => {
    const a = await connected(agent('alpha'), nodes('alpha', 0));
    await eventually(
      'alpha connected',
      async () => (await agentState('alpha')) === AgentState.AGENT_STATE_CONNECTED || undefined,
    );
    a.close();
  });

  it('refuses a stream without a client certificate: UNAUTHENTICATED', async () => {
    const a = agent('beta', tlsCredentials(pki));
    a.connect(nodes('beta', 1));
    const err = await refusal(a);
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/client certificate/);
    expect(await agentState('beta')).toBe(AgentState.AGENT_STATE_NEVER_CONNECTED);
  });

  it('refuses a certificate from another CA, even one naming a real cluster: UNAUTHENTICATED', async () => {
    const a = agent('alpha', agentCredentials(pki, foreign, 'alpha'));
    a.connect(nodes('alpha', 1));
    expect((await refusal(a)).code).toBe(status.UNAUTHENTICATED);
  });

  it('refuses a certificate that names no cluster (the hub’s own server certificate)', async () => {
    const a = agent('alpha', tlsCredentials(pki, { cert: pki.hubCertFile, key: pki.hubKeyFile }));
    a.connect(nodes('alpha', 1));
    expect([status.UNAUTHENTICATED, status.PERMISSION_DENIED]).toContain((await refusal(a)).code);
  });

  it('refuses a hello for another cluster than the certificate’s: PERMISSION_DENIED', async () => {
    const a = agent('gamma', agentCredentials(pki, pki, 'alpha'), 'gamma');
    a.connect(nodes('gamma', 64));
    const err = await refusal(a);
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(err.details).toBe(
      'hello.cluster "gamma" does not match the cluster "alpha" of the client certificate',
    );
    // Its capacity report counted for nothing: gamma never connected.
    expect(await agentState('gamma')).toBe(AgentState.AGENT_STATE_NEVER_CONNECTED);
    expect((await api.inventory.getCluster({ name: 'gamma' })).cluster!.capacity).toBeUndefined();
  });
});

describe('a stream acts for its own cluster only', () => {
  it('never receives another cluster’s gang, and cannot answer or report for it', async () => {
    // beta has room; alpha (the liar) has none, so the gang can only go to beta.
    const beta = await connected(agent('beta'), nodes('beta', 16));
    const liar = await connected(agent('alpha'), nodes('alpha', 0));
    const { job } = await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('q', { podSets: [podSet('w', 2, { 'nvidia.com/gpu': '4' })] }),
    });
    const id = job!.id;
    const d = await eventually('dispatch to beta', () =>
      beta.dispatches().find((x) => x.gangId === id),
    );
    expect(liar.dispatches()).toEqual([]);
    expect(await jobState(id)).toBe(JobState.JOB_STATE_RESERVED);

    // alpha claims beta's gang: accepted, then failed, then succeeded. None of it counts.
    liar.send({
      $case: 'dispatchAnswer',
      dispatchAnswer: {
        gangId: id,
        fencingToken: d.fencingToken,
        outcome: DispatchOutcome.DISPATCH_OUTCOME_REJECTED,
        reason: 'Forged',
        message: 'forged by alpha',
      },
    });
    liar.members(d, MemberPhase.MEMBER_PHASE_FAILED, 1);
    liar.answer(d, true);
    liar.heartbeat();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await jobState(id)).toBe(JobState.JOB_STATE_RESERVED);
    expect((await api.jobs.getJob({ jobId: id })).job!.cluster).toBe('beta');

    // beta's own answers do count.
    beta.answer(d, true);
    await eventually(
      'Dispatched',
      async () => (await jobState(id)) === JobState.JOB_STATE_DISPATCHED || undefined,
    );
    liar.members(d, MemberPhase.MEMBER_PHASE_SUCCEEDED);
    beta.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually(
      'Running',
      async () => (await jobState(id)) === JobState.JOB_STATE_RUNNING || undefined,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(await jobState(id)).toBe(JobState.JOB_STATE_RUNNING);
    liar.close();
  });
});

describe('hostile agent streams are cut off without affecting others', () => {
  let beta: FakeAgent;
  beforeAll(async () => {
    beta = agents.find((a) => a.cluster === 'beta' && !a.ended && !a.error)!;
  });

  async function betaStillServed(): Promise<void> {
    // beta's stream is up: it keeps its state and gets the hub's answers (a fresh gang).
    expect(beta.ended).toBe(false);
    const { job } = await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('q', { podSets: [podSet('w', 1, { 'nvidia.com/gpu': '1' })] }),
    });
    await eventually('beta gets the next gang', () =>
      beta.dispatches().find((x) => x.gangId === job!.id),
    );
    expect(await agentState('beta')).toBe(AgentState.AGENT_STATE_CONNECTED);
  }

  it('a stream of garbage bytes: INVALID_ARGUMENT', async () => {
    const client = new Client(hub.grpcAddress, agentCredentials(pki, pki, 'delta'), SERVER_NAME);
    const call = client.makeBidiStreamRequest(
      '/muster.v1.AgentService/Connect',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const ended = new Promise<ServiceError>((resolve) => call.on('error', resolve));
    call.on('data', () => undefined);
    const hello = ConnectRequest.encode({
      message: {
        $case: 'hello',
        hello: {
          cluster: 'delta',
          agentVersion: 'x',
          epoch: 'e',
          kubernetesVersion: 'v',
          topologyLevels: [],
          gangScheduling: 0,
        },
      },
    }).finish();
    call.write(Buffer.from(hello));
    call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x07, 0x00, 0x12]));
    const err = await ended;
    client.close();
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    await betaStillServed();
  });

  it('a message flood: RESOURCE_EXHAUSTED for the flooder only', async () => {
    const flooder = await connected(agent('delta'), nodes('delta', 0));
    for (let i = 0; i < FLOOD_BURST * 5; i++) flooder.heartbeat();
    const err = await refusal(flooder);
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/messages per second/);
    await betaStillServed();
  });

  it('a lie about capacity that fails validation: INVALID_ARGUMENT, others unaffected', async () => {
    const liar = await connected(agent('delta'), nodes('delta', 0));
    liar.send({
      $case: 'snapshot',
      snapshot: {
        reportSequence: 99,
        nodes: [
          {
            name: 'n',
            labels: {},
            taints: [],
            allocatable: { quantities: { cpu: 'lots' } },
            free: { quantities: { cpu: '-5' } },
            unschedulable: false,
            ready: true,
            devices: [],
            counterSets: [],
          },
        ],
        reflectedDispatches: [],
        heldGangs: [],
        deviceClasses: [],
      },
    });
    expect((await refusal(liar)).code).toBe(status.INVALID_ARGUMENT);
    await betaStillServed();
  });
});

describe('secrets', () => {
  it('never shows a private key or token in the hub’s logs', () => {
    const found = leaks(hub.logs.join('\n'), [
      ...pki.privateKeys(),
      ...foreign.privateKeys(),
      ADMIN_TOKEN,
    ]);
    expect(found).toEqual([]);
  });
});
