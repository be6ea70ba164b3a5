import {
  AgentState,
  JobState,
  OnClusterLost,
  TopologyMode,
  type Cluster,
  type ExplainJobResponse,
  type Job,
  type Queue,
  BudgetPeriod,
} from '@muster/api';
import { podSetClaimLines } from './claim-views';
import { clusterStatus, renderClusterDetails, renderClusterTable } from './cluster-views';
import { renderExplanation } from './explain-view';
import { renderJobDetails, renderJobTable } from './job-views';
import { freeOfTotal, quantityValue, tableQuantity } from './quantity-format';
import { renderQueueDetails, renderQueueTable, resourceShortener } from './queue-views';
import { renderTable } from './table';
import { age } from './time-format';

const now = new Date('2025-01-01T12:00:00Z');

function cluster(overrides: Partial<Cluster> = {}): Cluster {
  return {
    name: 'gpu-east',
    displayName: 'GPU East',
    clusterManager: 'muster',
    clusterSet: 'training',
    conditions: [],
    kubernetesVersion: 'v1.31.2',
    properties: [],
    accessProviders: [],
    topologyLevels: [
      'topology.kubernetes.io/zone',
      'cloud.provider.com/topology-rack',
      'kubernetes.io/hostname',
    ],
    capacity: undefined,
    agentState: AgentState.AGENT_STATE_CONNECTED,
    agentVersion: '0.3.1',
    lastHeartbeatTime: undefined,
    cordoned: false,
    readOnly: false,
    labels: {},
    createdAt: new Date('2025-01-01T11:00:00Z'),
    updatedAt: undefined,
    ...overrides,
  };
}

describe('quantities', () => {
  it('parses Kubernetes suffixes for display', () => {
    expect(quantityValue('63500m')).toBe(63.5);
    expect(quantityValue('2Ki')).toBe(2048);
    expect(quantityValue('1e3')).toBe(1000);
    expect(quantityValue('lots')).toBeUndefined();
    expect(freeOfTotal('63500m', '64')).toBe('63.5/64');
    expect(freeOfTotal('69585m', '96')).toBe('69.59/96');
    expect(freeOfTotal('0', '1536Mi')).toBe('0/1610612736');
    expect(freeOfTotal(undefined, undefined)).toBe('-');
    expect(freeOfTotal(undefined, '8')).toBe('-/8');
  });

  it('reads n and u like Kubernetes, rounding a sub-milli fraction up', () => {
    expect(quantityValue('250000u')).toBe(0.25);
    expect(quantityValue('250000000n')).toBe(0.25);
    expect(quantityValue('500u')).toBe(0.001);
    expect(quantityValue('1500000n')).toBe(0.002);
    expect(freeOfTotal('250000u', '1')).toBe('0.25/1');
    expect(freeOfTotal('1n', '1')).toBe('0/1');
  });

  it('shows what is not a quantity as unknown', () => {
    // A negative figure is no capacity (the hub reports free capacity clamped at zero).
    for (const bad of [
      '',
      ' ',
      'lots',
      '1.5.2',
      '12GB',
      '1e',
      'Gi',
      '-1',
      '1e2000',
      '9'.repeat(80),
    ])
      expect(quantityValue(bad)).toBeUndefined();
    expect(quantityValue(' 8 ')).toBe(8);
    expect(freeOfTotal('bad', 'worse')).toBe('-');
    expect(freeOfTotal('bad', '8')).toBe('-/8');
  });
});

describe('tables', () => {
  it('pads columns with two spaces and trims the end', () => {
    expect(
      renderTable(
        ['A', 'LONGER'],
        [
          ['xyz', '1'],
          ['', '2'],
        ],
      ),
    ).toBe('A    LONGER\nxyz  1\n     2\n');
  });

  it('ages like kubectl', () => {
    expect(age(new Date(now.getTime() - 45_000), now)).toBe('45s');
    expect(age(new Date(now.getTime() - 30 * 60_000), now)).toBe('30m');
    expect(age(new Date(now.getTime() - 5 * 3_600_000), now)).toBe('5h');
    expect(age(new Date(now.getTime() - 3 * 86_400_000), now)).toBe('3d');
    expect(age(undefined, now)).toBe('-');
  });
});

