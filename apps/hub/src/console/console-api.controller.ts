import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import {
  ExplainJobResponse,
  GetUtilisationRequest,
  GetUtilisationResponse,
  UtilisationBucket,
  UtilisationGroupBy,
  Job,
  JobEvent,
  ListClustersResponse,
  ListCohortsResponse,
  ListJobsRequest,
  ListJobsResponse,
  ListQueuesResponse,
} from '@muster/api';
import type { Log } from '@muster/log';
import { HUB_SECURITY, type HubSecurity } from '../auth/security';
import { queuesOf, type Principal } from '../auth/principal';
import { ErrorCode, MusterError, invalidArgument } from '../common/errors';
import { InventoryService } from '../inventory/inventory.service';
import {
  clustersFor,
  cohortsFor,
  queuesFor,
  usageFor,
  utilisationFor,
} from '../inventory/inventory.views';
import { JobsService } from '../jobs/jobs.service';
import {
  jobEventToProto,
  jobExplanationToProto,
  jobIdToDomain,
  jobListingToDomain,
  jobPageToProto,
  jobToProto,
  queueFilterToDomain,
} from '../jobs/job.proto-mapper';
import type { JobEvent as DomainJobEvent } from '../jobs/job.domain';
import { InjectLog } from '../logging/inject-log';
import { authenticateHttp, httpError } from './http-auth';

/** How often an idle event stream sends a comment, so proxies and browsers keep it open (ms). */
const KEEPALIVE_MS = 15_000;

type Query = Record<string, string | string[] | undefined>;

