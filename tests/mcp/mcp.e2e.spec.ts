// The MCP server as an assistant runs it: the built apps/mcp as its own process, spoken to by the
// MCP SDK's own client over stdio (and once over Streamable HTTP), in front of a real hub (TLS,
// bearer tokens) with a scripted agent reporting a cluster. A viewer token bound to one queue
// sees only that queue through MCP, and no tool can change anything.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AgentState, type HubClients } from '@muster/api';
import { eventually } from '../support/eventually';
import { FakeAgent } from '../support/fake-agent';
import { jobSpec, podSet } from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { REPO_ROOT } from '../support/hub-process';
import {
  agentCredentials,
  issuePki,
  secureHubOptions,
  tempDir,
  writeTokensFile,
  type Pki,
} from '../support/security';

jest.setTimeout(180_000);

const MCP_MAIN = join(REPO_ROOT, 'apps/mcp/dist/main.js');
const CLUSTER = 'gpu-east';
const T = {
  ops: `ops-${randomUUID()}`,
  teamA: `viewer-a-${randomUUID()}`,
  all: `viewer-all-${randomUUID()}`,
};

let dir: ReturnType<typeof tempDir>;
let pki: Pki;
let env: HubEnvironment;
let api: HubClients;
let agent: FakeAgent;
let beat: NodeJS.Timeout;
let jobA: string;
let jobB: string;
const clients: Client[] = [];
const stderr: string[] = [];

/** The environment of the MCP process: the hub over TLS, a token, nothing else of ours. */
function mcpEnv(token: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    MUSTER_HUB: env.hub.grpcAddress,
    MUSTER_TOKEN: token,
    MUSTER_TLS_CA_FILE: pki.caFile,
    MUSTER_TLS_SERVER_NAME: 'localhost',
  };
}

async function stdioClient(token: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_MAIN],
    env: mcpEnv(token),
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const client = new Client({ name: 'muster-e2e', version: '0' });
  clients.push(client);
  await client.connect(transport);
  return client;
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The HTTP status of a bare POST with `headers`. */
function postStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end('{}');
  });
}

const text = (r: CallToolResult) =>
  r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

beforeAll(async () => {
  dir = tempDir('muster-mcp-');
  pki = issuePki(join(dir.path, 'pki'), [CLUSTER]);
  const quota = (nominal: string) => ({
    nominal: { 'nvidia.com/gpu': nominal },
    cohort: 'ml',
    borrowingLimit: {},
    lendingLimit: {},
  });
  env = await startHubEnvironment({
    ...secureHubOptions(pki, {
      MUSTER_AUTH_TOKENS_FILE: writeTokensFile(dir.path, [
        { name: 'ops', token: T.ops, role: 'admin' },
        { name: 'assistant-a', token: T.teamA, role: 'viewer', queues: ['team-a'] },
        { name: 'assistant', token: T.all, role: 'viewer' },
      ]),
    }),
    client: { token: T.ops, timeoutMs: 10_000 },
    queues: [
      { name: 'team-a', quota: quota('64') },
      { name: 'team-b', quota: quota('32') },
    ],
  });
  api = env.api;
  await api.inventory.createCohort({
    cohort: { name: 'ml', parent: '', description: 'ML teams', queues: [], children: [] },
  });
  await api.inventory.registerCluster({
    name: CLUSTER,
    displayName: '',
    clusterSet: '',
    topologyLevels: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
    accessProviders: [],
    labels: {},
  });
  agent = new FakeAgent(env.hub.grpcAddress, CLUSTER, agentCredentials(pki, pki, CLUSTER), {
    'grpc.ssl_target_name_override': 'localhost',
  });
  const node = (name: string) => ({
    name,
    labels: { 'topology.kubernetes.io/zone': 'zone-a' },
    allocatable: { cpu: '32', memory: '128Gi', 'nvidia.com/gpu': '4' },
  });
  agent.connect([node('n0'), node('n1')], undefined, [
    'topology.kubernetes.io/zone',
    'kubernetes.io/hostname',
  ]);
  beat = setInterval(() => !agent.ended && agent.heartbeat(), 300);
  // Connected comes with the hello; the nodes with the snapshot after it.
  await eventually(`${CLUSTER} connected with its 2 nodes`, async () => {
    const c = (await api.inventory.getCluster({ name: CLUSTER })).cluster!;
    return (
      (c.agentState === AgentState.AGENT_STATE_CONNECTED && c.capacity?.nodeCount === 2) ||
      undefined
    );
  });
  // 16 GPUs in one gang on a cluster of 8: it waits, and the hub can say why.
  const big = jobSpec('team-a', {
    name: 'big-train',
    podSets: [podSet('workers', 4, { cpu: '1', 'nvidia.com/gpu': '4' })],
  });
  jobA = (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec: big })).job!.id;
  jobB = (
    await api.jobs.submitJob({
      clientRequestId: randomUUID(),
      spec: jobSpec('team-b', { name: 'other-team', podSets: [podSet('w', 1, { cpu: '64' })] }),
    })
  ).job!.id;
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  clearInterval(beat);
  agent?.close();
  try {
    await env?.stop();
  } finally {
    dir?.remove();
  }
});

