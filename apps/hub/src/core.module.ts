import { Global, Module, type OnApplicationShutdown, Inject } from '@nestjs/common';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { HUB_CONFIG, loadHubConfig, type HubConfig } from './config/hub-config';
import { createDataSource, migrate } from './database/data-source';
import { HubMetrics } from './http/metrics';
import { createLog, type Log } from '@muster/log';
import { LOGGER } from './logging/log';
import { BullMqDriver } from './queue/bullmq-driver';
import { QUEUE_DRIVER, type QueueDriver } from './queue/queue-driver';

export const DATA_SOURCE = Symbol('DATA_SOURCE');
/**
 * A Redis connection for commands (publish, readiness, BullMQ); subscribers get their own.
 * `maxRetriesPerRequest: null` is what BullMQ requires of the connections its workers use.
 */
export const REDIS = Symbol('REDIS');

/** Configuration, logging, metrics and the connections every feature shares. */
@Global()
@Module({
  providers: [
    { provide: HUB_CONFIG, useFactory: () => loadHubConfig() },
    {
      provide: LOGGER,
      inject: [HUB_CONFIG],
      useFactory: (c: HubConfig): Log => createLog({ level: c.logLevel }),
    },
    { provide: HubMetrics, useFactory: () => new HubMetrics() },
    {
      provide: DATA_SOURCE,
      inject: [HUB_CONFIG, LOGGER],
      useFactory: async (c: HubConfig, logger: Log) => {
        const ds = createDataSource(c.databaseUrl);
        await ds.initialize();
        if (c.migrate) {
          const applied = await migrate(ds);
          if (applied.length > 0)
            logger
              .child({ component: 'database' })
              .info('migrations applied', { migrations: applied.join(',') });
        }
        return ds;
      },
    },
    {
      provide: REDIS,
      inject: [HUB_CONFIG],
      useFactory: (c: HubConfig) =>
        new Redis(c.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false }),
    },
    {
      provide: QUEUE_DRIVER,
      inject: [HUB_CONFIG, LOGGER, REDIS],
      // BullMQ shares the command connection (ioredis parsed the URL: user, password, db,
      // rediss:// TLS) and duplicates it for its blocking worker reads; CoreModule closes it.
      useFactory: (c: HubConfig, logger: Log, redis: Redis): QueueDriver =>
        new BullMqDriver(redis, `${c.redisPrefix}:bull`, logger.child({ component: 'queue' })),
    },
  ],
  exports: [HUB_CONFIG, LOGGER, HubMetrics, DATA_SOURCE, REDIS, QUEUE_DRIVER],
})
export class CoreModule implements OnApplicationShutdown {
  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(QUEUE_DRIVER) private readonly queues: QueueDriver,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queues.close().catch(() => undefined);
    this.redis.disconnect();
    await this.db.destroy().catch(() => undefined);
  }
}
