// The MCP server's whole configuration, read once at start-up from the environment (the hub, the
// token, TLS) and the command line (the transport). docs/mcp.md lists the same settings.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, flag, integer, settingValues } from '@muster/common';

export { ConfigError };

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

/** Every variable the MCP server reads, by name: the doc, the default and the bounds. */
export const mcpSettings = z.object({
  MUSTER_HUB: z
    .string()
    .superRefine((address, ctx) => {
      const port = Number(HOST_PORT.exec(address)?.[2] ?? 0);
      if (port < 1 || port > 65535) ctx.addIssue(`must be "host:port" (got "${address}")`);
    })
    .default('127.0.0.1:50051')
    .describe('Hub gRPC address "host:port".'),
  MUSTER_TOKEN: z
    .string()
    .optional()
    .describe(
      'Bearer token sent with every call; a viewer token, so the assistant can read and nothing more.',
    ),
  MUSTER_TLS: flag()
    .optional()
    .describe(
      'true: TLS to the hub (trusting the system roots unless MUSTER_TLS_CA_FILE is set); default: TLS when a MUSTER_TLS_* file is set, else plain text.',
    ),
  MUSTER_TLS_CA_FILE: z
    .string()
    .optional()
    .describe("PEM CA(s) that signed the hub's certificate."),
  MUSTER_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe('PEM client certificate, for a hub that asks for one; with MUSTER_TLS_KEY_FILE.'),
  MUSTER_TLS_KEY_FILE: z
    .string()
    .optional()
    .describe('Private key of MUSTER_TLS_CERT_FILE; both or neither.'),
  MUSTER_TLS_SERVER_NAME: z
    .string()
    .optional()
    .describe(
      "The name the hub's certificate must carry when it is not the host of MUSTER_HUB (e.g. reached through a tunnel).",
    ),
  MUSTER_HUB_TIMEOUT_MS: integer(100, 600_000)
    .default(10_000)
    .describe('Deadline of each hub call in milliseconds.'),
  MUSTER_LOG_LEVEL: z
    .enum(['debug', 'info', 'warn', 'error'])
    .default('info')
    .describe('Lowest level logged (to stderr: stdout is the MCP stream under stdio).'),
});

export type McpSettings = z.output<typeof mcpSettings>;

/** How the MCP server reaches the hub. */
export interface HubAccess {
  address: string;
  token: string | undefined;
  /** Absent: plain text. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  /** Deadline of each call in milliseconds. */
  timeoutMs: number;
}

/** How assistants reach the MCP server. */
export type McpTransport =
  | { kind: 'stdio' }
  /** Streamable HTTP at POST /mcp. */
  | { kind: 'http'; host: string; port: number };

export interface McpConfig {
  hub: HubAccess;
  transport: McpTransport;
  logLevel: McpSettings['MUSTER_LOG_LEVEL'];
}

export const USAGE = `usage: muster-mcp [--http PORT [--host HOST]]

A read-only Model Context Protocol server for a Muster hub.
  (no flags)     speak MCP over stdin/stdout, as desktop assistants start it
  --http PORT    serve Streamable HTTP at http://HOST:PORT/mcp instead
  --host HOST    address to listen on with --http (default 127.0.0.1)
Environment: MUSTER_HUB, MUSTER_TOKEN, MUSTER_TLS*, MUSTER_HUB_TIMEOUT_MS, MUSTER_LOG_LEVEL
(see docs/mcp.md).`;

function toHubAccess(s: McpSettings, ctx: z.RefinementCtx): HubAccess {
  if ((s.MUSTER_TLS_CERT_FILE === undefined) !== (s.MUSTER_TLS_KEY_FILE === undefined)) {
    ctx.addIssue('MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE go together; set both or neither');
  }
  const files = {
    ...(s.MUSTER_TLS_CA_FILE !== undefined && { caFile: s.MUSTER_TLS_CA_FILE }),
    ...(s.MUSTER_TLS_CERT_FILE !== undefined && { certFile: s.MUSTER_TLS_CERT_FILE }),
    ...(s.MUSTER_TLS_KEY_FILE !== undefined && { keyFile: s.MUSTER_TLS_KEY_FILE }),
    ...(s.MUSTER_TLS_SERVER_NAME !== undefined && { serverName: s.MUSTER_TLS_SERVER_NAME }),
  };
  const tls = s.MUSTER_TLS ?? Object.keys(files).length > 0;
  if (s.MUSTER_TLS === false && Object.keys(files).length > 0) {
    ctx.addIssue('MUSTER_TLS is false, but MUSTER_TLS_* files are set; drop one or the other');
  }
  return {
    address: s.MUSTER_HUB,
    token: s.MUSTER_TOKEN,
    timeoutMs: s.MUSTER_HUB_TIMEOUT_MS,
    ...(tls && { tls: files }),
  };
}

const mcpEnvironment = mcpSettings.transform((s, ctx) => ({
  hub: toHubAccess(s, ctx),
  logLevel: s.MUSTER_LOG_LEVEL,
}));

/** The transport the command line asks for; throws ConfigError naming the flag at fault. */
export function parseTransport(argv: readonly string[]): McpTransport | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        http: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n${USAGE}`);
  }
  const { http, host, help } = parsed.values;
  if (help) return 'help';
  if (http === undefined) {
    if (host !== undefined) throw new ConfigError('--host goes with --http PORT');
    return { kind: 'stdio' };
  }
  const port = Number(http);
  if (!/^\d+$/.test(http) || port > 65535) {
    throw new ConfigError(`--http: must be a port from 0 to 65535 (got "${http}")`);
  }
  return { kind: 'http', host: host ?? '127.0.0.1', port };
}

/** The whole configuration; throws ConfigError naming every setting at fault. */
export function loadMcpConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): McpConfig | 'help' {
  const transport = parseTransport(argv);
  if (transport === 'help') return transport;
  const parsed = mcpEnvironment.safeParse(settingValues(env, Object.keys(mcpSettings.shape)));
  if (!parsed.success) throw ConfigError.of(parsed.error.issues);
  return { ...parsed.data, transport };
}
