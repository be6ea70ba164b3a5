import 'reflect-metadata';
import { ConfigError, loadHubConfig } from './config/hub-config';
import { createLog } from '@muster/log';
import { buildSecurity, devModeWarnings } from './auth/security';
import { NestLog } from './logging/log';

async function main(): Promise<void> {
  let config;
  let logger;
  let security;
  try {
    config = loadHubConfig();
    logger = createLog({ level: config.logLevel });
    // Certificates, tokens and OIDC keys are checked now, before anything connects anywhere,
    // and the result is what the gRPC server uses: built once.
    security = buildSecurity(config, logger);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`muster-hub: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  for (const warning of devModeWarnings(config)) logger.warn(warning, { component: 'security' });
  // Loaded only now, so a bad configuration is reported at once.
  const { NestFactory } = await import('@nestjs/core');
  const { AppModule } = await import('./app.module');
  const { HubGrpcServer } = await import('./grpc/grpc-server');
  let app;
  try {
    app = await NestFactory.create(AppModule.forRoot(config, logger, security), {
      logger: new NestLog(logger),
      abortOnError: false,
    });
  } catch (err) {
    // The database and Redis settings are checked while the modules are built.
    if (err instanceof ConfigError) {
      process.stderr.write(`muster-hub: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  app.enableShutdownHooks();
  await app.listen(config.httpPort, config.httpHost);
  const address = app.getHttpServer().address() as { port: number } | null;
  const grpc = app.get(HubGrpcServer);
  logger.info('hub started', {
    grpcPort: grpc.boundPort,
    httpPort: address?.port ?? config.httpPort,
    pid: process.pid,
  });
}

main().catch((err: unknown) => {
  createLog({ level: 'error', destination: process.stderr }).error('hub failed to start', { err });
  process.exit(1);
});
