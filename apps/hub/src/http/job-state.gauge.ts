import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { JobsRepository } from '../jobs/jobs.repository';
import { HubMetrics } from './metrics';

/** `muster_jobs{state}`: counted in Postgres by prom-client at each scrape, never cached. */
@Injectable()
export class JobStateGauge {
  readonly gauge: Gauge<'state'>;

  constructor(metrics: HubMetrics, jobs: JobsRepository) {
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
