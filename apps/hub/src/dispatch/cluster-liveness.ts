import { AgentRegistry } from '../agents/agent-session';
import type { Log } from '@muster/log';
import { ClusterStatusRepository } from '../inventory/inventory.repository';
import { GangFencing } from './gang-fencing';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';

export const LIVENESS_SETTINGS = Symbol('LIVENESS_SETTINGS');

export interface LivenessSettings {
  /** A cluster whose agent is silent this long turns Lost, in ms. */
  lostTimeoutMs: number;
}

/**
 * Marks clusters whose agents fell silent as Lost and hands them to {@link GangFencing}, which
 * moves their `requeue` gangs once they are confirmed gone (never on the timer alone). Safe on
 * every replica: marking is one guarded UPDATE, and requeueing checks each gang's token.
 *
 * Silence is judged on one clock each: heartbeat ages on Postgres's (the hub's own clock never
 * enters), and a stream this replica holds on its monotonic clock — a cluster whose stream here
 * delivered a message within the timeout is never marked Lost, whatever the database says. After
 * this replica could not reach Postgres, it marks nothing for a whole timeout: heartbeats could
 * not be recorded meanwhile, so their age says nothing about the agents.
 */
@Injectable()
export class ClusterLiveness {
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() since when every check reached Postgres; undefined during an outage. */
  private databaseUpSince: number | undefined = performance.now();

  constructor(
    private readonly clusters: ClusterStatusRepository,
    private readonly registry: AgentRegistry,
    private readonly fencing: GangFencing,
    @Inject(LIVENESS_SETTINGS) private readonly settings: LivenessSettings,
    @InjectLog('liveness') private readonly log: Log,
  ) {}

  start(): void {
    const every = Math.max(100, Math.min(1000, Math.floor(this.settings.lostTimeoutMs / 4)));
    this.timer = setInterval(
      () =>
        void this.check().catch((err: Error) => {
          if (this.databaseUpSince !== undefined)
            this.log.warn('liveness check failed; marking nothing Lost until Postgres is back', {
              err,
            });
          this.databaseUpSince = undefined;
        }),
      every,
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(): Promise<void> {
    const now = performance.now();
    if (this.databaseUpSince === undefined) {
      await this.clusters.lostClusters(); // throws while Postgres is still away
      this.databaseUpSince = now;
      this.log.info('Postgres reachable again; judging silence again after one timeout', {
        timeoutMs: this.settings.lostTimeoutMs,
      });
    }
    if (now - this.databaseUpSince < this.settings.lostTimeoutMs) return;
    const lost = await this.clusters.markLost(
      this.settings.lostTimeoutMs,
      this.registry.heardFrom(this.settings.lostTimeoutMs, now),
    );
    for (const cluster of lost) {
      this.log.warn('cluster lost: agent silent past workerLostTimeout', {
        cluster,
        timeoutMs: this.settings.lostTimeoutMs,
      });
      await this.clusters.patch(cluster, {
        conditions: [
          {
            type: 'Joined',
            status: 'True',
            reason: 'AgentConnected',
            message: 'the Muster agent has connected before',
            lastTransitionTime: new Date().toISOString(),
            observedGeneration: 0,
          },
          {
            type: 'ControlPlaneHealthy',
            status: 'False',
            reason: 'AgentSilent',
            message: `no heartbeat for ${this.settings.lostTimeoutMs} ms`,
            lastTransitionTime: new Date().toISOString(),
            observedGeneration: 0,
          },
        ],
      });
    }
    // Also after a restart: a crash between marking and fencing must not strand gangs.
    for (const cluster of await this.clusters.lostClusters()) this.fencing.onLost(cluster);
    await this.fencing.clearRecovered();
  }
}
