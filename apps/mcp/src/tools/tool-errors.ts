// A failed hub call becomes a tool error the assistant reads (the hub's own message, with the
// gRPC status name), never a protocol error or a crash.
import { status, type ServiceError } from '@grpc/grpc-js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    'metadata' in err
  );
}

/** grpc-js: "No connection established. Last error: Error: connect ECONNREFUSED ... Resolution note: ". */
function connectionCause(details: string): string {
  const m = /Last error: (?:Error: )?(.+?)\.?(?: Resolution note:.*)?$/s.exec(details);
  return (m ? m[1]! : details).trim();
}

/** One sentence saying what went wrong, for the assistant to relay to a person. */
export function hubErrorText(err: unknown, hubAddress: string): string {
  if (!isServiceError(err)) return err instanceof Error ? err.message : String(err);
  const details = err.details || err.message;
  const name = status[err.code] ?? String(err.code);
  switch (err.code) {
    case status.UNAVAILABLE:
      return `UNAVAILABLE: cannot reach the hub at ${hubAddress}: ${connectionCause(details)}`;
    case status.UNAUTHENTICATED:
      return `UNAUTHENTICATED: the hub at ${hubAddress} refused the token (MUSTER_TOKEN): ${details}`;
    default:
      return `${name}: ${details}`;
  }
}

export function toolError(err: unknown, hubAddress: string): CallToolResult {
  const message = hubErrorText(err, hubAddress);
  const code = isServiceError(err) ? (status[err.code] ?? String(err.code)) : 'INTERNAL';
  return {
    isError: true,
    content: [{ type: 'text', text: message }],
    structuredContent: { error: { code, message } },
  };
}
