import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { JobsRepository } from '../jobs/jobs.repository';
import { HubMetrics } from './metrics';

/**
 * `muster_jobs{state}` and `muster_queued_gangs{queue}`: counted in Postgres by prom-client at
 * each scrape, never cached.
 */
@Injectable()
export class JobStateGauge {
  readonly gauge: Gauge<'state'>;
  readonly queued: Gauge<'queue'>;

  constructor(metrics: HubMetrics, jobs: JobsRepository) {
    this.queued = new Gauge({
      name: 'muster_queued_gangs',
      help: 'Gangs waiting in each queue (state Queued, backoff included), read at scrape time.',
      labelNames: ['queue'] as const,
      registers: [metrics.registry],
      async collect() {
        try {
          const counts = await jobs.countQueuedByQueue();
          this.reset();
          for (const [queue, n] of Object.entries(counts)) this.set({ queue }, n);
        } catch {
          // As below.
        }
      },
    });
    this.gauge = new Gauge({
      name: 'muster_jobs',
      help: 'Jobs in Postgres by state, read at scrape time.',
      labelNames: ['state'] as const,
      registers: [metrics.registry],
      async collect() {
        try {
          const counts = await jobs.countByState();
          this.reset();
          for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
        } catch {
          // Postgres down: serve the other metrics anyway; readiness reports the outage.
        }
      },
    });
  }
}
