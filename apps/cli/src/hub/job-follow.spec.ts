import { Readable } from 'node:stream';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  JobEvent,
  JobState,
  type HubClients,
  type Job,
  type ListJobsRequest,
  type WatchJobRequest,
} from '@muster/api';
import { listJobs } from '../commands/list';
import { NotFoundError, UsageError } from '../errors';
import type { HubConnection } from './hub-connection';
import { resolveJobId } from './job-ref';
import { followJob } from './job-follow';
import type { RetryPolicy } from './retry';

const noWait: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 1,
  maxDelayMs: 1,
  sleep: async () => undefined,
};

function unavailable(): ServiceError {
  return Object.assign(new Error('14 UNAVAILABLE: hub restarting'), {
    code: status.UNAVAILABLE,
    details: 'hub restarting',
    metadata: new Metadata(),
  });
}

/** A HubConnection over hand-written clients: calls go straight through, errors are left as they are. */
function fakeHub(
  clients: Partial<{ jobs: Partial<HubClients['jobs']>; streams: Partial<HubClients['streams']> }>,
): HubConnection {
  const c = clients as unknown as HubClients;
  return {
    clients: c,
    call: (invoke: (x: HubClients) => Promise<unknown>) => invoke(c),
    translate: (e: unknown) => e,
  } as unknown as HubConnection;
}

function event(sequence: number, state: JobState): JobEvent {
  return JobEvent.fromPartial({ sequence, jobId: 'j', state, reason: String(state) });
}

/** A server stream yielding `events`, then failing with `error` (or ending when none). */
function stream(events: JobEvent[], error?: ServiceError): Readable & { cancel(): void } {
  async function* source() {
    for (const e of events) yield { event: e };
    if (error) throw error;
  }
  return Object.assign(Readable.from(source()), { cancel: () => undefined });
}

function job(id: string, name: string, state = JobState.JOB_STATE_QUEUED): Job {
  return {
    id,
    spec: {
      name,
      queue: 'q',
      priority: 0,
      maxRestarts: 0,
      onClusterLost: 0,
      labels: {},
      podSets: [],
      podSetGroups: [],
      namespace: '',
      resourceClaimTemplates: [],
      matchDeviceAttribute: '',
    },
    state,
    reason: '',
    message: '',
    cluster: '',
    dispatchGeneration: 0,
    members: undefined,
    clientRequestId: '',
    restarts: 0,
  };
}

describe('followJob', () => {
  it('reconnects after a broken stream and resumes after the last event seen', async () => {
    const requests: WatchJobRequest[] = [];
    const streams = [
      stream([event(5, JobState.JOB_STATE_QUEUED)], unavailable()),
      stream([event(5, JobState.JOB_STATE_QUEUED), event(9, JobState.JOB_STATE_CANCELLED)]),
    ];
    const hub = fakeHub({
      streams: {
        watchJob: ((req: WatchJobRequest) => (
          requests.push(req),
          streams.shift()
        )) as unknown as HubClients['streams']['watchJob'],
      },
    });
    const reconnects: string[] = [];
    const seen: number[] = [];
    for await (const e of followJob(hub, 'j', {
      retry: noWait,
      onReconnect: (i) => reconnects.push(i.reason),
    }))
      seen.push(e.sequence);
    expect(seen).toEqual([5, 9]);
    expect(requests.map((r) => r.afterSequence)).toEqual([0, 5]);
    expect(reconnects).toEqual(['hub restarting']);
  });

  it('also reconnects when the stream ends before a final state, and gives up after the retry budget', async () => {
    let calls = 0;
    const hub = fakeHub({
      streams: {
        watchJob: (() => (calls++, stream([]))) as unknown as HubClients['streams']['watchJob'],
      },
    });
    const run = async () => {
      for await (const _ of followJob(hub, 'j', { retry: noWait })) {
        // no events
      }
    };
    await expect(run()).rejects.toThrow(
      'lost the watch of job j 3 times in a row: the hub ended the stream before the job ended',
    );
    expect(calls).toBe(3);
  });

  it('does not retry a refusal such as NOT_FOUND', async () => {
    const notFound = Object.assign(new Error('5 NOT_FOUND'), {
      code: status.NOT_FOUND,
      details: 'job "j" not found',
      metadata: new Metadata(),
    });
    let calls = 0;
    const hub = fakeHub({
      streams: {
        watchJob: (() => (
          calls++,
          stream([], notFound)
        )) as unknown as HubClients['streams']['watchJob'],
      },
    });
    await expect(followJob(hub, 'j', { retry: noWait }).next()).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
    expect(calls).toBe(1);
  });
});

