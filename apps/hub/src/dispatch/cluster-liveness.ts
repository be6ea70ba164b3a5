import type { ContextLogger } from '../logging/json-logger';
import type { ClusterStatusRepository } from '../inventory/inventory.repository';
import type { DispatchRepository } from './dispatch.repository';

/**
 * Marks clusters whose agents fell silent as Lost and requeues their `requeue` gangs. Safe on
 * every replica: marking is one guarded UPDATE, and requeueing checks each gang's token.
 */
export class ClusterLiveness {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly clusters: ClusterStatusRepository,
    private readonly repo: DispatchRepository,
    private readonly lostTimeoutMs: number,
    private readonly maxRequeueBackoffSeconds: number,
    private readonly onChange: () => void,
    private readonly log: ContextLogger,
  ) {}

  start(): void {
    const every = Math.max(100, Math.min(1000, Math.floor(this.lostTimeoutMs / 4)));
    this.timer = setInterval(
      () =>
        void this.check().catch((err: Error) =>
          this.log.warn('liveness check failed', { error: err.message }),
        ),
      every,
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(): Promise<void> {
    const lost = await this.clusters.markLost(this.lostTimeoutMs);
    for (const cluster of lost) {
      this.log.warn('cluster lost: agent silent past workerLostTimeout', {
        cluster,
        timeoutMs: this.lostTimeoutMs,
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
            message: `no heartbeat for ${this.lostTimeoutMs} ms`,
            lastTransitionTime: new Date().toISOString(),
            observedGeneration: 0,
          },
        ],
      });
    }
    // Also after a restart: a crash between marking and requeueing must not strand gangs.
    for (const cluster of await this.clusters.lostClusters()) {
      const moved = await this.repo.requeueLostCluster(cluster, this.maxRequeueBackoffSeconds);
      if (moved.length > 0) {
        this.log.info('requeued gangs of a lost cluster', { cluster, gangs: moved.length });
        this.onChange();
      }
    }
  }
}
