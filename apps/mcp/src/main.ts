#!/usr/bin/env node
// Entry point of the Muster MCP server (apps/mcp/dist/main.js; `muster-mcp` once installed).
import pino from 'pino';
import { createLog } from '@muster/log';
import { ConfigError, loadMcpConfig, USAGE } from './config';
import { GrpcReadOnlyHub } from './hub/read-only-hub';
import { serveHttp } from './transports/http';
import { serveStdio } from './transports/stdio';

async function main(): Promise<number> {
  const config = loadMcpConfig(process.argv.slice(2));
  if (config === 'help') {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  // stdout belongs to the MCP stream under stdio: the log goes to stderr in either transport.
  const log = createLog({
    level: config.logLevel,
    destination: pino.destination({ dest: 2, sync: true }),
  }).child({ component: 'mcp' });
  const hub = GrpcReadOnlyHub.connect(config.hub);
  if (config.hub.token === undefined) {
    log.warn('MUSTER_TOKEN is not set: only a hub in development mode answers without a token');
  }
  if (config.transport.kind === 'stdio') {
    await serveStdio(hub, log);
    hub.close();
    return 0;
  }
  const http = await serveHttp(hub, log, config.transport.host, config.transport.port);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await http.close();
  hub.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `muster-mcp: ${err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
