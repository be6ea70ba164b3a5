import {
  type DynamicModule,
  Global,
  Inject,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { HUB_CONFIG, type HubConfig } from './config/hub-config';
import { createDataSource, migrate } from './database/data-source';
import { HubMetrics } from './http/metrics';
import type { Log } from '@muster/log';
import { LOGGER } from './logging/log';
import { BullMqDriver } from './queue/bullmq-driver';
import { QUEUE_DRIVER, type QueueDriver } from './queue/queue-driver';
import { DATA_SOURCE, REDIS } from './core.tokens';
import { CycleRequests } from './scheduling/cycle-requests';

/** Configuration, logging, metrics, cycle requests and the connections every feature shares. */
@Global()
@Module({
  providers: [
    HubMetrics,
    CycleRequests,
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
  exports: [HUB_CONFIG, LOGGER, HubMetrics, CycleRequests, DATA_SOURCE, REDIS, QUEUE_DRIVER],
})
export class CoreModule implements OnApplicationShutdown {
  /** The configuration and logger main.ts built (and so checked) before anything started. */
  static forRoot(config: HubConfig, logger: Log): DynamicModule {
    return {
      module: CoreModule,
      global: true,
      providers: [
        { provide: HUB_CONFIG, useValue: config },
        { provide: LOGGER, useValue: logger },
      ],
    };
  }

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
