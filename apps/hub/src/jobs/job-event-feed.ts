import Redis from 'ioredis';
import type { Log } from '@muster/log';
import { CoalescedRunner } from '@muster/common';
import type { JobEvent } from './job.domain';
import { JobsRepository } from './jobs.repository';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';
import { REDIS } from '../core.tokens';

/** Events read per query. */
const EVENT_PAGE = 1000;

export type JobEventListener = (event: JobEvent) => void;

/**
 * Tails the job_events table and fans events out to this replica's watchers. A Redis
 * notification after each commit wakes it at once (on any replica); a slow poll covers a lost
 * notification, so Redis is never needed for correctness.
 */
export const EVENT_FEED_SETTINGS = Symbol('EVENT_FEED_SETTINGS');

export interface EventFeedSettings {
  /** The Redis channel of commit notifications. */
  channel: string;
  /** Fallback poll of the event table, in ms. */
  pollMs: number;
}

@Injectable()
export class JobEventFeed {
  private lastSequence = 0;
  private readonly listeners = new Set<JobEventListener>();
  /** One read at a time; notifications during a read make one more read after it. */
  private readonly reads = new CoalescedRunner({
    run: () => this.readNewEvents(),
    onError: (err) => this.log.warn('reading job events failed; will retry', { err }),
  });
  private timer: NodeJS.Timeout | undefined;

  /** Its own connection: a subscribed Redis connection takes no other commands. */
  private readonly subscriber: Redis;

  constructor(
    private readonly repo: JobsRepository,
    @Inject(REDIS) private readonly publisher: Redis,
    @Inject(EVENT_FEED_SETTINGS) private readonly settings: EventFeedSettings,
    @InjectLog('events') private readonly log: Log,
  ) {
    this.subscriber = publisher.duplicate({ enableReadyCheck: false });
  }

  async start(): Promise<void> {
    this.lastSequence = await this.repo.lastEventSequence();
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.settings.channel) this.reads.request();
    });
    await this.subscriber.subscribe(this.settings.channel);
    this.timer = setInterval(() => this.reads.request(), this.settings.pollMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.reads.stop();
    this.listeners.clear();
    await this.subscriber.unsubscribe(this.settings.channel).catch(() => undefined);
    this.subscriber.disconnect();
  }

  /** Tells every replica that new events are committed. */
  notify(): void {
    this.publisher.publish(this.settings.channel, '1').catch((err: Error) => {
      this.log.warn('event notification failed; watchers fall back to polling', { err });
    });
  }

  subscribe(listener: JobEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get watcherCount(): number {
    return this.listeners.size;
  }

  /** Hands every event committed after the last one handed out to each listener, in order. */
  private async readNewEvents(): Promise<boolean> {
    const events = await this.repo.eventsAfter(this.lastSequence, EVENT_PAGE);
    for (const e of events) {
      this.lastSequence = e.sequence;
      for (const l of this.listeners) l(e);
    }
    // A full page: more may be waiting behind it.
    return events.length === EVENT_PAGE;
  }
}
