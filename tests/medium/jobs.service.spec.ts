// JobsService's tenant rules against a real Postgres and Redis, without a hub process: what a
// caller may submit, see, page through, watch and cancel, and what a refusal gives away.
import { createLog } from '@muster/log';
import { ErrorCode, MusterError } from '../../apps/hub/src/common/errors';
import type { Principal } from '../../apps/hub/src/auth/principal';
import { HubMetrics } from '../../apps/hub/src/http/metrics';
import { InventoryRepository } from '../../apps/hub/src/inventory/inventory.repository';
import type { JobEvent, JobSpec, Submission } from '../../apps/hub/src/jobs/job.domain';
import { JobEventFeed } from '../../apps/hub/src/jobs/job-event-feed';
import { JobsRepository } from '../../apps/hub/src/jobs/jobs.repository';
import { JobsService, type GangCanceller } from '../../apps/hub/src/jobs/jobs.service';
import { createTestRedis, type TestRedis } from '../support/services';
import {
  gangOf,
  insertCluster,
  insertQueue,
  migratedDatabase,
  type MigratedDatabase,
} from './database';

let m: MigratedDatabase;
let redis: TestRedis;
let feed: JobEventFeed;
let service: JobsService;
const cancels: { jobId: string; cluster: string; token: number }[] = [];

const log = createLog({ level: 'error', destination: { write: () => undefined } });

function principal(name: string, role: Principal['role'], queues: string[] | null): Principal {
  return { id: `token:${name}`, name, role, queues: queues && new Set(queues), via: 'token' };
}
const admin = principal('root', 'admin', null);
const alice = principal('alice', 'submitter', ['research', 'vision']);
const bob = principal('bob', 'submitter', ['robotics']);
const viewer = principal('val', 'viewer', ['research']);

function spec(queue: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'train',
    queue,
    priority: 0,
    onClusterLost: 'wait',
    labels: {},
    namespace: 'default',
    gang: gangOf(2),
    ...overrides,
  };
}

function submission(
  queue: string,
  clientRequestId: string | null = null,
  s?: Partial<JobSpec>,
): Submission {
  return { spec: spec(queue, s), clientRequestId };
}

async function refusal(p: Promise<unknown>): Promise<MusterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MusterError)) throw new Error(`expected a MusterError, got ${String(err)}`);
  return err;
}

async function count(sql: string): Promise<number> {
  return (await m.db.query<{ n: number }>(sql))[0]!.n;
}

beforeAll(async () => {
  m = await migratedDatabase();
  redis = await createTestRedis();
  const jobs = new JobsRepository(m.dataSource);
  feed = new JobEventFeed(
    jobs,
    redis.client,
    { channel: `${redis.prefix}:job-events`, pollMs: 200 },
    log,
  );
  await feed.start();
  const canceller: GangCanceller = {
    cancelGang: async (jobId, cluster, token) => void cancels.push({ jobId, cluster, token }),
  };
  service = new JobsService(
    jobs,
    new InventoryRepository(m.dataSource),
    feed,
    { watchBufferEvents: 100 },
    new HubMetrics(),
    canceller,
    log,
  );
  for (const q of ['research', 'vision', 'robotics']) await insertQueue(m.db, q);
  await m.db.query(`UPDATE queues SET allowed_namespaces = '{team-a}' WHERE name = 'vision'`);
  await insertCluster(m.db, 'gpu-east');
});
afterAll(async () => {
  await feed.stop();
  await redis.cleanup();
  await m.close();
});