describe('listJobs', () => {
  const all = Array.from({ length: 7 }, (_, i) => job(`id-${i}`, `job-${i}`));
  const requests: ListJobsRequest[] = [];
  const hub = fakeHub({
    jobs: {
      listJobs: async (req: ListJobsRequest) => {
        requests.push(req);
        const start = req.pageToken === '' ? 0 : Number(req.pageToken);
        const end = start + req.pageSize;
        return { jobs: all.slice(start, end), nextPageToken: end < all.length ? String(end) : '' };
      },
    },
  });

  beforeEach(() => (requests.length = 0));

  it('pages until the limit and says more are left', async () => {
    const { jobs, more } = await listJobs(hub, 'q', [JobState.JOB_STATE_QUEUED], 5);
    expect(jobs.map((j) => j.id)).toEqual(['id-0', 'id-1', 'id-2', 'id-3', 'id-4']);
    expect(more).toBe(true);
    expect(requests.map((r) => [r.queue, r.states, r.pageSize])).toEqual([
      ['q', [JobState.JOB_STATE_QUEUED], 5],
    ]);
  });

  it('follows page tokens to the last page with --limit 0', async () => {
    const { jobs, more } = await listJobs(hub, '', [], 0);
    expect(jobs).toHaveLength(7);
    expect(more).toBe(false);
    expect(requests.map((r) => r.pageToken)).toEqual(['']);
  });
});

describe('resolveJobId', () => {
  const ids = [
    '0b0c4a8e-5f4e-4d2b-9a57-8c1f2e3d4a5b',
    '0b0c9999-5f4e-4d2b-9a57-8c1f2e3d4a5b',
    'a1b2c3d4-0000-4000-8000-000000000000',
  ];
  const hub = fakeHub({
    jobs: {
      listJobs: async () => ({
        jobs: [
          job(ids[0]!, 'train', JobState.JOB_STATE_CANCELLED),
          job(ids[1]!, 'train'),
          job(ids[2]!, 'eval'),
          job('c0ffee00-0000-4000-8000-000000000000', 'eval'),
        ],
        nextPageToken: '',
      }),
    },
  });

  it('passes a full id through without asking the hub', async () => {
    expect(await resolveJobId(fakeHub({}), ids[0]!.toUpperCase())).toBe(ids[0]);
  });

  it('finds a unique id prefix', async () => {
    expect(await resolveJobId(hub, 'a1b2')).toBe(ids[2]);
  });

  it('finds a name, preferring the one job still active among several', async () => {
    expect(await resolveJobId(hub, 'train')).toBe(ids[1]);
  });

  it('prefers the active job for a prefix too', async () => {
    expect(await resolveJobId(hub, '0b0c')).toBe(ids[1]);
  });

  it('asks for the id when several active jobs match', async () => {
    await expect(resolveJobId(hub, 'eval')).rejects.toThrow(UsageError);
    await expect(resolveJobId(hub, 'eval')).rejects.toThrow(
      `"eval" matches 2 jobs: ${ids[2]} (eval), c0ffee00-0000-4000-8000-000000000000 (eval); use the id`,
    );
  });

  it('says not found otherwise', async () => {
    await expect(resolveJobId(hub, 'nope')).rejects.toThrow(NotFoundError);
  });
});
