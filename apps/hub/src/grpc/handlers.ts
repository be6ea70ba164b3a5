import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { MusterError } from '../common/errors';
import type { ContextLogger } from '../logging/json-logger';
import type { HubMetrics } from '../http/metrics';
import { toServiceError } from './grpc-errors';

/** Wraps a unary handler: maps errors to statuses, logs failures, counts calls. */
export function unary<Req, Res>(
  method: string,
  log: ContextLogger,
  metrics: HubMetrics,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const started = process.hrtime.bigint();
    fn(call.request, call).then(
      (res) => {
        metrics.observeCall(method, 'OK', started);
        callback(null, res);
      },
      (err: unknown) => {
        const e = toServiceError(err);
        metrics.observeCall(method, status[e.code], started);
        if (err instanceof MusterError)
          log.info('request refused', { method, code: err.code, error: err.message });
        else log.error('request failed', { method, error: (err as Error)?.stack ?? String(err) });
        callback(e, null);
      },
    );
  };
}

/** Wraps a server-streaming handler; the stream ends when the iterable ends or the caller leaves. */
export function serverStream<Req, Res>(
  method: string,
  log: ContextLogger,
  metrics: HubMetrics,
  fn: (req: Req, signal: AbortSignal) => AsyncIterable<Res>,
) {
  return (call: ServerWritableStream<Req, Res>): void => {
    const started = process.hrtime.bigint();
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    call.on('close', () => abort.abort());
    void (async () => {
      try {
        for await (const item of fn(call.request, abort.signal)) {
          if (abort.signal.aborted) break;
          if (!call.write(item)) await new Promise((r) => call.once('drain', r));
        }
        metrics.observeCall(method, 'OK', started);
        if (!abort.signal.aborted) call.end();
      } catch (err) {
        const e = toServiceError(err);
        metrics.observeCall(method, status[e.code], started);
        if (!(err instanceof MusterError))
          log.error('stream failed', { method, error: (err as Error)?.stack ?? String(err) });
        if (!abort.signal.aborted) call.emit('error', e);
      }
    })();
  };
}
