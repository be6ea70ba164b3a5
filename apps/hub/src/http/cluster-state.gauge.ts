import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { AgentStateName } from '../inventory/cluster.domain';
import { ClusterStatusRepository } from '../inventory/inventory.repository';
import { HubMetrics } from './metrics';

/** Every state is always exported, so "no Lost cluster" is a 0 an alert can compare, not a gap. */
const AGENT_STATES: readonly AgentStateName[] = ['NeverConnected', 'Connected', 'Lost'];

/** `muster_clusters{agent_state}`: cluster liveness, counted in Postgres at each scrape. */
@Injectable()
export class ClusterStateGauge {
  readonly gauge: Gauge<'agent_state'>;

  constructor(metrics: HubMetrics, clusters: ClusterStatusRepository) {
    this.gauge = new Gauge({
      name: 'muster_clusters',
      help: 'Registered clusters by agent state (NeverConnected, Connected, Lost), read at scrape time.',
      labelNames: ['agent_state'] as const,
      registers: [metrics.registry],
      async collect() {
        try {
          const counts = await clusters.countByAgentState();
          for (const state of AGENT_STATES) this.set({ agent_state: state }, counts[state] ?? 0);
        } catch {
          // Postgres down: serve the other metrics anyway; readiness reports the outage.
        }
      },
    });
  }
}
