// Entry point of the Muster agent: node apps/agent/dist/main.js (configuration from the
// environment; see README.md). Exit codes: 0 after SIGTERM/SIGINT, 1 on a fatal error, 2 on a
// bad configuration.
import { Agent } from './agent';
import { ConfigError, loadAgentConfig, type AgentConfig } from './config';
import { createLog } from '@muster/log';

async function main(): Promise<void> {
  let config: AgentConfig;
  try {
    config = loadAgentConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`muster-agent: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const processLog = createLog({ level: config.logLevel }).child({ cluster: config.cluster });
  const agent = new Agent(config, processLog);
  // This file's own lines (started, stopping, a stray rejection) speak for the agent as a whole.
  const log = processLog.child({ component: 'agent' });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('agent stopping', { signal });
    const force = setTimeout(() => process.exit(0), 5000);
    force.unref();
    void agent.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { err }));
  await agent.start();
  log.info('agent started', { epoch: agent.epoch, pid: process.pid });
}

main().catch((err: unknown) => {
  createLog({ level: 'error', destination: process.stderr }).error('agent failed', { err });
  process.exit(1);
});