describe('clusters', () => {
  it('shows readiness, agent, nodes, free/total CPU and GPU, and short topology levels', () => {
    const withCapacity = cluster({
      capacity: {
        nodeCount: 4,
        readyNodeCount: 3,
        allocatable: { quantities: { cpu: '256', 'nvidia.com/gpu': '32', memory: '2Ti' } },
        free: { quantities: { cpu: '63500m', 'nvidia.com/gpu': '12' } },
        observedAt: now,
        devices: [],
      },
    });
    const fresh = cluster({
      name: 'cpu-west',
      agentState: AgentState.AGENT_STATE_NEVER_CONNECTED,
      agentVersion: '',
      cordoned: true,
      topologyLevels: [],
    });
    expect(renderClusterTable([withCapacity, fresh])).toBe(
      [
        'NAME      STATUS                   AGENT  NODES  CPU       GPU    TOPOLOGY',
        'gpu-east  Connected                0.3.1  3/4    63.5/256  12/32  zone,topology-rack,hostname',
        'cpu-west  NeverConnected,Cordoned  -      -      -         -      -',
        '',
      ].join('\n'),
    );
  });

  it('names agent states readably', () => {
    expect(clusterStatus(cluster({ agentState: AgentState.AGENT_STATE_LOST }))).toBe('Lost');
    expect(
      clusterStatus(cluster({ agentState: AgentState.AGENT_STATE_UNSPECIFIED, cordoned: true })),
    ).toBe('Unknown,Cordoned');
  });

  it('describes one cluster with its full topology levels and access providers', () => {
    const text = renderClusterDetails(
      cluster({
        accessProviders: [
          {
            name: 'muster',
            cluster: {
              server: 'https://10.0.0.1:6443',
              certificateAuthorityData: Buffer.alloc(0),
              tlsServerName: '',
              proxyUrl: '',
              insecureSkipTlsVerify: false,
              extensions: [],
            },
          },
        ],
        labels: { region: 'east' },
      }),
      now,
    );
    expect(text).toContain('Status:          Connected\n');
    expect(text).toContain('Labels:          region=east\n');
    expect(text).toContain(
      'Topology levels:\n  topology.kubernetes.io/zone\n  cloud.provider.com/topology-rack\n  kubernetes.io/hostname\n',
    );
    expect(text).toContain('Access providers:\n  muster: https://10.0.0.1:6443\n');
    expect(text).toContain('Capacity:\n  - (no report from an agent yet)\n');
    expect(text).not.toContain('Devices:');
  });

  it('shows DRA devices per DeviceClass, free of total, and nothing when there are none', () => {
    const capacity = {
      nodeCount: 4,
      readyNodeCount: 4,
      allocatable: { quantities: { cpu: '256' } },
      free: { quantities: { cpu: '64' } },
      observedAt: now,
      devices: [
        { deviceClass: 'nic.example.com', total: 8, free: 8 },
        { deviceClass: 'gpu.example.com', total: 32, free: 12 },
      ],
    };
    expect(renderClusterDetails(cluster({ capacity }), now)).toContain(
      'Capacity:\n  cpu: 64 free of 256\n' +
        'Devices:\n  gpu.example.com  free 12 of 32\n  nic.example.com  free 8 of 8\n' +
        'Topology levels:\n',
    );
    expect(
      renderClusterDetails(cluster({ capacity: { ...capacity, devices: [] } }), now),
    ).not.toContain('Devices:');
  });
});

