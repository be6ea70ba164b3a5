import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { HubGrpcServer } from './grpc/grpc-server';
import { ConfigError, loadHubConfig } from './config/hub-config';
import { JsonLogger } from './logging/json-logger';

async function main(): Promise<void> {
  let config;
  try {
    config = loadHubConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`muster-hub: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = new JsonLogger(config.logLevel);
  const app = await NestFactory.create(AppModule, { logger, abortOnError: false });
  app.enableShutdownHooks();
  await app.listen(config.httpPort, config.httpHost);
  const address = app.getHttpServer().address() as { port: number } | null;
  const grpc = app.get(HubGrpcServer);
  logger.write('info', 'hub started', {
    grpcPort: grpc.boundPort,
    httpPort: address?.port ?? config.httpPort,
    pid: process.pid,
  });
}

main().catch((err: Error) => {
  process.stderr.write(
    JSON.stringify({
      time: new Date().toISOString(),
      level: 'error',
      msg: 'hub failed to start',
      error: err.stack ?? String(err),
    }) + '\n',
  );
  process.exit(1);
});
