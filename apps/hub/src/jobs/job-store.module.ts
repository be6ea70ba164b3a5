import { Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { configSlice } from '../config/config-slice';
import { EVENT_FEED_SETTINGS, JobEventFeed } from './job-event-feed';
import { JobsRepository } from './jobs.repository';

/** Jobs and their events in Postgres, and the feed that tails them: what every feature shares. */
@Module({
  providers: [
    JobsRepository,
    JobEventFeed,
    configSlice(EVENT_FEED_SETTINGS, (c) => ({
      channel: `${c.redisPrefix}:job-events`,
      pollMs: c.eventPollMs,
    })),
  ],
  exports: [JobsRepository, JobEventFeed],
})
export class JobStoreModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(private readonly feed: JobEventFeed) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.feed.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.feed.stop();
  }
}
