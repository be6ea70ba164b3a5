import type { JobServiceServer } from '@muster/api';
import type { KeyedRateLimiter } from '../auth/rate-limiter';
import type { Role } from '../auth/principal';
import { RateLimitedError } from '../grpc/grpc-errors';
import { ANY_ROLE, serverStream, unary, type RpcContext } from '../grpc/handlers';
import type { JobsService } from './jobs.service';
import { jobEventToProto, jobToProto } from './job.proto-mapper';

/** Roles that may submit and cancel (submitters only in their queues). */
const WRITERS: readonly Role[] = ['admin', 'submitter'];

/**
 * JobService over gRPC: mapping, roles and the submit rate; the tenant rules (which queues a
 * caller sees) live in JobsService.
 */
export function jobServiceHandlers(
  jobs: JobsService,
  ctx: RpcContext,
  submits: KeyedRateLimiter,
): JobServiceServer {
  return {
    submitJob: unary(
      ctx,
      {
        method: 'SubmitJob',
        roles: WRITERS,
        limit: (caller) => {
          const waitMs = submits.take(caller.id);
          if (waitMs > 0)
            throw new RateLimitedError(
              `at most ${submits.perSecond} SubmitJob calls per second per caller (burst ${submits.burst})`,
              waitMs,
            );
        },
      },
      async (req, caller) => {
        const { job, created } = await jobs.submit(req, caller);
        return { job: jobToProto(job), created };
      },
    ),
    getJob: unary(ctx, { method: 'GetJob', roles: ANY_ROLE }, async (req, caller) => ({
      job: jobToProto(await jobs.get(req.jobId, caller)),
    })),
    listJobs: unary(ctx, { method: 'ListJobs', roles: ANY_ROLE }, async (req, caller) => {
      const page = await jobs.list(req, caller);
      return { jobs: page.jobs.map(jobToProto), nextPageToken: page.nextPageToken };
    }),
    watchJob: serverStream(
      ctx,
      { method: 'WatchJob', roles: ANY_ROLE },
      (req, caller, signal) =>
        mapStream(jobs.watchJob(req.jobId, req.afterSequence, signal, caller), (e) => ({
          event: jobEventToProto(e),
        })),
      { watcher: true },
    ),
    watchJobs: serverStream(
      ctx,
      { method: 'WatchJobs', roles: ANY_ROLE },
      (req, caller, signal) =>
        mapStream(jobs.watchJobs(req.queue, req.afterSequence, signal, caller), (e) => ({
          event: jobEventToProto(e),
        })),
      { watcher: true },
    ),
    cancelJob: unary(ctx, { method: 'CancelJob', roles: WRITERS }, async (req, caller) => ({
      job: jobToProto(await jobs.cancel(req.jobId, req.reason, caller)),
    })),
    explainJob: unary(ctx, { method: 'ExplainJob', roles: ANY_ROLE }, async (req, caller) => {
      const e = await jobs.explain(req.jobId, caller);
      return {
        job: jobToProto(e.job),
        summary: e.summary,
        clusters: e.clusters,
        evaluatedAt: e.evaluatedAt,
      };
    }),
  };
}

async function* mapStream<A, B>(source: AsyncIterable<A>, fn: (a: A) => B): AsyncIterable<B> {
  for await (const a of source) yield fn(a);
}
