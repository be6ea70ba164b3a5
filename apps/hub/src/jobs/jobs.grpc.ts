import type { JobServiceServer } from '@muster/api';
import type { KeyedRateLimiter } from '../auth/rate-limiter';
import type { Role } from '../auth/principal';
import { RateLimitedError } from '../grpc/grpc-errors';
import { ANY_ROLE, serverStream, unary, type RpcContext } from '../grpc/handlers';
import type { JobsService } from './jobs.service';
import { clientRequestIdToDomain, jobSpecToDomain, type SpecLimits } from './job-spec.mapper';
import {
  afterSequenceToDomain,
  cancelReasonToDomain,
  jobEventToProto,
  jobExplanationToProto,
  jobIdToDomain,
  jobListingToDomain,
  jobPageToProto,
  jobToProto,
  queueFilterToDomain,
} from './job.proto-mapper';

/** Roles that may submit and cancel (submitters only in their queues). */
const WRITERS: readonly Role[] = ['admin', 'submitter'];

/**
 * JobService over gRPC: mapping, roles and the submit rate; the tenant rules (which queues a
 * caller sees) live in JobsService, which takes and returns domain values only.
 */
export function jobServiceHandlers(
  jobs: JobsService,
  ctx: RpcContext,
  submits: KeyedRateLimiter,
  limits: SpecLimits,
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
        const clientRequestId = clientRequestIdToDomain(req.clientRequestId);
        const spec = jobSpecToDomain(req.spec, limits);
        const { job, created } = await jobs.submit({ spec, clientRequestId }, caller);
        return { job: jobToProto(job), created };
      },
    ),
    getJob: unary(ctx, { method: 'GetJob', roles: ANY_ROLE }, async (req, caller) => ({
      job: jobToProto(await jobs.get(jobIdToDomain(req.jobId), caller)),
    })),
    listJobs: unary(ctx, { method: 'ListJobs', roles: ANY_ROLE }, async (req, caller) =>
      jobPageToProto(await jobs.list(jobListingToDomain(req), caller)),
    ),
    watchJob: serverStream(
      ctx,
      { method: 'WatchJob', roles: ANY_ROLE },
      (req, caller, signal) => {
        const jobId = jobIdToDomain(req.jobId);
        const after = afterSequenceToDomain(req.afterSequence);
        return mapStream(jobs.watchJob(jobId, after, signal, caller), (e) => ({
          event: jobEventToProto(e),
        }));
      },
      { watcher: true },
    ),
    watchJobs: serverStream(
      ctx,
      { method: 'WatchJobs', roles: ANY_ROLE },
      (req, caller, signal) => {
        const queue = queueFilterToDomain(req.queue);
        const after = afterSequenceToDomain(req.afterSequence);
        return mapStream(jobs.watchJobs(queue, after, signal, caller), (e) => ({
          event: jobEventToProto(e),
        }));
      },
      { watcher: true },
    ),
    cancelJob: unary(ctx, { method: 'CancelJob', roles: WRITERS }, async (req, caller) => {
      const jobId = jobIdToDomain(req.jobId);
      const reason = cancelReasonToDomain(req.reason);
      return { job: jobToProto(await jobs.cancel(jobId, reason, caller)) };
    }),
    explainJob: unary(ctx, { method: 'ExplainJob', roles: ANY_ROLE }, async (req, caller) =>
      jobExplanationToProto(await jobs.explain(jobIdToDomain(req.jobId), caller)),
    ),
  };
}

async function* mapStream<A, B>(source: AsyncIterable<A>, fn: (a: A) => B): AsyncIterable<B> {
  for await (const a of source) yield fn(a);
}
