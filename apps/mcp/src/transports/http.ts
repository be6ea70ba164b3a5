// MCP over Streamable HTTP at POST /mcp, stateless: each request gets its own server and
// transport over the one hub connection, so nothing is kept between requests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Log } from '@muster/log';
import type { ReadOnlyHub } from '../hub/read-only-hub';
import { musterMcpServer } from '../server';

export const MCP_PATH = '/mcp';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.includes(host) || host === '::1' || host.startsWith('127.');
}

function refuse(res: ServerResponse, httpStatus: number, message: string): void {
  res.writeHead(httpStatus, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

/**
 * Bound to loopback, only loopback names are accepted in Host: a web page that rebinds its own
 * name to 127.0.0.1 cannot reach the server through a browser.
 */
function hostAllowed(req: IncomingMessage, listenHost: string): boolean {
  if (!isLoopback(listenHost)) return true;
  const header = req.headers.host;
  if (!header) return false;
  try {
    return LOOPBACK_NAMES.includes(new URL(`http://${header}`).hostname);
  } catch {
    return false;
  }
}

export interface McpHttpServer {
  /** The port listened on (the one given, or the one the system chose for 0). */
  port: number;
  close(): Promise<void>;
}

export async function serveHttp(
  hub: ReadOnlyHub,
  log: Log,
  host: string,
  port: number,
): Promise<McpHttpServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== MCP_PATH) return refuse(res, 404, `not found; MCP is served at ${MCP_PATH}`);
    if (!hostAllowed(req, host)) return refuse(res, 403, 'Host header is not a loopback name');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return refuse(res, 405, 'this stateless server takes POST only');
    }
    const server = musterMcpServer(hub);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };
  const http: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error('MCP request failed', { err });
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const bound = (http.address() as AddressInfo).port;
  log.info('MCP server ready on HTTP', {
    hub: hub.address,
    url: `http://${host}:${bound}${MCP_PATH}`,
  });
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
