// Member states cannot be dropped: the agent keeps every state until the hub acknowledges the batch
// that carried it (MemberStatesAck, sent only after the commit), and sends unacknowledged states
// again on every new stream and after a timeout on the same one. Real hub process, real agent, a
// real kube-apiserver (testbed), Postgres and Redis; the faults are real too (a stopped and killed
// hub, a database that refuses the write).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JobState, type HubClients, type JobSpec } from '@muster/api';
import { startTestbed, type Testbed, type TestbedCluster } from '@muster/testbed';
import { AgentProcess } from '../support/agent-process';
import { registerWorker, untilReporting } from '../support/clusters';
import { eventually } from '../support/fake-agent';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { freePort, testLogDir, type HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import { workerTopology } from '../agent/support/fixtures';
import { jobSpec, podSet, succeedsAfter } from '../support/fixtures';
import { Kube } from '../agent/support/kube';

jest.setTimeout(10 * 60_000);

const SETUP_TIMEOUT = 45 * 60_000;
const CLUSTER = 'w1';
const NS = 'default';

const logs = testLogDir('hub-member-acks');
let tb: Testbed;
let cluster: TestbedCluster;
let kube: Kube;
let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
let api: HubClients;
let agent: AgentProcess;

/** A gang of `members` pods that succeed `succeedAfter` (a Go duration) after they run. */
function spec(name: string, members: number, succeedAfter: string): JobSpec {
  // namespace '': the agent's default, NS
  return jobSpec('q', {
    name,
    podSets: [podSet('w', members, { cpu: '100m' }, succeedsAfter(succeedAfter))],
  });
}

async function submit(name: string, members: number, succeedAfter: string): Promise<string> {
  const r = await api.jobs.submitJob({
    clientRequestId: randomUUID(),
    spec: spec(name, members, succeedAfter),
  });
  return r.job!.id;
}

async function stateOf(jobId: string): Promise<JobState> {
  return (await api.jobs.getJob({ jobId })).job!.state;
}

async function reaches(jobId: string, state: JobState, timeoutMs: number): Promise<void> {
  let seen = JobState.JOB_STATE_UNSPECIFIED;
  await eventually(
    `job ${jobId} in state ${JobState[state]}`,
    async () => {
      seen = await stateOf(jobId);
      return seen === state;
    },
    {
      timeoutMs,
      // Taken when time runs out, so that it shows what the agent and the hub did meanwhile.
      describe: () =>
        `last seen ${JobState[seen]}\nagent:\n${agent.tail(25)}\nhub:\n${hub.logs.slice(-25).join('\n')}`,
    },
  );
}

async function podPhases(jobId: string): Promise<string[]> {
  return (await kube.gangPods(NS, jobId)).map((p) => p.status?.phase ?? '').sort();
}

beforeAll(async () => {
  tb = await startTestbed(workerTopology(CLUSTER, 2), { log: () => undefined });
  cluster = tb.cluster(CLUSTER);
  kube = new Kube(cluster);
  env = await startHubEnvironment({
    grpcPort: await freePort(), // kept by startHub(): the agent reconnects to the same address
    logFile: join(logs, 'hub.log'),
    env: {
      MUSTER_HEARTBEAT_INTERVAL_MS: '500',
      MUSTER_CYCLE_PERIOD_MS: '300',
      MUSTER_MAX_REQUEUE_BACKOFF_S: '1',
      MUSTER_RECONCILE_INTERVAL_MS: '1000',
    },
    queues: ['q'],
  });
  ({ db, hub, api } = env);
  await registerWorker(api, CLUSTER);
  agent = AgentProcess.start({
    cluster: CLUSTER,
    hub: hub.grpcAddress,
    kubeconfig: cluster.kubeconfigPath,
    logFile: join(logs, 'agent.log'),
  });
  await untilReporting(api, CLUSTER, 90_000, agent.tail());
}, SETUP_TIMEOUT);

afterAll(async () => {
  await agent?.stop();
  try {
    await env?.stop();
  } finally {
    kube?.close();
    await tb?.stop();
  }
});

it('sends a batch again on the same stream when the hub could not commit it', async () => {
  const job = await submit('refused-once', 1, '3s');
  await reaches(job, JobState.JOB_STATE_RUNNING, 60_000);
  // From now on Postgres refuses every member write, as a failing database would.
  await db.query(`CREATE FUNCTION muster_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'test: member writes refused'; END $$`);
  await db.query(`CREATE TRIGGER muster_test_refuse BEFORE INSERT OR UPDATE ON job_members
    FOR EACH ROW EXECUTE FUNCTION muster_test_refuse()`);
  const failuresBefore = hub.logs.filter((l) => l.includes('test: member writes refused')).length;
  await eventually('the member Succeeded', async () =>
    (await podPhases(job)).join() === 'Succeeded' ? true : undefined,
  );
  await eventually(`the hub failed to apply the report\n${hub.logs.slice(-5).join('\n')}`, () =>
    hub.logs.filter((l) => l.includes('test: member writes refused')).length > failuresBefore
      ? true
      : undefined,
  );
  expect(await stateOf(job)).toBe(JobState.JOB_STATE_RUNNING);
  await db.query('DROP TRIGGER muster_test_refuse ON job_members');
  await db.query('DROP FUNCTION muster_test_refuse()');
  const t0 = Date.now();
  // The stream never broke, so only the agent's resend after the ack timeout can bring it.
  await reaches(job, JobState.JOB_STATE_SUCCEEDED, 30_000);
  console.log(`refused report applied ${Date.now() - t0} ms after the database recovered`);
});

it('a member that ends while the hub is stopped, then killed, still counts once the hub is back', async () => {
  const job = await submit('ends-unheard', 2, '6s');
  await eventually('both members Running', async () =>
    (await podPhases(job)).join() === 'Running,Running' ? true : undefined,
  );
  await reaches(job, JobState.JOB_STATE_RUNNING, 30_000);
  process.kill(hub.pid, 'SIGSTOP');
  try {
    // The members end while the hub is frozen: the agent sends their states into a stream that
    // looks up, to a hub that will never read them.
    await eventually(
      'both members Succeeded',
      async () => ((await podPhases(job)).join() === 'Succeeded,Succeeded' ? true : undefined),
      30_000,
    );
    // Then their pods go (a TTL controller, the pod garbage collector, a user): on its next stream
    // the agent can no longer read these states from the cluster.
    for (const p of await kube.gangPods(NS, job)) await kube.deletePod(NS, p.metadata.name);
    await eventually('the pods gone', async () =>
      (await podPhases(job)).length === 0 ? true : undefined,
    );
  } finally {
    await hub.kill(); // SIGKILL reaches a stopped process too
  }
  const t0 = Date.now();
  await env.startHub();
  ({ hub, api } = env);
  await reaches(job, JobState.JOB_STATE_SUCCEEDED, 30_000);
  console.log(`unheard Succeeded states applied ${Date.now() - t0} ms after the hub restarted`);
});
