// Turns a failed gRPC call into one line a person can act on, with the exit code scripts see.
import { status, type ServiceError } from '@grpc/grpc-js';
import { CliError } from '../errors';
import { ExitCode } from '../exit-codes';
import type { HubSettings } from '../config/hub-settings';

/** A call the hub answered with an error (or that never reached it). */
export class HubCallError extends CliError {
  constructor(
    message: string,
    exitCode: ExitCode,
    readonly code: status,
    /** The hub's own message, e.g. 'spec.queue: queue "x" not found'. */
    readonly details: string,
    /** The request field at fault, when the hub named one. */
    readonly field: string | undefined,
  ) {
    super(message, exitCode);
  }
}

const HOW_TO_CHANGE_HUB =
  'point at another hub with --hub HOST:PORT, MUSTER_HUB or `muster config use-context NAME`';

export function exitCodeOfStatus(code: status): ExitCode {
  switch (code) {
    case status.NOT_FOUND:
      return ExitCode.NotFound;
    case status.INVALID_ARGUMENT:
      return ExitCode.Usage;
    default:
      return ExitCode.Failure;
  }
}

export function statusName(code: status): string {
  return status[code] ?? String(code);
}

/**
 * grpc-js says "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.
 * Resolution note: "; the cause in the middle is what a person needs.
 */
export function connectionCause(details: string): string {
  const m = /Last error: (?:Error: )?(.+?)\.?(?: Resolution note:.*)?$/s.exec(details);
  return (m ? m[1]! : details).trim();
}

export function hubCallError(err: ServiceError, hub: HubSettings): HubCallError {
  const details = err.details || err.message;
  const fieldValue = err.metadata?.get('muster-field')[0];
  const field = typeof fieldValue === 'string' ? fieldValue : undefined;
  const where = `the hub at ${hub.address} (from ${hub.addressSource})`;
  let message: string;
  switch (err.code) {
    case status.UNAVAILABLE:
      message = `cannot reach ${where}: ${connectionCause(details)}; check that the hub is running, or ${HOW_TO_CHANGE_HUB}`;
      break;
    case status.DEADLINE_EXCEEDED:
      message = `${where} did not answer in time (${details}); it may be overloaded, or ${HOW_TO_CHANGE_HUB}`;
      break;
    case status.UNAUTHENTICATED:
      message = `${where} refused the credentials: ${details}; set a token with --token, MUSTER_TOKEN or \`muster config set-context NAME --hub ${hub.address} --token TOKEN\``;
      break;
    case status.PERMISSION_DENIED:
      message = `permission denied by ${where}: ${details}`;
      break;
    case status.UNIMPLEMENTED:
      message = `${where} does not implement this call (${details}); is it a Muster hub of a matching version?`;
      break;
    case status.INVALID_ARGUMENT:
    case status.NOT_FOUND:
    case status.ALREADY_EXISTS:
    case status.FAILED_PRECONDITION:
      message = details;
      break;
    default:
      message = `${details} (${statusName(err.code)})`;
  }
  return new HubCallError(message, exitCodeOfStatus(err.code), err.code, details, field);
}