describe('DRA claims of a pod set', () => {
  const podSet = (resourceClaims: unknown[]) => ({
    name: 'workers',
    count: 4,
    podTemplateJson: JSON.stringify({ spec: { resourceClaims, containers: [] } }),
    topology: undefined,
  });
  const templates = [
    {
      name: 'one-a100',
      specJson: JSON.stringify({
        devices: {
          requests: [
            {
              name: 'gpu',
              exactly: {
                deviceClassName: 'gpu.example.com',
                count: 2,
                selectors: [
                  { cel: { expression: 'device.attributes["gpu.example.com"].model == "A100"' } },
                  {
                    cel: {
                      expression: 'device.capacity["gpu.example.com"].memory >= quantity("40Gi")',
                    },
                  },
                ],
              },
            },
            {
              name: 'nic',
              firstAvailable: [
                { name: 'fast', deviceClassName: 'nic.example.com', allocationMode: 'All' },
                { name: 'any', deviceClassName: 'nic.example.com' },
              ],
            },
          ],
          constraints: [
            { requests: ['gpu', 'nic'], matchAttribute: 'dra.example.com/pcieRoot' },
            { distinctAttribute: 'gpu.example.com/uuid' },
          ],
        },
      }),
    },
  ];

  it('names the claim, its template, and per request the class, count or mode, selectors and constraints', () => {
    expect(
      podSetClaimLines(
        podSet([{ name: 'gpus', resourceClaimTemplateName: 'one-a100' }]),
        templates,
      ),
    ).toEqual([
      'claim gpus: template one-a100, one claim per member',
      '  request gpu: 2 × gpu.example.com',
      '    where device.attributes["gpu.example.com"].model == "A100"',
      '    where device.capacity["gpu.example.com"].memory >= quantity("40Gi")',
      '  request nic: the first available of',
      '    fast: all matching nic.example.com (allocationMode All)',
      '    any: 1 × nic.example.com',
      '  constraint: gpu, nic share dra.example.com/pcieRoot',
      '  constraint: all requests each a different gpu.example.com/uuid',
    ]);
  });

  it('shows nothing for a pod set without claims, and says when a template is missing', () => {
    expect(podSetClaimLines(podSet([]), templates)).toEqual([]);
    expect(
      podSetClaimLines(podSet([{ name: 'x', resourceClaimTemplateName: 'gone' }]), templates),
    ).toEqual(['claim x: template gone (not carried by the job)']);
  });
});

