import { createHash, randomUUID } from 'node:crypto';
import { AsyncQueue } from '../common/async-queue';
import { ErrorCode, MusterError, invalidArgument, notFound } from '../common/errors';
import { canSeeQueue, canWriteQueue, queuesOf, type Principal } from '../auth/principal';
import type { Log } from '@muster/log';
import { HubMetrics } from '../http/metrics';
import { InventoryRepository } from '../inventory/inventory.repository';
import { clusterUnavailable } from '../inventory/cluster.domain';
import {
  emptyMembers,
  isFinal,
  type Job,
  type JobEvent,
  type JobExplanation,
  type JobListing,
  type JobPage,
  type JobSpec,
  type JobStateName,
  type Submission,
} from './job.domain';
import { deviceClaimOf } from './device-claims';
import { JobEventFeed } from './job-event-feed';
import { JobsRepository, type NewJob } from './jobs.repository';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';

/** Events a watch replays per Postgres read. */
const WATCH_PAGE = 500;
/** Every unfinished state can be cancelled; where a cluster holds the gang its agent deletes it. */
const CANCELLABLE_STATES: readonly JobStateName[] = ['Queued', 'Reserved', 'Dispatched', 'Running'];

/** Reasons of a placed gang that is held up, which explain tells rather than "nothing to explain". */
const WAITING_REASONS = new Set(['AwaitingFence', 'Fencing', 'Restarting']);

/** Provided by the dispatch feature, which tells the agents. */
export const GANG_CANCELLER = Symbol('GANG_CANCELLER');

/** Tells a cluster's agent to delete a cancelled gang. */
export interface GangCanceller {
  cancelGang(jobId: string, cluster: string, fencingToken: number): Promise<void>;
}

export const JOBS_SETTINGS = Symbol('JOBS_SETTINGS');

export interface JobsSettings {
  /** Live events held for one watcher (while it replays, or reads slower than they come). */
  watchBufferEvents: number;
}