const one = (q: Query, name: string): string => {
  const v = q[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};
const all = (q: Query, name: string): string[] => {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

/**
 * The console's read-only JSON API: the same tokens and roles as gRPC, the same services and
 * visibility rules, the protobuf JSON form `muster -o json` prints. No route changes anything.
 */
@Controller('api/v1')
export class ConsoleApiController {
  constructor(
    private readonly jobs: JobsService,
    private readonly inventory: InventoryService,
    @Inject(HUB_SECURITY) private readonly security: HubSecurity,
    @InjectLog('console') private readonly log: Log,
  ) {}

  /** Who the token belongs to, for the console's header. */
  @Get('whoami')
  whoami(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.answer(req, res, async (caller) => ({
      name: caller.name,
      role: caller.role,
      queues: queuesOf(caller),
    }));
  }

  @Get('clusters')
  clusters(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.answer(req, res, async (caller) =>
      ListClustersResponse.toJSON({ clusters: await clustersFor(this.inventory, caller) }),
    );
  }

  @Get('queues')
  queues(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.answer(req, res, async (caller) =>
      ListQueuesResponse.toJSON({ queues: await queuesFor(this.inventory, caller) }),
    );
  }

  @Get('cohorts')
  cohorts(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.answer(req, res, async (caller) =>
      ListCohortsResponse.toJSON({
        cohorts: await cohortsFor(this.inventory, caller, await this.inventory.listCohorts()),
      }),
    );
  }

  /** Each visible queue's mean resources held per hour, from the usage history. */
  @Get('usage')
  usage(@Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.answer(req, res, async (caller) => ({
      queues: await usageFor(this.inventory, caller),
    }));
  }

  /**
   * GPU utilisation of the last day per hour, `?by=cluster` (allocated of capacity; callers bound
   * to queues may not) or `?by=queue`, as GetUtilisation answers it.
   */
  @Get('utilisation')
  utilisation(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Query() query: Query,
  ): Promise<void> {
    return this.answer(req, res, async (caller) => {
      const by = one(query, 'by') || 'cluster';
      if (by !== 'cluster' && by !== 'queue')
        throw invalidArgument('by', `must be cluster or queue (got "${by}")`);
      const now = Date.now();
      const request: GetUtilisationRequest = {
        since: new Date(now - 86_400_000),
        resource: 'nvidia.com/gpu',
        groupBy:
          by === 'cluster'
            ? UtilisationGroupBy.UTILISATION_GROUP_BY_CLUSTER
            : UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE,
        bucket: UtilisationBucket.UTILISATION_BUCKET_HOUR,
      };
      return GetUtilisationResponse.toJSON(await utilisationFor(this.inventory, caller, request));
    });
  }

  /** `?queue=`, `?state=JOB_STATE_QUEUED` (repeatable), `?pageSize=`, `?pageToken=` as ListJobs. */
  @Get('jobs')
  listJobs(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Query() query: Query,
  ): Promise<void> {
    return this.answer(req, res, async (caller) => {
      const request = ListJobsRequest.fromJSON({
        queue: one(query, 'queue'),
        states: all(query, 'state'),
        pageSize: Number(one(query, 'pageSize') || 0),
        pageToken: one(query, 'pageToken'),
      });
      return ListJobsResponse.toJSON(
        jobPageToProto(await this.jobs.list(jobListingToDomain(request), caller)),
      );
    });
  }

  @Get('jobs/:id')
  getJob(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Param('id') id: string,
  ): Promise<void> {
    return this.answer(req, res, async (caller) =>
      Job.toJSON(jobToProto(await this.jobs.get(jobIdToDomain(id), caller))),
    );
  }

  @Get('jobs/:id/explain')
  explainJob(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Param('id') id: string,
  ): Promise<void> {
    return this.answer(req, res, async (caller) =>
      ExplainJobResponse.toJSON(
        jobExplanationToProto(await this.jobs.explain(jobIdToDomain(id), caller)),
      ),
    );
  }

  /**
   * Server-Sent Events: each job event the caller may see (`?queue=` for one queue), as
   * `event: job` with the JobEvent's JSON and its sequence as the id; a client that reconnects
   * with `Last-Event-ID` (or `?after=`) gets what it missed first.
   */
  @Get('events')
  events(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Query() query: Query,
  ): Promise<void> {
    return this.stream(req, res, query, async (caller, after, signal) =>
      this.jobs.watchJobs(queueFilterToDomain(one(query, 'queue')), after, signal, caller),
    );
  }

  /** One job's events, as WatchJob: the stream ends after the job's final state. */
  @Get('jobs/:id/events')
  jobEvents(
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
    @Query() query: Query,
    @Param('id') id: string,
  ): Promise<void> {
    return this.stream(req, res, query, async (caller, after, signal) => {
      const jobId = jobIdToDomain(id);
      // A job the caller may not see is a 404 before the stream starts, as GET /jobs/<id>.
      await this.jobs.get(jobId, caller);
      return this.jobs.watchJob(jobId, after, signal, caller);
    });
  }

  /** Answers the events `open` yields as Server-Sent Events, within the caller's watch limit. */
  private async stream(
    req: IncomingMessage,
    res: ServerResponse,
    query: Query,
    open: (
      caller: Principal,
      after: number,
      signal: AbortSignal,
    ) => Promise<AsyncIterable<DomainJobEvent>>,
  ): Promise<void> {
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    let release: (() => void) | undefined;
    let caller: Principal;
    let events: AsyncIterable<DomainJobEvent>;
    try {
      caller = await authenticateHttp(this.security.auth, httpCaller(req));
      const after = afterOf(String(req.headers['last-event-id'] ?? '') || one(query, 'after'));
      events = await open(caller, after, abort.signal);
      release = this.security.watchers.acquire(caller.id);
      if (!release)
        throw new MusterError(
          ErrorCode.ResourceExhausted,
          `at most ${this.security.watchers.max} open watch streams per caller; close one first`,
        );
    } catch (err) {
      release?.();
      abort.abort();
      this.fail(res, err);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    try {
      for await (const e of events) {
        const json = JSON.stringify(JobEvent.toJSON(jobEventToProto(e)));
        res.write(`id: ${e.sequence}\nevent: job\ndata: ${json}\n\n`);
      }
    } catch (err) {
      const shown = err instanceof MusterError ? httpError(err).body : undefined;
      if (!shown) this.log.error('event stream failed', { caller: caller.name, err });
      res.write(`event: error\ndata: ${JSON.stringify(shown ?? { code: 'Internal' })}\n\n`);
    } finally {
      clearInterval(keepalive);
      release();
      abort.abort();
      res.end();
    }
  }

  /** Authenticates, runs `read`, and answers its value as JSON (or the error as its status). */
  private async answer(
    req: IncomingMessage,
    res: ServerResponse,
    read: (caller: Principal) => Promise<unknown>,
  ): Promise<void> {
    try {
      const caller = await authenticateHttp(this.security.auth, httpCaller(req));
      const body = JSON.stringify(await read(caller));
      res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      res.end(body);
    } catch (err) {
      this.fail(res, err);
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (!(err instanceof MusterError)) this.log.error('console API request failed', { err });
    const { status, body } = httpError(
      err instanceof MusterError ? err : new MusterError(ErrorCode.Internal, 'internal error'),
    );
    if (status === 401) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer', 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    });
    res.end(JSON.stringify(body));
  }
}

function httpCaller(req: IncomingMessage) {
  return { headers: req.headers, peer: `http:${req.socket.remoteAddress ?? 'unknown'}` };
}

/** The event sequence to resume after: 0 ("from now on") when none is given. */
function afterOf(text: string): number {
  if (text === '') return 0;
  if (!/^\d{1,15}$/.test(text)) throw invalidArgument('after', 'must be an event sequence number');
  return Number(text);
}