describe('jobs', () => {
  const job: Job = {
    id: '0b0c4a8e-5f4e-4d2b-9a57-8c1f2e3d4a5b',
    spec: {
      name: 'llama-ft',
      queue: 'research',
      priority: 5,
      onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
      labels: { team: 'nlp' },
      namespace: 'ml',
      maxRestarts: 2,
      resourceClaimTemplates: [],
      matchDeviceAttribute: '',
      podSets: [
        {
          name: 'workers',
          count: 16,
          podTemplateJson: JSON.stringify({
            spec: {
              containers: [
                {
                  name: 'c',
                  image: 'i',
                  resources: { requests: { cpu: '2', 'nvidia.com/gpu': '1' } },
                },
              ],
            },
          }),
          topology: {
            mode: TopologyMode.TOPOLOGY_MODE_REQUIRED,
            level: 'cloud.provider.com/topology-rack',
          },
        },
      ],
      podSetGroups: [],
    },
    state: JobState.JOB_STATE_RUNNING,
    reason: 'Running',
    message: '',
    cluster: 'gpu-east',
    dispatchGeneration: 1,
    members: { total: 16, pending: 4, running: 12, succeeded: 0, failed: 0, bound: 16 },
    clientRequestId: '',
    restarts: 1,
    createdAt: new Date('2025-01-01T11:55:00Z'),
    updatedAt: new Date('2025-01-01T11:59:00Z'),
  };

  it('lists id, name, queue, state, running members, cluster and age', () => {
    expect(renderJobTable([job], now)).toBe(
      'ID                                    NAME      QUEUE     STATE    RUNNING  CLUSTER   AGE\n' +
        '0b0c4a8e-5f4e-4d2b-9a57-8c1f2e3d4a5b  llama-ft  research  Running  12/16    gpu-east  5m\n',
    );
  });

  it('describes one job with what each member asks for', () => {
    const text = renderJobDetails(job, now);
    expect(text).toContain('State:            Running (Running)\n');
    expect(text).toContain(
      'Members:          12/16 running, 16 bound, 4 pending, 0 succeeded, 0 failed\n',
    );
    expect(text).toContain('On cluster lost:  requeue\n');
    expect(text).toContain('Restarts:         1 of 2\n');
    expect(text).toContain(
      'Pod sets:\n  workers × 16  (each cpu 2, nvidia.com/gpu 1; required cloud.provider.com/topology-rack)\n',
    );
  });

  it('names the priority class after the priority, and only when the job has one', () => {
    expect(renderJobDetails(job, now)).not.toContain('Priority class:');
    expect(
      renderJobDetails({ ...job, spec: { ...job.spec!, priorityClass: 'high' } }, now),
    ).toContain('Priority:         5\nPriority class:   high\n');
  });

  it('lists under each pod set the DRA claims its members make', () => {
    const spec = job.spec!;
    const withClaims: Job = {
      ...job,
      spec: {
        ...spec,
        podSets: [
          {
            ...spec.podSets[0]!,
            podTemplateJson: JSON.stringify({
              spec: {
                resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: 'one-gpu' }],
                containers: [{ name: 'c', image: 'i', resources: { claims: [{ name: 'gpu' }] } }],
              },
            }),
            topology: undefined,
          },
        ],
        resourceClaimTemplates: [
          {
            name: 'one-gpu',
            specJson: JSON.stringify({
              devices: {
                requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.example.com' } }],
              },
            }),
          },
        ],
      },
    };
    expect(renderJobDetails(withClaims, now)).toContain(
      'Pod sets:\n  workers × 16  (each no requests)\n' +
        '    claim gpu: template one-gpu, one claim per member\n' +
        '      request gpu: 1 × gpu.example.com\n',
    );
  });

  it('says before the pod sets when every claimed device must share an attribute, and only then', () => {
    const text = renderJobDetails(
      { ...job, spec: { ...job.spec!, matchDeviceAttribute: 'gpu.example.com/interconnect' } },
      now,
    );
    expect(text).toContain(
      'Devices:          every claimed device shares gpu.example.com/interconnect (across members)\n' +
        'Pod sets:\n',
    );
    expect(renderJobDetails(job, now)).not.toContain('Devices:');
  });

  it('explains per cluster as a table', () => {
    const e: ExplainJobResponse = {
      job,
      summary: 'no registered cluster can take the gang now',
      clusters: [
        {
          cluster: 'gpu-east',
          fits: false,
          reasonCode: 'ClusterNotReady',
          message: 'no agent has connected yet',
        },
        { cluster: 'gpu-west', fits: true, reasonCode: 'AwaitingCycle', message: 'ready' },
      ],
      evaluatedAt: now,
    };
    expect(renderExplanation(e)).toBe(
      `Job ${job.id} (llama-ft) is Running: no registered cluster can take the gang now\n` +
        'Evaluated at 2025-01-01T12:00:00.000Z\n\n' +
        'CLUSTER   FITS  REASON           MESSAGE\n' +
        'gpu-east  no    ClusterNotReady  no agent has connected yet\n' +
        'gpu-west  yes   AwaitingCycle    ready\n',
    );
  });
});