describe('over stdio, with a viewer token bound to team-a', () => {
  let mcp: Client;
  beforeAll(async () => {
    mcp = await stdioClient(T.teamA);
  });

  it('offers only tools that read', async () => {
    const { tools } = await mcp.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'explain_job',
      'get_cluster',
      'get_job',
      'get_queue',
      'list_clusters',
      'list_cohorts',
      'list_jobs',
      'list_queues',
    ]);
    for (const t of tools) {
      expect(t.name).not.toMatch(/submit|cancel|create|update|delete|drain|cordon/);
      expect(t.annotations?.readOnlyHint).toBe(true);
    }
  });

  it("lists and gets team-a's job, and never shows team-b's", async () => {
    const list = await call(mcp, 'list_jobs', {});
    expect(list.isError).toBeFalsy();
    expect(text(list)).toContain(`${jobA}  big-train  queue team-a  queued`);
    expect(text(list)).not.toContain(jobB);
    expect(list.structuredContent).toMatchObject({ jobs: [{ id: jobA, state: 'queued' }] });
    expect((list.structuredContent as { jobs: unknown[] }).jobs).toHaveLength(1);

    const queued = await call(mcp, 'list_jobs', { queue: 'team-a', states: ['running'] });
    expect(queued.structuredContent).toMatchObject({ jobs: [] });

    const job = await call(mcp, 'get_job', { job_id: jobA });
    expect(text(job)).toContain('pod set workers × 4, each requesting cpu=1 nvidia.com/gpu=4');
    expect(job.structuredContent).toMatchObject({ job: { id: jobA, state: 'queued' } });

    const other = await call(mcp, 'get_job', { job_id: jobB });
    expect(other.isError).toBe(true);
    expect(text(other)).toBe(`NOT_FOUND: job "${jobB}" not found`);

    const denied = await call(mcp, 'list_jobs', { queue: 'team-b' });
    expect(denied.isError).toBe(true);
    expect(text(denied)).toMatch(/^PERMISSION_DENIED: /);
  });

  it('explains per cluster why the gang waits', async () => {
    const r = await eventually('an explanation naming the cluster', async () => {
      const res = await call(mcp, 'explain_job', { job_id: jobA });
      return text(res).includes(`- ${CLUSTER}: does not fit`) ? res : undefined;
    });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toMatchObject({
      clusters: [{ cluster: CLUSTER, fits: false }],
      job: { id: jobA },
    });
    expect(text(r)).toMatch(/nvidia\.com\/gpu/);
  });

  it('shows the cluster: liveness, nodes, free GPUs and topology', async () => {
    const list = await call(mcp, 'list_clusters');
    expect(text(list)).toContain(`${CLUSTER}  agent connected`);
    expect(text(list)).toContain('nodes 2/2 ready');
    expect(text(list)).toContain('GPUs: nvidia.com/gpu free 8 of 8');
    const one = await call(mcp, 'get_cluster', { name: CLUSTER });
    expect(text(one)).toContain(
      'topology levels: topology.kubernetes.io/zone > kubernetes.io/hostname',
    );
    expect(one.structuredContent).toMatchObject({
      cluster: { name: CLUSTER, agentState: 'connected' },
    });
    const missing = await call(mcp, 'get_cluster', { name: 'nowhere' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toMatch(/^NOT_FOUND: .*nowhere/);
  });

  it("shows team-a's queue with its quota and cohort, and not team-b's", async () => {
    const list = await call(mcp, 'list_queues');
    expect(text(list)).toContain('team-a  weight 1  cohort ml');
    expect(text(list)).toContain('quota: nvidia.com/gpu=64');
    expect(text(list)).not.toContain('team-b');
    const one = await call(mcp, 'get_queue', { name: 'team-a' });
    expect(one.structuredContent).toMatchObject({ queue: { name: 'team-a' } });
    expect((await call(mcp, 'get_queue', { name: 'team-b' })).isError).toBe(true);
    const cohorts = await call(mcp, 'list_cohorts');
    expect(text(cohorts)).toContain('ml  parent -  queues team-a ');
  });
});

describe('other tokens and transports', () => {
  it('a token the hub refuses gives tool errors, not a dead server', async () => {
    const mcp = await stdioClient('not-a-token-of-this-hub');
    const r = await call(mcp, 'list_clusters');
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^UNAUTHENTICATED: the hub at .* refused the token/);
    expect((await call(mcp, 'list_queues')).isError).toBe(true);
  });

  it('serves Streamable HTTP with --http; an unbound viewer sees both teams', async () => {
    const child: ChildProcess = spawn(process.execPath, [MCP_MAIN, '--http', '0'], {
      env: mcpEnv(T.all),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buffered = '';
        child.stderr!.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          stderr.push(chunk.toString());
          const m = /"url":"(http:\/\/[^"]+)"/.exec(buffered);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`muster-mcp exited ${code}: ${buffered}`)));
      });
      const client = new Client({ name: 'muster-e2e-http', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      try {
        const list = await call(client, 'list_jobs', { states: ['queued'] });
        expect(text(list)).toContain(jobA);
        expect(text(list)).toContain(jobB);
        // Not a loopback name: refused before MCP (a rebound DNS name in a browser).
        expect(await postStatus(url, { host: 'evil.example' })).toBe(403);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
  });
});