describe('JobsService.submit', () => {
  it('refuses another tenant’s queue the same way whether it exists or not, and stores nothing', async () => {
    const before = await count('SELECT count(*)::int AS n FROM jobs');
    const existing = await refusal(service.submit(submission('robotics'), alice));
    const missing = await refusal(service.submit(submission('nowhere'), alice));
    expect([existing.code, existing.field]).toEqual([ErrorCode.PermissionDenied, 'spec.queue']);
    expect(existing.message).toBe('spec.queue: you may not submit to queue "robotics"');
    expect([missing.code, missing.field]).toEqual([ErrorCode.PermissionDenied, 'spec.queue']);
    // A viewer bound to the queue may read it, never write to it.
    expect((await refusal(service.submit(submission('research'), viewer))).code).toBe(
      ErrorCode.PermissionDenied,
    );
    expect(await count('SELECT count(*)::int AS n FROM jobs')).toBe(before);
  });

  it('tells a caller allowed everywhere that a queue is missing, naming the field', async () => {
    const err = await refusal(service.submit(submission('nowhere'), admin));
    expect([err.code, err.field]).toEqual([ErrorCode.NotFound, 'spec.queue']);
  });

  it('keeps jobs to the priority their queue allows, naming the field, and stores nothing', async () => {
    await m.db.query(`UPDATE queues SET max_priority = 100 WHERE name = 'research'`);
    const before = await count('SELECT count(*)::int AS n FROM jobs');
    const err = await refusal(
      service.submit(
        submission('research', null, { priority: 101, priorityClass: 'urgent' }),
        alice,
      ),
    );
    expect([err.code, err.field, err.message]).toEqual([
      ErrorCode.InvalidArgument,
      'spec.priority',
      'spec.priority: queue "research" allows priority at most 100 (got 101, priority class "urgent")',
    ]);
    expect(await count('SELECT count(*)::int AS n FROM jobs')).toBe(before);
    const ok = await service.submit(submission('research', null, { priority: 100 }), alice);
    expect(ok.job.priority).toBe(100);
    await m.db.query(`UPDATE queues SET max_priority = NULL WHERE name = 'research'`);
  });

  it('keeps jobs to the namespaces their queue allows', async () => {
    const err = await refusal(service.submit(submission('vision'), alice));
    expect([err.code, err.field]).toEqual([ErrorCode.InvalidArgument, 'spec.namespace']);
    expect(err.message).toMatch(/may only target namespaces team-a$/);
    const ok = await service.submit(submission('vision', null, { namespace: 'team-a' }), alice);
    expect(ok.created).toBe(true);
  });

  it('answers a retry with the first job and stores one job and one event', async () => {
    const first = await service.submit(submission('research', 'retry-1'), alice);
    const again = await service.submit(submission('research', 'retry-1'), alice);
    expect(first.created).toBe(true);
    expect(again).toEqual({ job: expect.objectContaining({ id: first.job.id }), created: false });
    expect(
      await count(`SELECT count(*)::int AS n FROM jobs WHERE client_request_id = 'retry-1'`),
    ).toBe(1);
    expect(
      await count(`SELECT count(*)::int AS n FROM job_events WHERE job_id = '${first.job.id}'`),
    ).toBe(1);
  });

  it('refuses a reused request id with another spec, naming the first job', async () => {
    const first = await service.submit(submission('research', 'retry-2'), alice);
    const err = await refusal(
      service.submit(submission('research', 'retry-2', { priority: 5 }), alice),
    );
    expect([err.code, err.field]).toEqual([ErrorCode.AlreadyExists, 'client_request_id']);
    expect(err.message).toContain(first.job.id);
  });

  it('says another tenant holds a request id without naming or showing its job', async () => {
    const theirs = await service.submit(submission('robotics', 'shared-id'), bob);
    const err = await refusal(service.submit(submission('research', 'shared-id'), alice));
    expect([err.code, err.field]).toEqual([ErrorCode.AlreadyExists, 'client_request_id']);
    expect(err.message).not.toContain(theirs.job.id);
    expect(err.message).not.toContain('robotics');
  });
});

