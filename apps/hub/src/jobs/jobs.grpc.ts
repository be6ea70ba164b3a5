import type {
  JobServiceServer,
  SubmitJobRequest,
  SubmitJobResponse,
  SubmitJobsResult,
} from '@muster/api';
import type { KeyedRateLimiter } from '../auth/rate-limiter';
import type { Principal, Role } from '../auth/principal';
import { MusterError, invalidArgument } from '../common/errors';
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

/** Most jobs one SubmitJobs call may carry. */
export const MAX_SUBMIT_JOBS = 500;

/** How many jobs a SubmitJobs request carries, read before the request is checked. */
function jobsIn(req: unknown): number {
  const jobs = (req as { jobs?: unknown } | null)?.jobs;
  return Array.isArray(jobs) ? jobs.length : 0;
}

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
  /**
   * Takes `n` jobs from the caller's submit rate, or refuses the call with when to retry; `what`
   * names what the rate counts, as the refusal says it.
   */
  const takeSubmits = (caller: Principal, n: number, what: string): void => {
    const waitMs = submits.take(caller.id, n);
    if (waitMs > 0)
      throw new RateLimitedError(
        `at most ${submits.perSecond} ${what} per second per caller (burst ${submits.burst})`,
        waitMs,
      );
  };
  /** One job, as SubmitJob and each job of SubmitJobs take it. */
  const submitOne = async (
    req: SubmitJobRequest,
    caller: Principal,
  ): Promise<SubmitJobResponse> => {
    const clientRequestId = clientRequestIdToDomain(req.clientRequestId);
    const spec = jobSpecToDomain(req.spec, limits);
    const { job, created } = await jobs.submit({ spec, clientRequestId }, caller);
    return { job: jobToProto(job), created };
  };
  return {
    submitJob: unary(
      ctx,
      {
        method: 'SubmitJob',
        roles: WRITERS,
        limit: (caller) => takeSubmits(caller, 1, 'SubmitJob calls'),
      },
      (req, caller) => submitOne(req, caller),
    ),
    submitJobs: unary(
      ctx,
      {
        method: 'SubmitJobs',
        roles: WRITERS,
        limit: (caller, req) => {
          const n = jobsIn(req);
          if (n > MAX_SUBMIT_JOBS)
            throw invalidArgument('jobs', `at most ${MAX_SUBMIT_JOBS} jobs per call, got ${n}`);
          if (submits.perSecond > 0 && n > submits.burst)
            throw invalidArgument(
              'jobs',
              `at most ${submits.burst} jobs per call on this hub (its submit burst), got ${n}`,
            );
          takeSubmits(caller, Math.max(1, n), 'jobs submitted');
        },
      },
      async (req, caller) => {
        if (req.jobs.length === 0) throw invalidArgument('jobs', 'needs at least one job');
        // Each job on its own, all at once: the repository's group commit stores them together.
        const results = await Promise.all(
          req.jobs.map(async (item, i): Promise<SubmitJobsResult> => {
            try {
              return { result: { $case: 'submitted', submitted: await submitOne(item, caller) } };
            } catch (err) {
              // Anything but a refusal (Postgres down, say) fails the call: the client retries
              // it whole, and the request ids keep the retry from creating anything twice.
              if (!(err instanceof MusterError)) throw err;
              const at = `jobs[${i}]`;
              return {
                result: {
                  $case: 'error',
                  error: {
                    code: err.code,
                    message: err.field ? `${at}.${err.message}` : `${at}: ${err.message}`,
                    field: err.field ? `${at}.${err.field}` : at,
                  },
                },
              };
            }
          }),
        );
        return { results };
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
