import type { JobServiceServer } from '@muster/api';
import type { ContextLogger } from '../logging/json-logger';
import type { HubMetrics } from '../http/metrics';
import { serverStream, unary } from '../grpc/handlers';
import type { JobsService } from './jobs.service';
import { jobEventToProto, jobToProto } from './job.proto-mapper';

/** JobService over gRPC: mapping only; the rules live in JobsService. */
export function jobServiceHandlers(
  jobs: JobsService,
  metrics: HubMetrics,
  log: ContextLogger,
): JobServiceServer {
  return {
    submitJob: unary('SubmitJob', log, metrics, async (req) => {
      const { job, created } = await jobs.submit(req);
      return { job: jobToProto(job), created };
    }),
    getJob: unary('GetJob', log, metrics, async (req) => ({
      job: jobToProto(await jobs.get(req.jobId)),
    })),
    listJobs: unary('ListJobs', log, metrics, async (req) => {
      const page = await jobs.list(req);
      return { jobs: page.jobs.map(jobToProto), nextPageToken: page.nextPageToken };
    }),
    watchJob: serverStream('WatchJob', log, metrics, (req, signal) =>
      mapStream(jobs.watchJob(req.jobId, req.afterSequence, signal), (e) => ({
        event: jobEventToProto(e),
      })),
    ),
    watchJobs: serverStream('WatchJobs', log, metrics, (req, signal) =>
      mapStream(jobs.watchJobs(req.queue, req.afterSequence, signal), (e) => ({
        event: jobEventToProto(e),
      })),
    ),
    cancelJob: unary('CancelJob', log, metrics, async (req) => ({
      job: jobToProto(await jobs.cancel(req.jobId, req.reason)),
    })),
    explainJob: unary('ExplainJob', log, metrics, async (req) => {
      const e = await jobs.explain(req.jobId);
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
