// DRA device claims at the hub: a real hub process, real Postgres and Redis, scripted agents that
// report devices. Gangs go only where their devices are, are explained in device terms where they
// fit nowhere, and a device placement chose is never booked twice before the gang runs.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import {
  JobState,
  MemberPhase,
  type Device,
  type HubClients,
  type JobSpec,
  type ResourceClaimTemplate,
} from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import { grpcError, jobSpec, podTemplate } from '../support/fixtures';
import {
  connectFakeCluster,
  eventually,
  type FakeAgent,
  type FakeCluster,
  type FakeNode,
} from '../support/fake-agent';

const DRIVER = 'gpu.example.com';
const CLASS = { name: DRIVER, selectors: [`device.driver == "${DRIVER}"`] };
const MEM80 = `device.capacity["${DRIVER}"].memory.compareTo(quantity("80Gi")) >= 0`;

let env: HubEnvironment;
let hub: HubProcess;
let api: HubClients;
const agents = new Map<string, FakeAgent>();
const clusters: FakeCluster[] = [];
const nodesOf = new Map<string, FakeNode[]>();

function gpus(node: string, model: string, memory: string, island: string): Device[] {
  return Array.from({ length: 8 }, (_, i) => ({
    driver: DRIVER,
    pool: node,
    name: `gpu-${i}`,
    attributes: {
      [`${DRIVER}/model`]: { value: { $case: 'stringValue', stringValue: model } },
      [`${DRIVER}/index`]: { value: { $case: 'intValue', intValue: i } },
      [`${DRIVER}/interconnect`]: { value: { $case: 'stringValue', stringValue: island } },
    },
    capacity: { [`${DRIVER}/memory`]: memory },
    allocated: false,
    allocatedGangId: '',
    allocatedFencingToken: 0,
    consumesCounters: [],
  }));
}

