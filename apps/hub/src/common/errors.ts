// Domain errors: a code per failure kind, mapped to a gRPC status at the transport edge only.

export enum ErrorCode {
  InvalidArgument = 'InvalidArgument',
  NotFound = 'NotFound',
  AlreadyExists = 'AlreadyExists',
  FailedPrecondition = 'FailedPrecondition',
  PermissionDenied = 'PermissionDenied',
  Unauthenticated = 'Unauthenticated',
  ResourceExhausted = 'ResourceExhausted',
  Unavailable = 'Unavailable',
  Internal = 'Internal',
}

export class MusterError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request field at fault, as the caller spells it (e.g. "spec.pod_sets[0].count"). */
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'MusterError';
  }
}

export function invalidArgument(field: string, message: string): MusterError {
  return new MusterError(ErrorCode.InvalidArgument, message, field);
}

export function notFound(what: string, name: string): MusterError {
  return new MusterError(ErrorCode.NotFound, `${what} "${name}" not found`);
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value ${String(value)}`);
}
