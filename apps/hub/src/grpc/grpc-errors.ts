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

/** Turns any error into a gRPC status; unknown errors become INTERNAL without their details. */
export function toServiceError(
  err: unknown,
): Partial<ServiceError> & { code: status; details: string } {
  if (err instanceof MusterError) {
    const metadata = new Metadata();
    if (err.field) metadata.set('muster-field', err.field);
    metadata.set('muster-error-code', err.code);
    return { code: grpcStatusOf(err.code), details: err.message, metadata };
  }
  return { code: status.INTERNAL, details: 'internal error; see the hub log' };
}