function fleetNodes(cluster: string, count: number, model: string, memory: string): FakeNode[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${cluster}-n${i}`,
    allocatable: { cpu: '64', memory: '512Gi' },
    devices: gpus(`${cluster}-n${i}`, model, memory, `${cluster}-isl${i >> 1}`),
  }));
}

function template(
  name: string,
  count: number,
  selectors: string[],
  matchAttribute?: string,
): ResourceClaimTemplate {
  return {
    name,
    specJson: JSON.stringify({
      devices: {
        requests: [
          {
            name: 'gpu',
            exactly: {
              deviceClassName: DRIVER,
              count,
              selectors: selectors.map((expression) => ({ cel: { expression } })),
            },
          },
        ],
        ...(matchAttribute ? { constraints: [{ matchAttribute }] } : {}),
      },
    }),
  };
}

/** A job of `members` pods, each claiming from `tpl` (and naming it from its container). */
function deviceJob(name: string, members: number, tpl: ResourceClaimTemplate): JobSpec {
  return jobSpec('q', {
    name,
    podSets: [
      {
        name: 'workers',
        count: members,
        topology: undefined,
        podTemplateJson: JSON.stringify({
          spec: {
            resourceClaims: [{ name: 'gpus', resourceClaimTemplateName: tpl.name }],
            containers: [
              {
                name: 'main',
                image: 'registry.example/train:1',
                resources: { requests: { cpu: '1' }, claims: [{ name: 'gpus' }] },
              },
            ],
          },
        }),
      },
    ],
    resourceClaimTemplates: [tpl],
  });
}

async function submit(spec: JobSpec): Promise<string> {
  return (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec })).job!.id;
}

function dispatchesOf(jobId: string): Array<{ cluster: string; gangId: string; nodes: string[] }> {
  return [...agents].flatMap(([cluster, agent]) =>
    agent
      .dispatches()
      .filter((d) => d.gangId === jobId)
      .map((d) => ({
        cluster,
        gangId: d.gangId,
        nodes: d.podSets.flatMap((ps) => ps.members.map((m) => m.nodeName)),
      })),
  );
}

/** An explanation per cluster from a cycle that evaluated the gang. */
function evaluated(clusters: readonly { reasonCode: string }[]): boolean {
  return clusters.length === 2 && clusters.every((c) => c.reasonCode !== 'AwaitingCycle');
}

async function jobCount(): Promise<number> {
  return (await api.jobs.listJobs({ queue: 'q', states: [], pageSize: 1000, pageToken: '' })).jobs
    .length;
}

beforeAll(async () => {
  env = await startHubEnvironment({ env: { MUSTER_CYCLE_PERIOD_MS: '300' }, queues: ['q'] });
  ({ hub, api } = env);
  for (const [cluster, count, model, memory] of [
    ['a100s', 2, 'A100', '40Gi'],
    ['h100s', 4, 'H100', '80Gi'],
  ] as const) {
    const nodes = fleetNodes(cluster, count, model, memory);
    nodesOf.set(cluster, nodes);
    const c = await connectFakeCluster(api, hub.grpcAddress, cluster, nodes, 200, [], [CLASS]);
    clusters.push(c);
    agents.set(cluster, c.agent);
  }
  // The inventory shows the devices per class.
  await eventually('devices in the inventory', async () => {
    const c = (await api.inventory.getCluster({ name: 'h100s' })).cluster!;
    const d = c.capacity?.devices.find((x) => x.deviceClass === DRIVER);
    return d?.total === 32 && d.free === 32 ? true : undefined;
  });
});

afterAll(async () => {
  clusters.forEach((c) => c.close());
  await env?.stop();
});

describe('gangs with DRA claims', () => {
  it('goes to the only cluster whose nodes have 8 devices with 80Gi on one interconnect, with its templates', async () => {
    const tpl = template('eight-big', 8, [MEM80], `${DRIVER}/interconnect`);
    const id = await submit(deviceJob('big', 4, tpl));
    const [d] = await eventually('dispatched', () =>
      dispatchesOf(id).length > 0 ? dispatchesOf(id) : undefined,
    );
    expect(d!.cluster).toBe('h100s');
    expect(new Set(d!.nodes).size).toBe(4);
    const sent = agents
      .get('h100s')!
      .dispatches()
      .find((x) => x.gangId === id)!;
    expect(
      sent.resourceClaimTemplates.map((t) => ({ name: t.name, spec: JSON.parse(t.specJson) })),
    ).toEqual([{ name: tpl.name, spec: JSON.parse(tpl.specJson) }]);

    // The cluster's 32 devices are held by the reservation: a second such gang waits, saying
    // why in device terms, however many cycles pass while the first is not running yet.
    const second = await submit(deviceJob('big-2', 4, tpl));
    const why = await eventually('second explained (or dispatched)', async () => {
      const e = await api.jobs.explainJob({ jobId: second });
      return evaluated(e.clusters) || dispatchesOf(second).length > 0 ? e : undefined;
    });
    expect(dispatchesOf(second)).toEqual([]);
    expect(why.job!.state).toBe(JobState.JOB_STATE_QUEUED);
    const byCluster = Object.fromEntries(why.clusters.map((c) => [c.cluster, c]));
    expect(byCluster['h100s']!.reasonCode).toBe('NoDeviceFits');
    expect(byCluster['h100s']!.message).toMatch(/best node has 0/);
    expect(byCluster['a100s']!.message).toMatch(/no node has 8 × gpu\.example\.com where .*80Gi/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(dispatchesOf(second)).toHaveLength(0);

    // The first runs: the worker's report now shows its devices allocated, held by the gang;
    // the report counts them from here on.
    const agent = agents.get('h100s')!;
    agent.answer(sent, true);
    const allocated = nodesOf.get('h100s')!.map((n) => ({
      ...n,
      devices: n.devices!.map((x) =>
        d!.nodes.includes(n.name)
          ? { ...x, allocated: true, allocatedGangId: id, allocatedFencingToken: sent.fencingToken }
          : x,
      ),
    }));
    agent.snapshot(allocated, [{ gangId: id, fencingToken: sent.fencingToken }]);
    agent.members(sent, MemberPhase.MEMBER_PHASE_RUNNING);
    await eventually('first running', async () =>
      (await api.jobs.getJob({ jobId: id })).job!.state === JobState.JOB_STATE_RUNNING
        ? true
        : undefined,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(dispatchesOf(second)).toHaveLength(0);

    // It ends and the devices are free again: the second goes.
    agent.members(sent, MemberPhase.MEMBER_PHASE_SUCCEEDED);
    agent.snapshot(nodesOf.get('h100s')!, []);
    const [d2] = await eventually('second dispatched', () =>
      dispatchesOf(second).length > 0 ? dispatchesOf(second) : undefined,
    );
    expect(d2!.cluster).toBe('h100s');
  });

  it('keeps a gang whose devices exist nowhere Queued, naming class and selector', async () => {
    const b200 = `device.attributes["${DRIVER}"].model == "B200"`;
    const id = await submit(deviceJob('nowhere', 1, template('b200', 1, [b200])));
    const e = await eventually('explained', async () => {
      const x = await api.jobs.explainJob({ jobId: id });
      return evaluated(x.clusters) ? x : undefined;
    });
    expect(e.job!.state).toBe(JobState.JOB_STATE_QUEUED);
    for (const c of e.clusters) {
      expect(c.reasonCode).toBe('NoDeviceFits');
      expect(c.message).toContain(`1 × gpu.example.com where ${b200}`);
    }
    expect(dispatchesOf(id)).toHaveLength(0);
  });

  it('refuses bad claims naming the field and stores nothing', async () => {
    const before = await jobCount();
    const good = template('ok', 1, []);
    const cases: Array<[JobSpec, string, RegExp]> = [
      [
        deviceJob('unknown-class', 1, {
          name: 'x',
          specJson: JSON.stringify({
            devices: {
              requests: [{ name: 'gpu', exactly: { deviceClassName: 'tpu.example.com' } }],
            },
          }),
        }),
        'spec.resource_claim_templates[0].spec_json.devices.requests[0].exactly.deviceClassName',
        /device class "tpu.example.com" is not known to any cluster \(known: gpu.example.com\)/,
      ],
      [
        deviceJob('bad-cel', 1, template('x', 1, ['device.driver =='])),
        'spec.resource_claim_templates[0].spec_json.devices.requests[0].exactly.selectors[0]',
        /not a valid CEL selector/,
      ],
      [
        deviceJob('bad-count', 1, template('x', 0, [])),
        'spec.resource_claim_templates[0].spec_json.devices.requests[0].exactly.count',
        /count must be between 1 and 128/,
      ],
      [
        { ...deviceJob('missing-template', 1, good), resourceClaimTemplates: [] },
        'spec.pod_sets[0].pod_template_json.spec.resourceClaims[0].resourceClaimTemplateName',
        /names template "ok", which the job does not carry/,
      ],
      [
        {
          ...deviceJob('unused-template', 1, good),
          resourceClaimTemplates: [good, template('spare', 1, [])],
        },
        'spec.resource_claim_templates[1].name',
        /template "spare" is not named by any pod template/,
      ],
      [
        jobSpec('q', {
          name: 'shared-claim',
          podSets: [
            {
              name: 'w',
              count: 1,
              topology: undefined,
              podTemplateJson: podTemplate(
                { cpu: '1' },
                {
                  resourceClaims: [{ name: 'gpus', resourceClaimName: 'made-by-hand' }],
                },
              ),
            },
          ],
        }),
        'spec.pod_sets[0].pod_template_json.spec.resourceClaims[0].resourceClaimName',
        /cannot follow the gang/,
      ],
      [
        { ...deviceJob('bad-domain', 2, good), matchDeviceAttribute: 'interconnect' },
        'spec.match_device_attribute',
        /must be a fully qualified device attribute name/,
      ],
      [
        {
          ...jobSpec('q', { name: 'domain-no-claims' }),
          matchDeviceAttribute: 'gpu.example.com/x',
        },
        'spec.match_device_attribute',
        /no pod set claims devices/,
      ],
    ];
    for (const [spec, field, message] of cases) {
      const e = await grpcError(api.jobs.submitJob({ clientRequestId: randomUUID(), spec }));
      expect([field, e.code]).toEqual([field, status.INVALID_ARGUMENT]);
      expect(e.metadata.get('muster-field')).toEqual([field]);
      expect(e.details).toMatch(message);
    }
    expect(await jobCount()).toBe(before);
  });
});