describe('queues', () => {
  it('shows "default" when no namespace is listed, as the hub does', () => {
    const text = renderQueueTable(
      [
        {
          name: 'default',
          description: '',
          weight: 1,
          allowedNamespaces: [],
          createdAt: now,
          updatedAt: now,
        },
        {
          name: 'research',
          description: 'NLP',
          weight: 2,
          allowedNamespaces: ['default', 'ml'],
          createdAt: now,
          updatedAt: now,
        },
      ],
      now,
    );
    expect(text).toBe(
      'NAME      WEIGHT  NAMESPACES  COHORT  QUOTA  USED  BORROWED  FAIR SHARE  BUDGET  AGE  DESCRIPTION\n' +
        'default   1       default     -       -      -     -         -           -       0s   -\n' +
        'research  2       default,ml  -       -      -     -         -           -       0s   NLP\n',
    );
  });

  const nlp: Queue = {
    name: 'nlp',
    description: 'NLP team',
    weight: 2,
    allowedNamespaces: ['ml'],
    createdAt: new Date('2025-01-01T11:55:00Z'),
    updatedAt: new Date('2025-01-01T11:59:00Z'),
    quota: {
      nominal: { cpu: '512', 'nvidia.com/gpu': '16', memory: '2Ti' },
      cohort: 'research',
      borrowingLimit: { 'nvidia.com/gpu': '8' },
      lendingLimit: {},
    },
    budget: { resource: 'nvidia.com/gpu', hours: 5000, period: BudgetPeriod.BUDGET_PERIOD_MONTH },
    usage: {
      used: { cpu: '63500m', 'nvidia.com/gpu': '20', memory: '0' },
      borrowed: { cpu: '0', 'nvidia.com/gpu': '4', memory: '0' },
      available: { cpu: '448500m', 'nvidia.com/gpu': '4', memory: '2Ti' },
      budgetUsedHours: 4120.46,
      budgetLeftHours: 879.54,
      budgetPeriodStart: new Date('2025-01-01T00:00:00Z'),
      fairShare: 2 / 3,
    },
  };
  const vision: Queue = {
    name: 'vision',
    description: '',
    weight: 1,
    allowedNamespaces: [],
    createdAt: new Date('2025-01-01T11:00:00Z'),
    updatedAt: undefined,
    quota: {
      nominal: { 'nvidia.com/gpu': '8' },
      cohort: 'research',
      borrowingLimit: {},
      lendingLimit: { 'nvidia.com/gpu': '4' },
    },
    usage: {
      used: { 'nvidia.com/gpu': '0' },
      borrowed: { 'nvidia.com/gpu': '0' },
      available: { 'nvidia.com/gpu': '4' },
      budgetUsedHours: 0,
      budgetLeftHours: 0,
      fairShare: 0,
    },
  };
  const solo: Queue = {
    ...vision,
    name: 'solo',
    quota: { nominal: { cpu: '64' }, cohort: '', borrowingLimit: {}, lendingLimit: {} },
    budget: { resource: 'amd.com/gpu', hours: 100, period: BudgetPeriod.BUDGET_PERIOD_WEEK },
    usage: undefined,
  };
  const scratch: Queue = { ...vision, name: 'scratch', quota: undefined, usage: undefined };

  it('lists cohort, quota, used and borrowed: GPUs first, short names, zeros left out', () => {
    expect(renderQueueTable([nlp, vision, solo, scratch], now)).toBe(
      [
        'NAME     WEIGHT  NAMESPACES  COHORT    QUOTA                        USED              BORROWED  FAIR SHARE  BUDGET                    AGE  DESCRIPTION',
        'nlp      2       ml          research  gpu 16, cpu 512, memory 2Ti  gpu 20, cpu 63.5  gpu 4     66.7%       4120.5/5000 h/month       5m   NLP team',
        'vision   1       default     research  gpu 8                        -                 -         -           -                         60m  -',
        'solo     1       default     -         cpu 64                       -                 -         -           amd.com/gpu 0/100 h/week  60m  -',
        'scratch  1       default     -         -                            -                 -         -           -                         60m  -',
        '',
      ].join('\n'),
    );
  });

  it('shortens resources scoped to a cluster set and device-class counts, keeping the set', () => {
    const dra = 'gpu.nvidia.com.deviceclass.resource.k8s.io/devices';
    const names = ['nvidia.com/gpu', 'east:nvidia.com/gpu', 'west:cpu', dra, `east:${dra}`];
    expect(names.map(resourceShortener(names))).toEqual([
      'gpu',
      'east:gpu',
      'west:cpu',
      'gpu.nvidia.com devices',
      'east:gpu.nvidia.com devices',
    ]);
  });

  it('keeps full resource names whose last segments collide', () => {
    const short = resourceShortener([
      'nvidia.com/gpu',
      'amd.com/gpu',
      'cpu',
      'example.com/cpu',
      'x.io/fpga',
    ]);
    expect(
      ['nvidia.com/gpu', 'amd.com/gpu', 'cpu', 'example.com/cpu', 'x.io/fpga'].map(short),
    ).toEqual(['nvidia.com/gpu', 'amd.com/gpu', 'cpu', 'example.com/cpu', 'fpga']);
    const text = renderQueueTable(
      [
        {
          ...solo,
          quota: { ...solo.quota!, nominal: { 'nvidia.com/gpu': '8', 'amd.com/gpu': '4' } },
        },
      ],
      now,
    );
    expect(text.split('\n')[1]).toContain('  amd.com/gpu 4, nvidia.com/gpu 8  ');
  });

  it('shows quantities as the hub wrote them, milli-units as whole units', () => {
    expect(['64', '2Ti', '63500m', '250000u', '0', '0m', '1e3', 'lots'].map(tableQuantity)).toEqual(
      ['64', '2Ti', '63.5', '0.25', '0', '0', '1e3', 'lots'],
    );
  });

  it('describes one queue with its quota, limits and usage in full', () => {
    expect(renderQueueDetails(nlp, now)).toBe(
      [
        'Name:             nlp',
        'Description:      NLP team',
        'Weight:           2',
        'Namespaces:       ml',
        'Max priority:     - (not bounded)',
        'Quota:            nvidia.com/gpu 16, cpu 512, memory 2Ti',
        'Cohort:           research',
        'Borrowing limit:  nvidia.com/gpu 8',
        'Lending limit:    - (all its unused quota)',
        'Used:             nvidia.com/gpu 20, cpu 63500m, memory 0',
        'Borrowed:         nvidia.com/gpu 4, cpu 0, memory 0',
        'Available:        nvidia.com/gpu 4, cpu 448500m, memory 2Ti',
        "Fair share:       66.7% of the fleet (its weight's part among the queues with work)",
        'Budget:           5000 nvidia.com/gpu-hours per month',
        'Budget used:      4120.5 h',
        'Budget left:      879.5 h',
        'Period start:     2025-01-01T00:00:00.000Z',
        'Preemption:       - (never preempts)',
        'Created:          2025-01-01T11:55:00.000Z (5m ago)',
        'Updated:          2025-01-01T11:59:00.000Z (60s ago)',
        '',
      ].join('\n'),
    );
    expect(renderQueueDetails({ ...nlp, maxPriority: 1000 }, now)).toContain(
      'Namespaces:       ml\nMax priority:     1000\n',
    );
    expect(renderQueueDetails({ ...nlp, maxPriority: 0 }, now)).toContain('Max priority:     0\n');
    const lines = (q: Queue) =>
      renderQueueDetails(q, now)
        .split('\n')
        .filter((l) =>
          /^(Quota|Cohort|Borrowing limit|Lending limit|Used|Borrowed|Available|Budget|Budget used|Budget left|Period start|Updated):/.test(
            l,
          ),
        );
    expect(lines(vision)).toEqual([
      'Quota:            nvidia.com/gpu 8',
      'Cohort:           research',
      'Borrowing limit:  - (as much as the cohort lends)',
      'Lending limit:    nvidia.com/gpu 4',
      'Used:             nvidia.com/gpu 0',
      'Borrowed:         nvidia.com/gpu 0',
      'Available:        nvidia.com/gpu 4',
      'Budget:           - (no budget)',
      'Budget used:      -',
      'Budget left:      -',
      'Period start:     -',
      'Updated:          -',
    ]);
    expect(lines(solo)).toEqual([
      'Quota:            cpu 64',
      'Cohort:           - (neither lends nor borrows)',
      'Borrowing limit:  -',
      'Lending limit:    -',
      'Used:             -',
      'Borrowed:         -',
      'Available:        -',
      'Budget:           100 amd.com/gpu-hours per week',
      'Budget used:      -',
      'Budget left:      -',
      'Period start:     -',
      'Updated:          -',
    ]);
    expect(lines(scratch)).toEqual([
      'Quota:            - (not limited)',
      'Cohort:           -',
      'Borrowing limit:  -',
      'Lending limit:    -',
      'Used:             -',
      'Borrowed:         -',
      'Available:        -',
      'Budget:           - (no budget)',
      'Budget used:      -',
      'Budget left:      -',
      'Period start:     -',
      'Updated:          -',
    ]);
  });
});