describe('JobsService reads', () => {
  it('pages through every job the caller may see, across its queues, newest first, each once', async () => {
    for (let i = 0; i < 7; i++) {
      await service.submit(
        submission(i % 2 ? 'research' : 'vision', null, {
          namespace: i % 2 ? 'default' : 'team-a',
        }),
        alice,
      );
    }
    await service.submit(submission('robotics'), bob);
    const seen: string[] = [];
    let after;
    for (let pages = 0; pages < 50; pages++) {
      const page = await service.list({ queue: null, states: [], limit: 3, after }, alice);
      seen.push(...page.jobs.map((j) => j.id));
      expect(page.jobs.every((j) => j.queue === 'research' || j.queue === 'vision')).toBe(true);
      if (!page.next) break;
      after = page.next;
    }
    const all = await m.db.query<{ id: string }>(
      `SELECT id FROM jobs WHERE queue IN ('research','vision') ORDER BY created_at DESC, id DESC`,
    );
    expect(seen).toEqual(all.map((r) => r.id));
  });

  it('refuses a listing of a queue the caller may not see, naming its own', async () => {
    const err = await refusal(service.list({ queue: 'robotics', states: [], limit: 10 }, alice));
    expect([err.code, err.field]).toEqual([ErrorCode.PermissionDenied, 'queue']);
    expect(err.message).toContain('yours: research, vision');
  });

  it('hides another tenant’s job exactly as a missing one', async () => {
    const theirs = await service.submit(submission('robotics'), bob);
    const hidden = await refusal(service.get(theirs.job.id, alice));
    const missing = await refusal(service.get('00000000-0000-4000-8000-000000000000', alice));
    expect(hidden.code).toBe(ErrorCode.NotFound);
    expect(missing.code).toBe(ErrorCode.NotFound);
    expect(hidden.message.replace(theirs.job.id, 'ID')).toBe(
      missing.message.replace('00000000-0000-4000-8000-000000000000', 'ID'),
    );
    expect((await refusal(service.explain(theirs.job.id, alice))).code).toBe(ErrorCode.NotFound);
  });

  it('explains a queued gang the cycle has not evaluated yet from the clusters as they are', async () => {
    const { job } = await service.submit(submission('research'), alice);
    const e = await service.explain(job.id, alice);
    expect(e.summary).toBe('not evaluated yet: waiting for the next scheduling cycle');
    expect(e.clusters).toEqual([
      expect.objectContaining({ cluster: 'gpu-east', fits: true, reasonCode: 'AwaitingCycle' }),
    ]);
    await m.db.query(`UPDATE clusters SET agent_state = 'Lost' WHERE name = 'gpu-east'`);
    const lost = await service.explain(job.id, alice);
    expect(lost.summary).toBe('no registered cluster can take the gang now');
    expect(lost.clusters).toEqual([
      expect.objectContaining({ cluster: 'gpu-east', fits: false, reasonCode: 'ClusterNotReady' }),
    ]);
    await m.db.query(`UPDATE clusters SET agent_state = 'Connected' WHERE name = 'gpu-east'`);
  });
});

describe('JobsService.cancel and watchJob', () => {
  it('cancels a queued job once, and a watch replays its whole life and ends', async () => {
    const { job } = await service.submit(submission('research'), alice);
    expect((await refusal(service.cancel(job.id, '', viewer))).code).toBe(
      ErrorCode.PermissionDenied,
    );
    expect((await service.cancel(job.id, 'not needed', alice)).state).toBe('Cancelled');
    expect((await service.cancel(job.id, 'again', alice)).state).toBe('Cancelled');
    expect(cancels.filter((c) => c.jobId === job.id)).toEqual([]); // it held no cluster
    const events: JobEvent[] = [];
    for await (const e of service.watchJob(job.id, 0, new AbortController().signal, alice))
      events.push(e);
    expect(events.map((e) => [e.fromState, e.state, e.reason])).toEqual([
      [null, 'Queued', 'Submitted'],
      ['Queued', 'Cancelled', 'Cancelled'],
    ]);
    expect(events[1]!.message).toBe('not needed');
  });

  it('tells the agent to delete a placed gang it cancels, with the gang’s fencing token', async () => {
    const { job } = await service.submit(submission('research'), alice);
    await m.db.query(
      `UPDATE jobs SET state = 'Running', cluster = 'gpu-east', dispatch_generation = 7 WHERE id = $1`,
      [job.id],
    );
    await service.cancel(job.id, '', alice);
    expect(cancels.filter((c) => c.jobId === job.id)).toEqual([
      { jobId: job.id, cluster: 'gpu-east', token: 7 },
    ]);
  });

  it('refuses to cancel a job that already ended otherwise', async () => {
    const { job } = await service.submit(submission('research'), alice);
    await m.db.query(`UPDATE jobs SET state = 'Succeeded' WHERE id = $1`, [job.id]);
    const err = await refusal(service.cancel(job.id, '', alice));
    expect(err.code).toBe(ErrorCode.FailedPrecondition);
    expect(err.message).toBe(`job ${job.id} already ended as Succeeded`);
  });

  it('delivers live events of the caller’s queues only', async () => {
    const controller = new AbortController();
    const events: JobEvent[] = [];
    const watching = (async () => {
      for await (const e of service.watchJobs(null, 0, controller.signal, alice)) {
        events.push(e);
        if (events.length === 2) controller.abort();
      }
    })();
    // Subscribed synchronously; history (after_sequence 0) is empty, so what follows is live.
    await new Promise((r) => setTimeout(r, 300));
    await service.submit(submission('robotics'), bob);
    const mine = await service.submit(submission('research'), alice);
    await service.cancel(mine.job.id, '', alice);
    await watching;
    expect(events.map((e) => [e.jobId, e.state])).toEqual([
      [mine.job.id, 'Queued'],
      [mine.job.id, 'Cancelled'],
    ]);
  });
});
