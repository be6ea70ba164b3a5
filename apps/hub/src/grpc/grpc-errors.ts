import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { assertNever, ErrorCode, MusterError } from '../common/errors';

export function grpcStatusOf(code: ErrorCode): status {
  switch (code) {
    case ErrorCode.InvalidArgument:
      return status.INVALID_ARGUMENT;
    case ErrorCode.NotFound:
      return status.NOT_FOUND;
    case ErrorCode.AlreadyExists:
      return status.ALREADY_EXISTS;
    case ErrorCode.FailedPrecondition:
      return status.FAILED_PRECONDITION;
    case ErrorCode.PermissionDenied:
      return status.PERMISSION_DENIED;
    case ErrorCode.Unauthenticated:
      return status.UNAUTHENTICATED;
    case ErrorCode.ResourceExhausted:
      return status.RESOURCE_EXHAUSTED;
    case ErrorCode.Unavailable:
      return status.UNAVAILABLE;
    case ErrorCode.Internal:
      return status.INTERNAL;
    default:
      return assertNever(code);
  }
}

const MAX_METADATA_VALUE = 1024;

/** A value grpc-js accepts in ASCII metadata: printable ASCII, bounded. */
export function asciiMetadataValue(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_METADATA_VALUE);
}

/**
 * The budget for a status message on the wire. It travels percent-encoded in the grpc-message
 * trailer, and a client refuses trailers over its metadata limit (8 KiB by default in grpc-js):
 * the call then never ends for the caller, who waits out the deadline. A message can quote the
 * request (a 150 KB label prefix did), so it is cut to fit, saying how much was left out.
 */
const MAX_DETAILS_ENCODED = 2048;

/** Bytes a character takes percent-encoded in grpc-message: printable ASCII as is, else %XX per byte. */
function encodedSize(ch: string): number {
  const c = ch.codePointAt(0)!;
  return c >= 0x20 && c <= 0x7e && ch !== '%' ? 1 : 3 * Buffer.byteLength(ch, 'utf8');
}

/** `message`, cut to fit the status-message budget on the wire. */
export function boundedDetails(message: string): string {
  const chars = [...message];
  if (chars.reduce((n, ch) => n + encodedSize(ch), 0) <= MAX_DETAILS_ENCODED) return message;
  let size = 0;
  let kept = 0;
  // Room for the note on what was left out.
  while (size + encodedSize(chars[kept]!) <= MAX_DETAILS_ENCODED - 64)
    size += encodedSize(chars[kept++]!);
  return `${chars.slice(0, kept).join('')}… (${chars.length - kept} more characters)`;
}

/** RESOURCE_EXHAUSTED with a hint of when to try again (trailer "muster-retry-after-ms"). */
export class RateLimitedError extends MusterError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(ErrorCode.ResourceExhausted, `${message}; retry after ${retryAfterMs} ms`);
  }
}

/** Turns any error into a gRPC status; unknown errors become INTERNAL without their details. */
export function toServiceError(
  err: unknown,
): Partial<ServiceError> & { code: status; details: string } {
  if (err instanceof MusterError) {
    const metadata = new Metadata();
    // Metadata values must be printable ASCII, or grpc-js throws; a field path may quote a
    // map key from the request, so anything else is replaced.
    if (err.field) metadata.set('muster-field', asciiMetadataValue(err.field));
    metadata.set('muster-error-code', err.code);
    if (err instanceof RateLimitedError)
      metadata.set('muster-retry-after-ms', String(err.retryAfterMs));
    return { code: grpcStatusOf(err.code), details: boundedDetails(err.message), metadata };
  }
  return { code: status.INTERNAL, details: 'internal error; see the hub log' };
}
