// Utilisation against a scripted scenario whose device-hours are known: a real hub on Postgres
// and Redis, a real agent on a testbed worker of 2 nodes × 8 GPUs, and two gangs (4 GPUs for
// 10 s, 8 GPUs for 20 s). What GetUtilisation reports must be within 2% of the truth: the GPUs
// each gang held times its reservation's life (its Reserved to its Succeeded event, as Postgres
// stamped them), and 16 GPUs times the wall time since the cluster first reported.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  JobState,
  UtilisationBucket,
  UtilisationGroupBy,
  type HubClients,
  type JobSpec,
} from '@muster/api';
import { startTestbed, type Testbed } from '../../infra/testbed/src';
import type { AgentProcess } from '../support/agent-process';
import { startWorkers, stopFleet } from '../support/clusters';
import { eventually } from '../support/eventually';
import {
  grpcError,
  jobSpec,
  podSet,
  podTemplate,
  status,
  succeedsAfter,
} from '../support/fixtures';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { freePort, testLogDir } from '../support/hub-process';

jest.setTimeout(10 * 60_000);

const WORKER = 'util-gpu';
const QUEUE = 'finops';
const GPU = 'nvidia.com/gpu';
const NODES = 2;
const GPUS_PER_NODE = 8;
const TOPOLOGY = {
  clusters: [
    {
      name: WORKER,
      role: 'worker' as const,
      nodePools: [
        {
          name: 'gpu',
          count: NODES,
          resources: { cpu: 32, memory: '128Gi', pods: 110, [GPU]: GPUS_PER_NODE },
        },
      ],
    },
  ],
};
/** The scenario: name, members, GPUs per member, how long each member runs. */
const GANGS = [
  { name: 'small', members: 1, gpus: 4, runs: '10s' },
  { name: 'large', members: 2, gpus: 4, runs: '20s' },
] as const;

const logs = testLogDir('e2e-utilisation');
let tb: Testbed;
let env: HubEnvironment;
let api: HubClients;
const agents: AgentProcess[] = [];
/** When the cluster's first capacity report was taken (its capacity's observedAt). */
let firstReport: Date;

function gang(g: (typeof GANGS)[number]): JobSpec {
  const gpus = { [GPU]: String(g.gpus) };
  return jobSpec(QUEUE, {
    name: g.name,
    podSets: [
      {
        ...podSet('workers', g.members),
        // Kubernetes wants a limit on an extended resource, equal to the request.
        podTemplateJson: podTemplate(
          { cpu: '1', memory: '1Gi', ...gpus },
          {},
          succeedsAfter(g.runs),
        ).replace('"requests":', `"limits":${JSON.stringify(gpus)},"requests":`),
      },
    ],
  });
}

beforeAll(async () => {
  tb = await startTestbed(TOPOLOGY, { log: () => undefined });
  env = await startHubEnvironment({
    grpcPort: await freePort(),
    logFile: join(logs, 'hub.log'),
    env: { MUSTER_CYCLE_PERIOD_MS: '500', MUSTER_USAGE_RETENTION_DAYS: '32' },
    queues: [QUEUE],
  });
  api = env.api;
  await startWorkers(api, {
    hub: env.hub.grpcAddress,
    workers: [WORKER],
    kubeconfigOf: (name) => tb.cluster(name).kubeconfigPath,
    logs,
    agents,
    wait: false,
  });
  // The first report's time, caught by polling faster than the agent reports.
  firstReport = await eventually(
    `${WORKER} reporting its capacity`,
    async () => {
      const c = (await api.inventory.getCluster({ name: WORKER })).cluster;
      return c?.capacity?.observedAt && (c.capacity.nodeCount ?? 0) > 0
        ? c.capacity.observedAt
        : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 25 },
  );
}, 15 * 60_000);

afterAll(async () => {
  const ends = await stopFleet(agents, env, tb);
  if (env) expect(ends).toEqual(agents.map(() => 0));
});

