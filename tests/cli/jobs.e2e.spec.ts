// The job commands of the built CLI against a hub process on real Postgres and Redis.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import type { TestDatabase } from '../support/services';
import { CliSandbox, EXAMPLES, submittedIds, UUID } from './support/cli-process';

let env: HubEnvironment;
let db: TestDatabase;
let hub: HubProcess;
let cli: CliSandbox;
const files = mkdtempSync(join(tmpdir(), 'muster-cli-manifests-'));

function manifest(name: string, text: string): string {
  const path = join(files, name);
  writeFileSync(path, text);
  return path;
}

const JOB_YAML = `apiVersion: batch/v1
kind: Job
metadata:
  name: nightly-eval
  labels:
    kueue.x-k8s.io/queue-name: default
spec:
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: eval
          image: registry.example/eval:1
          resources:
            requests:
              cpu: "1"
`;

async function jobCount(): Promise<number> {
  const [row] = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM jobs');
  return Number(row!.n);
}

async function submitOne(file: string, ...flags: string[]): Promise<string> {
  const r = await cli.run(['submit', '-f', file, ...flags]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const ids = submittedIds(r.stdout);
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

beforeAll(async () => {
  env = await startHubEnvironment({ env: { MUSTER_MAX_MEMBERS_PER_GANG: '64' } });
  ({ db, hub } = env);
  cli = new CliSandbox(hub.grpcAddress);
  expect((await cli.run(['queues', 'create', 'default'])).code).toBe(0);
});

afterAll(() => env?.stop());

describe('submit', () => {
  it('submits a batch/v1 Job as one gang of parallelism members', async () => {
    const r = await cli.run(['submit', '-f', join(EXAMPLES, 'job.yaml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^job ${UUID.source} submitted: resnet-train to queue default, 4 members\\n$`),
    );
    const [id] = submittedIds(r.stdout);
    const job = JSON.parse((await cli.run(['get', id!, '-o', 'json'])).stdout);
    expect(job).toMatchObject({
      id,
      state: 'JOB_STATE_QUEUED',
      spec: { name: 'resnet-train', queue: 'default', labels: { team: 'vision' } },
    });
    expect(job.spec.podSets).toHaveLength(1);
    expect(job.spec.podSets[0]).toMatchObject({
      name: 'main',
      count: 4,
      topology: { mode: 'TOPOLOGY_MODE_PREFERRED', level: 'cloud.provider.com/topology-rack' },
    });
  });

  it('submits a JobSet as one pod set per replicated job', async () => {
    const id = await submitOne(join(EXAMPLES, 'jobset.yaml'));
    const job = JSON.parse((await cli.run(['get', id, '-o', 'json'])).stdout);
    expect(job.spec.podSets.map((p: { name: string; count: number }) => [p.name, p.count])).toEqual(
      [
        ['driver', 1],
        ['workers', 8],
      ],
    );
    expect(job.members.total).toBe(9);
  });

  it('submits a Gang with pod set groups, priority and on-cluster-lost', async () => {
    const id = await submitOne(join(EXAMPLES, 'gang.yaml'));
    const job = JSON.parse((await cli.run(['get', id, '-o', 'json'])).stdout);
    expect(job.spec).toMatchObject({
      name: 'llama-finetune',
      priority: 10,
      onClusterLost: 'ON_CLUSTER_LOST_REQUEUE',
      podSetGroups: [
        { podSets: ['launcher', 'workers'], level: 'cloud.provider.com/topology-block' },
      ],
    });
  });

  it('submits every document of a file, with flags overriding and the request id shown by --verbose', async () => {
    const path = manifest(
      'two.yaml',
      `${JOB_YAML}---\n${JOB_YAML.replace('nightly-eval', 'second-eval')}`,
    );
    const r = await cli.run([
      'submit',
      '-f',
      path,
      '--priority',
      '3',
      '--on-cluster-lost',
      'requeue',
      '--verbose',
    ]);
    expect(r.code).toBe(0);
    const ids = submittedIds(r.stdout);
    expect(ids).toHaveLength(2);
    const requestIds = [...r.stderr.matchAll(/\(document \d\): client request id (\S+)/g)].map(
      (m) => m[1],
    );
    expect(requestIds).toHaveLength(2);
    for (const [i, id] of ids.entries()) {
      const job = JSON.parse((await cli.run(['get', id, '-o', 'json'])).stdout);
      expect(job.clientRequestId).toBe(requestIds[i]);
      expect(job.spec).toMatchObject({ priority: 3, onClusterLost: 'ON_CLUSTER_LOST_REQUEUE' });
    }
  });

  it('reads standard input and prints the response with -o yaml', async () => {
    const r = await cli.run(['submit', '-f', '-', '--name', 'from-stdin', '-o', 'yaml'], {
      input: JOB_YAML,
    });
    expect(r.code).toBe(0);
    const response = parse(r.stdout);
    expect(response.created).toBe(true);
    expect(response.job).toMatchObject({ state: 'JOB_STATE_QUEUED', spec: { name: 'from-stdin' } });
    expect(response.job.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('refuses bad files naming file and path, submitting nothing, with exit code 2', async () => {
    const before = await jobCount();
    const four = manifest('four.yaml', JOB_YAML.replace('parallelism: 2', 'parallelism: four'));
    let r = await cli.run(['submit', '-f', four]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${four}: line 8: spec.parallelism: must be a positive integer (got "four")\n`,
    );
    expect(r.stdout).toBe('');

    const deployment = manifest(
      'train.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n',
    );
    r = await cli.run(['submit', '-f', deployment]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${deployment}: kind Deployment is not supported; use a batch/v1 Job, a JobSet (jobset.x-k8s.io/v1alpha2), a muster.dev/v1 Gang, a kubeflow.org/v1 PyTorchJob, TFJob, JAXJob, PaddleJob or XGBoostJob, a kubeflow.org/v2beta1 MPIJob, a ray.io/v1 RayCluster or RayJob, or a LeaderWorkerSet (leaderworkerset.x-k8s.io/v1), with resource.k8s.io/v1 ResourceClaimTemplates for their devices\n`,
    );

    // A mistake in the second document stops the whole file before anything is submitted.
    const mixed = manifest(
      'mixed.yaml',
      `${JOB_YAML}---\n${JOB_YAML.replace('image: registry.example/eval:1', 'image: ""')}`,
    );
    r = await cli.run(['submit', '-f', mixed]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${mixed} (document 2): line 32: spec.template.spec.containers[0].image: is required\n`,
    );

    const broken = manifest('broken.yaml', 'kind: Job\nspec: [\n');
    r = await cli.run(['submit', '-f', broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`^error: ${broken}: line \\d+, column \\d+: invalid YAML: `),
    );

    r = await cli.run(['submit', '-f', join(files, 'missing.yaml')]);
    expect([r.code, r.stderr]).toEqual([
      2,
      `error: ${join(files, 'missing.yaml')}: no such file\n`,
    ]);

    r = await cli.run(['submit', '-f', four, '--priority', 'high']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: option '--priority <n>' argument 'high' is invalid.");

    expect(await jobCount()).toBe(before);
  });

  it("shows the hub's own refusal, pointing at the field in the file", async () => {
    const before = await jobCount();
    let r = await cli.run([
      'submit',
      '-f',
      manifest('q.yaml', JOB_YAML),
      '--queue',
      'no-such-queue',
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `error: ${join(files, 'q.yaml')}: the hub refused the job: spec.queue: queue "no-such-queue" not found (from --queue); ` +
        'create the queue with `muster queues create no-such-queue` or pick another with --queue\n',
    );

    const ns = manifest(
      'ns.yaml',
      JOB_YAML.replace('  name: nightly-eval', '  name: nightly-eval\n  namespace: ml'),
    );
    r = await cli.run(['submit', '-f', ns]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${ns}: the hub refused the job: spec.namespace: queue "default" may only target namespaces default (from metadata.namespace, line 5)\n`,
    );

    const big = manifest('big.yaml', JOB_YAML.replace('parallelism: 2', 'parallelism: 65'));
    r = await cli.run(['submit', '-f', big]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'the hub refused the job: spec.pod_sets[0].count: the gang has more than 64 members',
    );
    expect(r.stderr).toContain('(from spec.parallelism, line 8)');
    expect(await jobCount()).toBe(before);
  });

  it('checks and prints without submitting on --dry-run', async () => {
    const before = await jobCount();
    const r = await cli.run(['submit', '-f', join(EXAMPLES, 'jobset.yaml'), '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('JobSet → job "llama-pretrain" in queue default, 9 members');
    expect(r.stderr).toBe('dry run: nothing was submitted\n');
    expect(await jobCount()).toBe(before);
  });
});

describe('following jobs', () => {
  let id: string;

  beforeAll(async () => {
    id = await submitOne(manifest('follow.yaml', JOB_YAML.replace('nightly-eval', 'follow-me')));
  });

  it('gets a job by id, unique prefix and name', async () => {
    for (const ref of [id, id.slice(0, 8), 'follow-me']) {
      const r = await cli.run(['get', ref]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`ID:               ${id}\n`);
      expect(r.stdout).toContain('State:            Queued (Submitted)\n');
      expect(r.stdout).toContain('Pod sets:\n  main × 2  (each cpu 1)\n');
    }
  });

  it('answers exit code 3 for an unknown job', async () => {
    let r = await cli.run(['get', '00000000-0000-4000-8000-000000000000']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('error: job "00000000-0000-4000-8000-000000000000" not found\n');
    r = await cli.run(['cancel', 'no-such-job']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('error: job "no-such-job" not found');
  });

  it('lists jobs as a table, filtered, limited and as JSON', async () => {
    let r = await cli.run(['list', '--queue', 'default', '--state', 'queued']);
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+QUEUE\s+STATE\s+RUNNING\s+CLUSTER\s+AGE$/);
    expect(rows.find((row) => row.startsWith(id))).toMatch(
      /follow-me\s+default\s+Queued\s+0\/2\s+-\s+\d+s$/,
    );

    r = await cli.run(['list', '--limit', '1']);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(r.stderr).toBe('(showing the newest 1 jobs; --limit N shows more, --limit 0 all)\n');

    // A job known to be cancelled, so the filtered list cannot pass by being empty.
    const cancelledId = await submitOne(
      manifest('cancel-me.yaml', JOB_YAML.replace('nightly-eval', 'cancel-me')),
    );
    expect((await cli.run(['cancel', cancelledId])).code).toBe(0);
    r = await cli.run(['list', '--state', 'cancelled,failed', '-o', 'json']);
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout) as { jobs: { id: string; state: string }[] };
    expect(listed.jobs.length).toBeGreaterThan(0);
    expect(listed.jobs.map((j) => j.id)).toContain(cancelledId);
    expect(listed.jobs.map((j) => j.id)).not.toContain(id);
    expect(
      listed.jobs.every((j) => j.state === 'JOB_STATE_CANCELLED' || j.state === 'JOB_STATE_FAILED'),
    ).toBe(true);

    r = await cli.run(['list', '--state', 'paused']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'error: --state: unknown state "paused"; use queued, reserved, dispatched, running, succeeded, failed, cancelled\n',
    ]);
  });

  it('explains per cluster as a table and as YAML, as the hub answers', async () => {
    expect((await cli.run(['clusters', 'register', 'explain-east'])).code).toBe(0);
    // The hub's wording is its own business; the CLI must show exactly what it answered. Until
    // a scheduling cycle stores an explanation the hub computes a fresh one per call, so wait
    // for two equal answers that already consider the new cluster.
    const api = hub.connect();
    let answer = await api.jobs.explainJob({ jobId: id });
    for (let tries = 0; tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 200));
      const again = await api.jobs.explainJob({ jobId: id });
      if (
        again.evaluatedAt!.getTime() === answer.evaluatedAt!.getTime() &&
        again.clusters.some((c) => c.cluster === 'explain-east')
      )
        break;
      answer = again;
    }
    api.close();
    let r = await cli.run(['explain', id]);
    expect(r.code).toBe(0);
    expect(
      r.stdout.startsWith(
        `Job ${id} (follow-me) is Queued: ${answer.summary}\nEvaluated at ${answer.evaluatedAt!.toISOString()}\n`,
      ),
    ).toBe(true);
    if (answer.clusters.length === 0) {
      expect(r.stdout.endsWith('No cluster was considered.\n')).toBe(true);
    } else {
      expect(r.stdout).toMatch(/\nCLUSTER\s+FITS\s+REASON\s+MESSAGE\n/);
      for (const c of answer.clusters)
        expect(r.stdout).toMatch(
          new RegExp(`\n${c.cluster}\\s+${c.fits ? 'yes' : 'no'}\\s+${c.reasonCode}\\s`),
        );
    }
    r = await cli.run(['explain', 'follow-me', '-o', 'yaml']);
    const explained = parse(r.stdout);
    expect(explained.summary).toBe(answer.summary);
    expect(explained.evaluatedAt).toBe(answer.evaluatedAt!.toISOString());
    expect(explained.job).toMatchObject({ id, state: 'JOB_STATE_QUEUED' });
  });

  it('watches piped, one line per event, until the job is cancelled; exit code 11', async () => {
    const watch = cli.start(['watch', id]);
    await watch.waitForOutput(/Queued\s+0\/2 members running {2}Submitted/);
    const cancel = await cli.run(['cancel', id, '--reason', 'changed my mind']);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toBe(`job ${id} (follow-me) is Cancelled\n`);
    const r = await watch.exited;
    expect(r.code).toBe(11);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\S+Z {2}Queued {4}0\/2 members running {2}Submitted: /,
    );
    expect(lines[1]).toMatch(
      /^\d{4}-\d\d-\d\dT\S+Z {2}Cancelled 0\/2 members running {2}Cancelled: changed my mind$/,
    );
    expect(r.stdout).not.toContain('\r');
  });

  it('watching a job that already ended prints its state and exits with its outcome', async () => {
    const r = await cli.run(['watch', id, '-o', 'json']);
    expect(r.code).toBe(11);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[events.length - 1]).toMatchObject({
      jobId: id,
      state: 'JOB_STATE_CANCELLED',
      message: 'changed my mind',
    });
  });

  it('cancelling again changes nothing; get -o yaml shows the final state', async () => {
    expect((await cli.run(['cancel', id])).code).toBe(0);
    const job = parse((await cli.run(['get', id, '-o', 'yaml'])).stdout);
    expect(job).toMatchObject({
      id,
      state: 'JOB_STATE_CANCELLED',
      reason: 'Cancelled',
      message: 'changed my mind',
    });
  });

  it('submit --wait follows the job and returns its outcome', async () => {
    const waiting = cli.start([
      'submit',
      '-f',
      manifest('wait.yaml', JOB_YAML.replace('nightly-eval', 'wait-for-me')),
      '--wait',
    ]);
    await waiting.waitForOutput(/Submitted/);
    const [waitedId] = submittedIds(waiting.output().stdout);
    expect((await cli.run(['cancel', waitedId!])).code).toBe(0);
    const r = await waiting.exited;
    expect(r.code).toBe(11);
    expect(r.stdout).toMatch(
      /Cancelled 0\/2 members running {2}Cancelled: cancelled by request\n$/,
    );
  });
});
