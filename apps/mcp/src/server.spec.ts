import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AgentState, JobState, type Cluster, type Job, type Queue } from '@muster/api';
import type { JobListing, ReadOnlyHub } from './hub/read-only-hub';
import { musterMcpServer } from './server';

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

const JOB: Job = {
  id: '6f1c2a10-0000-4000-8000-000000000001',
  spec: {
    name: 'train',
    queue: 'research',
    priority: 5,
    onClusterLost: 0,
    labels: {},
    podSets: [
      {
        name: 'workers',
        count: 4,
        podTemplateJson: JSON.stringify({
          spec: {
            containers: [{ name: 'main', resources: { requests: { 'nvidia.com/gpu': '8' } } }],
          },
        }),
        topology: undefined,
      },
    ],
    podSetGroups: [],
    namespace: '',
    maxRestarts: 1,
    resourceClaimTemplates: [],
    matchDeviceAttribute: '',
  },
  state: JobState.JOB_STATE_QUEUED,
  reason: 'Submitted',
  message: '',
  cluster: '',
  dispatchGeneration: 0,
  members: undefined,
  clientRequestId: 'r-1',
  createdAt: new Date('2026-01-02T03:04:05Z'),
  updatedAt: new Date('2026-01-02T03:04:05Z'),
  restarts: 0,
};

const CLUSTER: Cluster = {
  name: 'gpu-east',
  displayName: '',
  clusterManager: 'muster',
  clusterSet: '',
  conditions: [],
  kubernetesVersion: 'v1.36.1',
  properties: [],
  accessProviders: [
    {
      name: 'kubeconfig',
      cluster: {
        server: 'https://10.1.2.3:6443',
        certificateAuthorityData: Buffer.from('CA-SECRET'),
        tlsServerName: '',
        proxyUrl: '',
        insecureSkipTlsVerify: false,
        extensions: [],
      },
    },
  ],
  topologyLevels: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
  capacity: {
    nodeCount: 2,
    readyNodeCount: 2,
    allocatable: { quantities: { cpu: '64', 'nvidia.com/gpu': '16' } },
    free: { quantities: { cpu: '40', 'nvidia.com/gpu': '6' } },
    observedAt: new Date('2026-01-02T03:04:05Z'),
    devices: [{ deviceClass: 'gpu.example.com', total: 16, free: 6 }],
  },
  agentState: AgentState.AGENT_STATE_CONNECTED,
  agentVersion: '0.1.0',
  lastHeartbeatTime: new Date('2026-01-02T03:04:05Z'),
  cordoned: false,
  readOnly: false,
  labels: {},
  createdAt: undefined,
  updatedAt: undefined,
  drain: undefined,
};

const QUEUE: Queue = {
  name: 'research',
  description: '',
  weight: 2,
  allowedNamespaces: [],
  createdAt: undefined,
  updatedAt: undefined,
  quota: {
    nominal: { 'nvidia.com/gpu': '32' },
    cohort: 'ml',
    borrowingLimit: {},
    lendingLimit: {},
  },
  usage: {
    used: { 'nvidia.com/gpu': '8' },
    borrowed: {},
    available: { 'nvidia.com/gpu': '24' },
    budgetUsedHours: 0,
    budgetLeftHours: 0,
    budgetPeriodStart: undefined,
    fairShare: 0.5,
  },
  preemption: undefined,
  budget: undefined,
};

/** A hub that answers from fixtures, and fails the calls a test makes fail. */
class FixtureHub implements ReadOnlyHub {
  readonly address = '127.0.0.1:50051';
  listings: JobListing[] = [];
  failure: ServiceError | undefined;

  private async answer<T>(value: T): Promise<T> {
    if (this.failure) throw this.failure;
    return value;
  }
  listJobs(listing: JobListing) {
    this.listings.push(listing);
    return this.answer({ jobs: [JOB], nextPageToken: 'p2' });
  }
  getJob(id: string) {
    if (id !== JOB.id)
      return Promise.reject(serviceError(status.NOT_FOUND, `job "${id}" not found`));
    return this.answer(JOB);
  }
  explainJob() {
    return this.answer({
      job: JOB,
      summary: 'no cluster has 32 nvidia.com/gpu free',
      clusters: [
        {
          cluster: 'gpu-east',
          fits: false,
          reasonCode: 'InsufficientCapacity',
          message: 'needs 32 nvidia.com/gpu, 6 free',
        },
      ],
      evaluatedAt: new Date('2026-01-02T03:04:06Z'),
    });
  }
  listClusters() {
    return this.answer([CLUSTER]);
  }
  getCluster() {
    return this.answer(CLUSTER);
  }
  listQueues() {
    return this.answer([QUEUE]);
  }
  getQueue() {
    return this.answer(QUEUE);
  }
  listCohorts() {
    return this.answer([]);
  }
  close() {}
}

let hub: FixtureHub;
let client: Client;

