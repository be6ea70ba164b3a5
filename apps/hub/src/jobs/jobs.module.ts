import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE, REDIS } from '../core.module';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import { HubMetrics } from '../http/metrics';
import type { Log } from '@muster/log';
import { LOGGER } from '../logging/log';
import { InventoryModule } from '../inventory/inventory.module';
import { InventoryRepository } from '../inventory/inventory.repository';
import { PruneEventsWork } from '../maintenance/prune-events.work';
import { QUEUE_DRIVER, type QueueDriver } from '../queue/queue-driver';
import { JobEventFeed } from './job-event-feed';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';

@Module({
  imports: [InventoryModule],
  providers: [
    {
      provide: JobsRepository,
      inject: [DATA_SOURCE],
      useFactory: (db: DataSource) => new JobsRepository(db),
    },
    {
      provide: JobEventFeed,
      inject: [JobsRepository, REDIS, HUB_CONFIG, LOGGER],
      useFactory: (repo: JobsRepository, redis: Redis, c: HubConfig, logger: Log) =>
        new JobEventFeed(
          repo,
          redis,
          redis.duplicate({ enableReadyCheck: false }),
          `${c.redisPrefix}:job-events`,
          c.eventPollMs,
          logger.child({ component: 'events' }),
        ),
    },
    {
      provide: JobsService,
      inject: [JobsRepository, InventoryRepository, JobEventFeed, HUB_CONFIG, HubMetrics, LOGGER],
      useFactory: (
        repo: JobsRepository,
        inventory: InventoryRepository,
        feed: JobEventFeed,
        c: HubConfig,
        metrics: HubMetrics,
        logger: Log,
      ) => new JobsService(repo, inventory, feed, c, metrics, logger.child({ component: 'jobs' })),
    },
    {
      provide: PruneEventsWork,
      inject: [JobsRepository, LOGGER],
      useFactory: (repo: JobsRepository, logger: Log) =>
        new PruneEventsWork(repo, logger.child({ component: 'maintenance' })),
    },
  ],
  exports: [JobsService, JobsRepository, JobEventFeed],
})
export class JobsModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly feed: JobEventFeed,
    private readonly prune: PruneEventsWork,
    @Inject(QUEUE_DRIVER) private readonly queues: QueueDriver,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.feed.start();
    this.queues.register(this.prune);
    await this.queues.repeat(
      this.prune,
      { retentionHours: this.config.eventRetentionHours },
      this.config.pruneIntervalMs,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.feed.stop();
  }
}
