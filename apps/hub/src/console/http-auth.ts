// The console's HTTP API authenticates exactly as gRPC does: the Authorization header goes to the
// hub's Authenticator as the one value of gRPC's "authorization" metadata.
import { Metadata } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Authenticator } from '../auth/authenticator';
import type { Principal } from '../auth/principal';
import { assertNever, ErrorCode, MusterError } from '../common/errors';

/** What an HTTP request shows of its caller. */
export interface HttpCaller {
  headers: IncomingHttpHeaders;
  /** The client's address, as gRPC names a peer in logs. */
  peer: string;
}

/** The caller of an HTTP request; throws UNAUTHENTICATED or PERMISSION_DENIED as for gRPC. */
export function authenticateHttp(auth: Authenticator, req: HttpCaller): Promise<Principal> {
  const metadata = new Metadata();
  const header = req.headers.authorization;
  if (header !== undefined) metadata.set('authorization', header);
  return auth.authenticate(metadata, req.peer);
}

/** How an HTTP answer reports an error: the status, and the body (none for 401). */
export function httpError(err: MusterError): { status: number; body?: object } {
  const body = { code: err.code, message: err.message };
  switch (err.code) {
    case ErrorCode.Unauthenticated:
      // Nothing that would tell a caller without a valid token anything about the hub.
      return { status: 401 };
    case ErrorCode.PermissionDenied:
      return { status: 403, body };
    case ErrorCode.NotFound:
      return { status: 404, body };
    case ErrorCode.InvalidArgument:
      return { status: 400, body };
    case ErrorCode.AlreadyExists:
    case ErrorCode.FailedPrecondition:
      return { status: 409, body };
    case ErrorCode.ResourceExhausted:
      return { status: 429, body };
    case ErrorCode.Unavailable:
      return { status: 503, body };
    case ErrorCode.Internal:
      return { status: 500, body: { code: err.code, message: 'internal error' } };
    default:
      return assertNever(err.code);
  }
}