@Injectable()
export class JobsService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly inventory: InventoryRepository,
    private readonly feed: JobEventFeed,
    @Inject(JOBS_SETTINGS) private readonly settings: JobsSettings,
    private readonly metrics: HubMetrics,
    @Inject(GANG_CANCELLER) private readonly canceller: GangCanceller,
    @InjectLog('jobs') private readonly log: Log,
  ) {}

  /**
   * Commits the job as Queued before answering. The spec arrives validated: its errors depend on
   * the request alone, so they tell a caller nothing about anyone's queues. Everything that reads
   * stored state (the queue, its namespaces, who holds the client request id) comes after the
   * permission check, so another tenant's queue looks the same whether it exists or not.
   */
  /**
   * Refuses device claims naming a DeviceClass no registered cluster reports: such a job could
   * only wait forever. A class that appears later (a cluster joins) is accepted from then on.
   */
  private async checkDeviceClasses(spec: JobSpec): Promise<void> {
    const templates = spec.gang.claimTemplates ?? [];
    if (templates.length === 0) return;
    const known = await this.inventory.knownDeviceClasses();
    const knownText =
      known.size > 0 ? `known: ${[...known].sort().join(', ')}` : 'no cluster reports DRA devices';
    for (const [i, t] of templates.entries()) {
      deviceClaimOf(t.name, t.spec).requests.forEach((r, j) => {
        const at = `spec.resource_claim_templates[${i}].spec_json.devices.requests[${j}]`;
        const alternatives = r.exactly
          ? [{ field: `${at}.exactly`, e: r.exactly }]
          : (r.firstAvailable ?? []).map((e, k) => ({ field: `${at}.firstAvailable[${k}]`, e }));
        for (const { field, e } of alternatives)
          if (!known.has(e.deviceClassName))
            throw invalidArgument(
              `${field}.deviceClassName`,
              `device class "${e.deviceClassName}" is not known to any cluster (${knownText})`,
            );
      });
    }
  }

  async submit(
    { spec, clientRequestId }: Submission,
    caller: Principal,
  ): Promise<{ job: Job; created: boolean }> {
    if (!canWriteQueue(caller, spec.queue)) {
      throw new MusterError(
        ErrorCode.PermissionDenied,
        `you may not submit to queue "${spec.queue}"`,
        'spec.queue',
      );
    }
    const queue = await this.inventory.findQueue(spec.queue);
    if (!queue)
      throw new MusterError(ErrorCode.NotFound, `queue "${spec.queue}" not found`, 'spec.queue');
    const allowed = queue.allowedNamespaces.length > 0 ? queue.allowedNamespaces : ['default'];
    if (!allowed.includes(spec.namespace)) {
      throw invalidArgument(
        'spec.namespace',
        `queue "${queue.name}" may only target namespaces ${allowed.join(', ')}`,
      );
    }
    if (queue.maxPriority != null && spec.priority > queue.maxPriority)
      throw invalidArgument(
        'spec.priority',
        `queue "${queue.name}" allows priority at most ${queue.maxPriority} (got ${spec.priority}${spec.priorityClass ? `, priority class "${spec.priorityClass}"` : ''})`,
      );
    await this.checkDeviceClasses(spec);
    const specHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    const total = spec.gang.podSets.reduce((n, ps) => n + ps.count, 0);
    const job: NewJob = {
      id: randomUUID(),
      clientRequestId,
      specHash,
      name: spec.name,
      queue: spec.queue,
      priority: spec.priority,
      onClusterLost: spec.onClusterLost,
      namespace: spec.namespace,
      labels: spec.labels,
      gang: spec.gang,
      maxRestarts: spec.maxRestarts ?? 0,
      evictionGraceSeconds: spec.evictionGraceSeconds ?? null,
      priorityClass: spec.priorityClass ?? null,
      restarts: 0,
      state: 'Queued',
      reason: 'Submitted',
      message: 'waiting for a cluster with room for the whole gang',
      cluster: null,
      dispatchGeneration: 0,
      members: emptyMembers(total),
    };
    const result = await this.jobs.insertOrGetExisting(job, {
      jobId: job.id,
      queue: job.queue,
      fromState: null,
      state: 'Queued',
      reason: job.reason,
      message: job.message,
      cluster: null,
      members: job.members,
    });
    if (!result.created && !canSeeQueue(caller, result.job.queue)) {
      // Another tenant's job holds this id: say so without naming or showing it.
      throw new MusterError(
        ErrorCode.AlreadyExists,
        `client_request_id "${clientRequestId}" is already in use; choose another`,
        'client_request_id',
      );
    }
    if (!result.created && result.job.specHash !== specHash) {
      throw new MusterError(
        ErrorCode.AlreadyExists,
        `client_request_id "${clientRequestId}" was used for job ${result.job.id} with a different spec`,
        'client_request_id',
      );
    }
    if (result.created) {
      this.metrics.jobsSubmitted.inc({ queue: job.queue });
      this.feed.notify();
      this.log.info('job submitted', { job: job.id, queue: job.queue, members: total });
    }
    return result;
  }

  /** The job when the caller may see it; another tenant's job is "not found", like a missing one. */
  async get(jobId: string, caller: Principal): Promise<Job> {
    const job = await this.jobs.findById(jobId);
    if (!job || !canSeeQueue(caller, job.queue)) throw notFound('job', jobId);
    return job;
  }

  /** A page of the jobs the caller may see, newest first. */
  async list(listing: JobListing, caller: Principal): Promise<JobPage> {
    const { states, limit, after } = listing;
    const queues = this.visibleQueues(caller, listing.queue);
    const query = { states, limit: limit + 1, before: after };
    const jobs =
      queues === null
        ? await this.jobs.list({ ...query, queue: listing.queue ?? undefined })
        : mergeNewestFirst(
            await Promise.all(queues.map((queue) => this.jobs.list({ ...query, queue }))),
            limit + 1,
          );
    const page = jobs.slice(0, limit);
    const last = page[page.length - 1];
    return {
      jobs: page,
      next: jobs.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null,
    };
  }

  /**
   * The queues a listing or watch covers: null for every queue, else the caller's (or the one
   * asked for, when the caller may see it; PERMISSION_DENIED when not).
   */
  private visibleQueues(caller: Principal, asked: string | null): string[] | null {
    const mine = queuesOf(caller);
    if (asked === null) return mine;
    if (!canSeeQueue(caller, asked))
      throw new MusterError(
        ErrorCode.PermissionDenied,
        `you may not see queue "${asked}"; yours: ${mine?.join(', ') ?? 'all'}`,
        'queue',
      );
    return mine === null ? null : [asked];
  }

  /** The job's events after `afterSequence`, then live ones, ending after a final state. */
  watchJob(
    jobId: string,
    afterSequence: number,
    signal: AbortSignal,
    caller: Principal,
  ): AsyncIterable<JobEvent> {
    return this.follow((e) => e.jobId === jobId, afterSequence, signal, {
      open: async () => {
        const job = await this.jobs.findById(jobId);
        if (!job || !canSeeQueue(caller, job.queue)) throw notFound('job', jobId);
        // A job that ended before the watch (its final event perhaps pruned) ends the stream too.
        return { endsWithJob: true, endedAlready: isFinal(job.state) };
      },
      page: async (after, limit) => {
        const events = await this.jobs.eventsOfJob(jobId, after, limit);
        return { events, more: events.length === limit, cursor: events.at(-1)?.sequence ?? after };
      },
    });
  }

  /** Events of every job (or one queue's: `queue` not null) until the caller leaves. */
  watchJobs(
    queue: string | null,
    afterSequence: number,
    signal: AbortSignal,
    caller: Principal,
  ): AsyncIterable<JobEvent> {
    const visible = this.visibleQueues(caller, queue);
    const allowed = visible === null ? null : new Set(visible);
    const match = (e: JobEvent) =>
      (queue === null || e.queue === queue) && (allowed === null || allowed.has(e.queue));
    return this.follow(match, afterSequence, signal, {
      open: async () => ({ endsWithJob: false, endedAlready: false }),
      page: async (after, limit) => {
        // after_sequence 0 means "from now on": no history.
        if (afterSequence === 0) return { events: [], more: false, cursor: after };
        const batch = await this.jobs.eventsAfter(after, limit);
        return {
          events: batch.filter(match),
          more: batch.length === limit,
          cursor: batch.at(-1)?.sequence ?? after,
        };
      },
    });
  }

  /**
   * Replays history page by page, then goes live, with no event lost or repeated in between and
   * bounded memory: live events are buffered while a page is read (at most `watchBufferEvents`; past that
   * the buffer is dropped and the next page reads them from Postgres instead), and a watcher that
   * falls that many events behind the live feed is ended with RESOURCE_EXHAUSTED naming the
   * sequence to resume after.
   */
  private follow(
    match: (e: JobEvent) => boolean,
    afterSequence: number,
    signal: AbortSignal,
    history: {
      open: () => Promise<{ endsWithJob: boolean; endedAlready: boolean }>;
      page: (
        after: number,
        limit: number,
      ) => Promise<{ events: JobEvent[]; more: boolean; cursor: number }>;
    },
  ): AsyncIterable<JobEvent> {
    const bufferLimit = this.settings.watchBufferEvents;
    let last = afterSequence;
    const out = new AsyncQueue<JobEvent>(
      bufferLimit,
      () =>
        new MusterError(
          ErrorCode.ResourceExhausted,
          `the watcher fell more than ${bufferLimit} events behind; resume with after_sequence ${last}`,
        ),
    );
    let live = false;
    let endsWithJob = false;
    let buffered: JobEvent[] | null = [];
    const emit = (e: JobEvent) => {
      if (e.sequence <= last) return;
      last = e.sequence;
      out.push(e);
      if (endsWithJob && isFinal(e.state)) stop();
    };
    const unsubscribe = this.feed.subscribe((e) => {
      if (!match(e)) return;
      if (live) emit(e);
      else if (buffered && buffered.length < bufferLimit) buffered.push(e);
      else buffered = null; // overflowed: the next page reads these from Postgres
    });
    this.metrics.watchers.inc();
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      this.metrics.watchers.dec();
      out.close();
    };
    signal.addEventListener('abort', stop);
    return {
      async *[Symbol.asyncIterator]() {
        try {
          const opened = await history.open();
          endsWithJob = opened.endsWithJob;
          let cursor = afterSequence;
          for (;;) {
            buffered = [];
            const page = await history.page(cursor, WATCH_PAGE);
            cursor = page.cursor;
            for (const e of page.events) {
              if (e.sequence <= last) continue;
              last = e.sequence;
              yield e;
              if (endsWithJob && isFinal(e.state)) return;
            }
            if (page.more || buffered === null) continue;
            break;
          }
          // Caught up with Postgres: what arrived meanwhile, then live.
          for (const e of buffered ?? []) emit(e);
          buffered = [];
          live = true;
          if (opened.endedAlready) stop();
          yield* out;
        } finally {
          stop();
        }
      },
    };
  }

  async cancel(jobId: string, reason: string, caller: Principal): Promise<Job> {
    // A job the caller may not see is "not found"; one it may see but not change is refused.
    const current = await this.jobs.findById(jobId);
    if (!current || !canSeeQueue(caller, current.queue)) throw notFound('job', jobId);
    if (!canWriteQueue(caller, current.queue))
      throw new MusterError(
        ErrorCode.PermissionDenied,
        `you may not cancel jobs of queue "${current.queue}"`,
      );
    const result = await this.jobs.transition(
      jobId,
      CANCELLABLE_STATES,
      'Cancelled',
      'Cancelled',
      reason || 'cancelled by request',
    );
    if (!result) throw notFound('job', jobId);
    if (result.changed) {
      this.feed.notify();
      this.log.info('job cancelled', {
        job: jobId,
        queue: result.job.queue,
        cluster: result.job.cluster ?? undefined,
      });
      if (result.job.cluster) {
        await this.canceller.cancelGang(jobId, result.job.cluster, result.job.dispatchGeneration);
      }
      return result.job;
    }
    const state = result.job.state;
    if (state === 'Cancelled') return result.job;
    throw new MusterError(ErrorCode.FailedPrecondition, `job ${jobId} already ended as ${state}`);
  }

  async explain(jobId: string, caller: Principal): Promise<JobExplanation> {
    const job = await this.get(jobId, caller);
    if (job.state === 'Queued' && job.explanation) {
      return {
        job,
        summary: job.explanation.summary,
        clusters: job.explanation.clusters,
        evaluatedAt: new Date(job.explanation.evaluatedAt),
      };
    }
    const clusters = await this.inventory.listClusters();
    const evaluatedAt = new Date();
    if (job.state !== 'Queued') {
      const where = `job is ${job.state}${job.cluster ? ` on cluster ${job.cluster}` : ''}`;
      return {
        job,
        summary: WAITING_REASONS.has(job.reason)
          ? `${where}; ${job.reason}: ${job.message}`
          : `${where}; nothing to explain`,
        clusters: [],
        evaluatedAt,
      };
    }
    const fits = clusters.map((c) => {
      const why = clusterUnavailable(c);
      return why
        ? { ...why, fits: false }
        : {
            cluster: c.name,
            fits: true,
            reasonCode: 'AwaitingCycle',
            message: 'ready; waiting for the next scheduling cycle',
          };
    });
    const summary =
      clusters.length === 0
        ? 'no cluster is registered'
        : fits.some((f) => f.fits)
          ? 'not evaluated yet: waiting for the next scheduling cycle'
          : 'no registered cluster can take the gang now';
    return { job, summary, clusters: fits, evaluatedAt };
  }
}

/** Merges per-queue pages (each newest first) into one page, newest first, as SQL orders them. */
function mergeNewestFirst(pages: Job[][], limit: number): Job[] {
  return pages
    .flat()
    .sort((a, b) => {
      const t = b.createdAt.getTime() - a.createdAt.getTime();
      if (t !== 0) return t;
      return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
    })
    .slice(0, limit);
}
