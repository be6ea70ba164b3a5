// MCP over stdin/stdout, the way desktop assistants start a local server: stdout carries the
// protocol only, so everything else is logged to stderr.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Log } from '@muster/log';
import type { ReadOnlyHub } from '../hub/read-only-hub';
import { musterMcpServer } from '../server';

/** Serves until stdin ends; resolves then. */
export async function serveStdio(hub: ReadOnlyHub, log: Log): Promise<void> {
  const server = musterMcpServer(hub);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  // The SDK's transport does not notice the end of stdin by itself.
  process.stdin.once('end', () => void server.close());
  await server.connect(transport);
  log.info('MCP server ready on stdio', { hub: hub.address });
  await closed;
}