beforeEach(async () => {
  hub = new FixtureHub();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await musterMcpServer(hub).connect(serverSide);
  client = new Client({ name: 'spec', version: '0' });
  await client.connect(clientSide);
});

afterEach(() => client.close());

async function call(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

const text = (r: CallToolResult) =>
  r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

describe('the tools', () => {
  it('only read: no tool submits, cancels, creates, updates, deletes, drains or cordons', async () => {
    const { tools } = await client.listTools();
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
      expect(t.name).not.toMatch(/submit|cancel|create|update|delete|drain|cordon|fence|register/);
      expect(t.annotations).toMatchObject({ readOnlyHint: true });
    }
  });

  it('list_jobs passes the filters to the hub and answers text and JSON', async () => {
    const r = await call('list_jobs', {
      queue: 'research',
      states: ['queued', 'running'],
      limit: 5,
    });
    expect(hub.listings).toEqual([
      {
        queue: 'research',
        states: [JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING],
        pageSize: 5,
        pageToken: '',
      },
    ]);
    expect(r.isError).toBeFalsy();
    expect(text(r)).toContain(`${JOB.id}  train  queue research  queued (Submitted)`);
    expect(text(r)).toContain('page_token "p2"');
    expect(r.structuredContent).toMatchObject({
      jobs: [{ id: JOB.id, queue: 'research', state: 'queued', priority: 5 }],
      nextPageToken: 'p2',
    });
  });

  it('get_job shows what each member requests', async () => {
    const r = await call('get_job', { job_id: JOB.id });
    expect(text(r)).toContain('pod set workers × 4, each requesting nvidia.com/gpu=8');
    expect(r.structuredContent).toMatchObject({ job: { id: JOB.id, state: 'queued' } });
  });

  it('explain_job says per cluster why the gang waits', async () => {
    const r = await call('explain_job', { job_id: JOB.id });
    expect(text(r)).toContain('no cluster has 32 nvidia.com/gpu free');
    expect(text(r)).toContain(
      '- gpu-east: does not fit [InsufficientCapacity] needs 32 nvidia.com/gpu, 6 free',
    );
    expect(r.structuredContent).toMatchObject({
      clusters: [{ cluster: 'gpu-east', reasonCode: 'InsufficientCapacity' }],
    });
  });

  it('clusters show liveness, free GPUs and devices, but never how to reach the cluster', async () => {
    const list = await call('list_clusters');
    expect(text(list)).toContain('gpu-east  agent connected');
    expect(text(list)).toContain('GPUs: nvidia.com/gpu free 6 of 16');
    expect(text(list)).toContain('devices: gpu.example.com 6 of 16 free');
    const one = await call('get_cluster', { name: 'gpu-east' });
    expect(text(one)).toContain(
      'topology levels: topology.kubernetes.io/zone > kubernetes.io/hostname',
    );
    for (const r of [list, one]) {
      expect(JSON.stringify(r)).not.toMatch(/10\.1\.2\.3|accessProviders|Q0EtU0VDUkVU/);
    }
    expect(one.structuredContent).toMatchObject({ cluster: { agentState: 'connected' } });
  });

  it('queues show quota, usage and cohort', async () => {
    const r = await call('list_queues');
    expect(text(r)).toContain('research  weight 2  cohort ml  fair share 0.50');
    expect(text(r)).toContain(
      'quota: nvidia.com/gpu=32; used: nvidia.com/gpu=8; available: nvidia.com/gpu=24',
    );
    expect((await call('list_cohorts')).structuredContent).toEqual({ cohorts: [] });
  });
});

describe('failures', () => {
  it("NOT_FOUND is a tool error with the hub's message", async () => {
    const r = await call('get_job', { job_id: 'nope' });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('NOT_FOUND: job "nope" not found');
    expect(r.structuredContent).toEqual({
      error: { code: 'NOT_FOUND', message: 'NOT_FOUND: job "nope" not found' },
    });
  });

  it("PERMISSION_DENIED is a tool error with the hub's message", async () => {
    hub.failure = serviceError(status.PERMISSION_DENIED, 'you may not list jobs of queue "vision"');
    const r = await call('list_jobs', { queue: 'vision' });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('PERMISSION_DENIED: you may not list jobs of queue "vision"');
  });

  it('an unreachable hub is named, and the server goes on answering', async () => {
    hub.failure = serviceError(
      status.UNAVAILABLE,
      'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:50051. Resolution note: ',
    );
    const r = await call('list_clusters');
    expect(text(r)).toBe(
      'UNAVAILABLE: cannot reach the hub at 127.0.0.1:50051: connect ECONNREFUSED 127.0.0.1:50051',
    );
    hub.failure = undefined;
    expect((await call('list_clusters')).isError).toBeFalsy();
  });

  it('arguments outside the schema are refused before the hub is asked', async () => {
    const r = await call('list_jobs', { states: ['sleeping'] });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/states/);
    expect(hub.listings).toEqual([]);
  });
});
