import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { ClusterStatusRepository } from '../inventory/inventory.repository';
import { HubMetrics } from './metrics';

/**
 * `muster_cluster_allocated{cluster,resource}` and `muster_cluster_capacity{cluster,resource}`:
 * what gangs hold now and what connected clusters have, read in Postgres at each scrape. Their
 * ratio, averaged over time, is a cluster's utilisation; gauges rather than counters because the
 * booked history is pruned, and a counter that shrinks would read as a reset.
 */
@Injectable()
export class UtilisationGauge {
  readonly allocated: Gauge<'cluster' | 'resource'>;
  readonly capacity: Gauge<'cluster' | 'resource'>;

  constructor(metrics: HubMetrics, clusters: ClusterStatusRepository) {
    const gauge = (name: string, help: string, what: 'allocated' | 'capacity') =>
      new Gauge({
        name,
        help,
        labelNames: ['cluster', 'resource'] as const,
        registers: [metrics.registry],
        async collect() {
          try {
            const rows = await clusters.heldNow(what);
            this.reset();
            for (const r of rows) this.set({ cluster: r.cluster, resource: r.resource }, r.amount);
          } catch {
            // Postgres down: serve the other metrics anyway; readiness reports the outage.
          }
        },
      });
    this.allocated = gauge(
      'muster_cluster_allocated',
      'Resources (GPUs, cores, bytes, devices per DeviceClass) that reservations hold now, per cluster.',
      'allocated',
    );
    this.capacity = gauge(
      'muster_cluster_capacity',
      'Allocatable resources of ready, schedulable nodes of each connected cluster, as it last reported.',
      'capacity',
    );
  }
}