describe('GPU utilisation', () => {
  it('reports allocated and capacity device-hours within 2% of the scenario’s', async () => {
    const ids = await Promise.all(
      GANGS.map(
        async (g) =>
          (await api.jobs.submitJob({ clientRequestId: randomUUID(), spec: gang(g) })).job!.id,
      ),
    );
    for (const id of ids)
      await eventually(
        `job ${id} Succeeded`,
        async () =>
          (await api.jobs.getJob({ jobId: id })).job!.state === JobState.JOB_STATE_SUCCEEDED,
        { timeoutMs: 180_000, intervalMs: 200 },
      );

    // The truth: each gang's GPUs times the life of its reservation, from its events.
    const events = (await env.db.query(
      `SELECT job_id, state, created_at FROM job_events WHERE job_id = ANY($1) ORDER BY seq`,
      [ids],
    )) as { job_id: string; state: string; created_at: Date }[];
    // A rejected placement would be a reservation of its own: every Reserved until the event
    // that ends it counts.
    let trueAllocatedSeconds = 0;
    for (const [i, id] of ids.entries()) {
      let reserved: Date | undefined;
      for (const e of events.filter((x) => x.job_id === id)) {
        if (e.state === 'Reserved') reserved = e.created_at;
        else if (reserved && ['Queued', 'Succeeded', 'Failed', 'Cancelled'].includes(e.state)) {
          const held = (e.created_at.getTime() - reserved.getTime()) / 1000;
          trueAllocatedSeconds += GANGS[i]!.members * GANGS[i]!.gpus * held;
          reserved = undefined;
        }
      }
    }

    const since = new Date(Date.now() - 3_600_000);
    const byCluster = await api.inventory.getUtilisation({
      since,
      resource: GPU,
      groupBy: UtilisationGroupBy.UTILISATION_GROUP_BY_CLUSTER,
      bucket: UtilisationBucket.UTILISATION_BUCKET_HOUR,
    });
    const trueCapacitySeconds =
      NODES * GPUS_PER_NODE * ((byCluster.until!.getTime() - firstReport.getTime()) / 1000);
    const cluster = byCluster.groups.find((g) => g.name === WORKER)!;
    const allocatedSeconds = cluster.total!.allocatedHours * 3600;
    const capacitySeconds = cluster.total!.capacityHours! * 3600;
    const figures = {
      trueAllocatedSeconds,
      allocatedSeconds,
      trueCapacitySeconds,
      capacitySeconds,
      ratio: cluster.total!.ratio,
    };
    process.stdout.write(`utilisation scenario: ${JSON.stringify(figures)}\n`);
    expect(Math.abs(allocatedSeconds - trueAllocatedSeconds) / trueAllocatedSeconds).toBeLessThan(
      0.02,
    );
    expect(Math.abs(capacitySeconds - trueCapacitySeconds) / trueCapacitySeconds).toBeLessThan(
      0.02,
    );
    expect(cluster.total!.ratio).toBeCloseTo(allocatedSeconds / capacitySeconds, 6);
    expect(byCluster.total!.total!.allocatedHours).toBeCloseTo(cluster.total!.allocatedHours, 9);

    // By queue: the same device-hours, all of them the queue's.
    const byQueue = await api.inventory.getUtilisation({
      since,
      groupBy: UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE,
      bucket: UtilisationBucket.UTILISATION_BUCKET_DAY,
    });
    expect(byQueue.groups.map((g) => g.name)).toEqual([QUEUE]);
    const queueSeconds = byQueue.groups[0]!.total!.allocatedHours * 3600;
    expect(Math.abs(queueSeconds - trueAllocatedSeconds) / trueAllocatedSeconds).toBeLessThan(0.02);
    expect(byQueue.groups[0]!.total!.capacityHours).toBeUndefined();
  });

  it('refuses a range ending before it begins, or beginning before the retention, naming the field', async () => {
    const now = Date.now();
    const backwards = await grpcError(
      api.inventory.getUtilisation({
        since: new Date(now - 60_000),
        until: new Date(now - 120_000),
        groupBy: 0,
        bucket: 0,
      }),
    );
    expect(backwards.code).toBe(status.INVALID_ARGUMENT);
    expect(backwards.details).toMatch(/^until: /);
    const old = await grpcError(
      api.inventory.getUtilisation({
        since: new Date(now - 33 * 86_400_000),
        groupBy: 0,
        bucket: 0,
      }),
    );
    expect(old.code).toBe(status.INVALID_ARGUMENT);
    expect(old.details).toMatch(/^since: .*32 days/);
    const unknown = await grpcError(
      api.inventory.getUtilisation({
        since: new Date(now - 60_000),
        groupBy: 9 as UtilisationGroupBy,
        bucket: 0,
      }),
    );
    expect(unknown.code).toBe(status.INVALID_ARGUMENT);
    expect(unknown.details).toMatch(/^group_by: /);
  });
});
