import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { ErrorCode, MusterError, invalidArgument } from '../common/errors';
import type { Log } from '@muster/log';
import type { HubMetrics } from '../http/metrics';
import type { Authenticator } from '../auth/authenticator';
import type { Principal, Role } from '../auth/principal';
import type { ConcurrencyLimiter } from '../auth/rate-limiter';
import { toServiceError } from './grpc-errors';
import { isUndecodable, unstorableInput } from './hostile-input';

/** What every people-facing handler needs: logging, metrics, who is calling, their limits. */
export interface RpcContext {
  log: Log;
  metrics: HubMetrics;
  auth: Authenticator;
  /** Open watch streams per caller. */
  watchers: ConcurrencyLimiter;
}

/** Every role: the call is open to any authenticated caller (services still filter). */
export const ANY_ROLE: readonly Role[] = ['admin', 'submitter', 'viewer'];

export interface RpcSpec {
  method: string;
  /** Roles that may call the method at all. */
  roles: readonly Role[];
  /**
   * A rate limit, checked after the role and before the request is checked (it may only count
   * what the request asks for, e.g. the jobs of a SubmitJobs call); throws.
   */
  limit?: (caller: Principal, request: unknown) => void;
}

/**
 * Who is calling, checked in this order: authenticated (UNAUTHENTICATED), role allowed
 * (PERMISSION_DENIED), rate (RESOURCE_EXHAUSTED), request decodable and storable
 * (INVALID_ARGUMENT).
 */
async function admit(
  ctx: RpcContext,
  spec: RpcSpec,
  call: { metadata: ServerUnaryCall<unknown, unknown>['metadata']; getPeer(): string },
  request: unknown,
): Promise<Principal> {
  const caller = await ctx.auth.authenticate(call.metadata, call.getPeer());
  if (!spec.roles.includes(caller.role)) {
    throw new MusterError(
      ErrorCode.PermissionDenied,
      `role "${caller.role}" may not call ${spec.method}`,
    );
  }
  spec.limit?.(caller, request);
  if (isUndecodable(request))
    throw invalidArgument('request', `is not a valid ${spec.method} request message`);
  const bad = unstorableInput(request);
  if (bad) throw bad;
  return caller;
}

function logRefusal(
  ctx: RpcContext,
  method: string,
  err: unknown,
  caller: Principal | undefined,
  kind: 'request' | 'stream',
): void {
  if (err instanceof MusterError)
    ctx.log.info(`${kind} refused`, {
      method,
      code: err.code,
      caller: caller?.name,
      // Bounded: a message may quote a (long) field of the request.
      error: err.message.slice(0, 500),
    });
  else
    ctx.log.error(`${kind} failed`, {
      method,
      caller: caller?.name,
      err,
    });
}

/** toServiceError, and INTERNAL should even that fail: an error must never escape a handler. */
function safeServiceError(ctx: RpcContext, method: string, err: unknown) {
  try {
    return toServiceError(err);
  } catch (mapping) {
    ctx.log.error('mapping an error failed', {
      method,
      err: mapping,
    });
    return toServiceError(new Error('unmappable'));
  }
}

/** Wraps a unary handler: admits the caller, maps errors to statuses, logs failures, counts calls. */
export function unary<Req, Res>(
  ctx: RpcContext,
  spec: RpcSpec,
  fn: (req: Req, caller: Principal, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const started = process.hrtime.bigint();
    let caller: Principal | undefined;
    admit(ctx, spec, call, call.request)
      .then((p) => {
        caller = p;
        return fn(call.request, p, call);
      })
      .then(
        (res) => {
          ctx.metrics.observeCall(spec.method, 'OK', started);
          callback(null, res);
        },
        (err: unknown) => {
          const e = safeServiceError(ctx, spec.method, err);
          ctx.metrics.observeCall(spec.method, status[e.code], started);
          logRefusal(ctx, spec.method, err, caller, 'request');
          callback(e, null);
        },
      )
      // Nothing about one request may take the process down.
      .catch((err: unknown) =>
        ctx.log.error('answering a request failed', {
          method: spec.method,
          err,
        }),
      );
  };
}

export interface StreamOptions {
  /** Counts against the caller's open watch streams (MUSTER_MAX_WATCHERS_PER_CALLER). */
  watcher?: boolean;
}

/** Wraps a server-streaming handler; the stream ends when the iterable ends or the caller leaves. */
export function serverStream<Req, Res>(
  ctx: RpcContext,
  spec: RpcSpec,
  fn: (req: Req, caller: Principal, signal: AbortSignal) => AsyncIterable<Res>,
  options: StreamOptions = {},
) {
  return (call: ServerWritableStream<Req, Res>): void => {
    const started = process.hrtime.bigint();
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    call.on('close', () => abort.abort());
    let caller: Principal | undefined;
    let release: (() => void) | undefined;
    void (async () => {
      try {
        caller = await admit(ctx, spec, call, call.request);
        if (options.watcher) {
          release = ctx.watchers.acquire(caller.id);
          if (!release)
            throw new MusterError(
              ErrorCode.ResourceExhausted,
              `at most ${ctx.watchers.max} open watch streams per caller; close one first`,
            );
        }
        for await (const item of fn(call.request, caller, abort.signal)) {
          if (abort.signal.aborted) break;
          if (!call.write(item))
            // A caller that stops reading and then leaves must not pin this loop (and its slot).
            await new Promise<void>((resolve) => {
              call.once('drain', () => resolve());
              abort.signal.addEventListener('abort', () => resolve(), { once: true });
            });
        }
        ctx.metrics.observeCall(spec.method, 'OK', started);
        if (!abort.signal.aborted) call.end();
      } catch (err) {
        const e = safeServiceError(ctx, spec.method, err);
        ctx.metrics.observeCall(spec.method, status[e.code], started);
        logRefusal(ctx, spec.method, err, caller, 'stream');
        if (!abort.signal.aborted) call.emit('error', e);
      } finally {
        release?.();
      }
    })().catch((err: unknown) =>
      ctx.log.error('answering a stream failed', {
        method: spec.method,
        err,
      }),
    );
  };
}
