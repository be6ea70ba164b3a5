import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { configSlice } from '../config/config-slice';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import { AgentRegistry } from '../agents/agent-session';
import { InventoryStoreModule } from '../inventory/inventory-store.module';
import { CLUSTER_DRAINING, MANUAL_FENCING } from '../inventory/inventory.service';
import { JobStoreModule } from '../jobs/job-store.module';
import { GANG_CANCELLER } from '../jobs/jobs.service';
import { QUEUE_DRIVER, type QueueDriver } from '../queue/queue-driver';
import { ClusterFencer, FENCER_SETTINGS } from './cluster-fencer';
import { ClusterLiveness, LIVENESS_SETTINGS } from './cluster-liveness';
import { DispatchRepository } from './dispatch.repository';
import { DISPATCH_SETTINGS, Dispatcher } from './dispatcher';
import { EVICTION_SETTINGS, Evictions } from './evictions';
import { FENCING_SETTINGS, GangFencing } from './gang-fencing';
import { RECONCILE_SETTINGS, ReconcileWork } from './reconcile.work';

/** How long a Reserved gang waits for its agent's answer before its dispatch is sent again. */
const resendAfterMs = (c: HubConfig) => Math.max(5000, c.heartbeatIntervalMs * 3);

/**
 * Between a reserved gang and its pods: deliveries to agents and their answers, the agents'
 * sessions, liveness, fencing and the reconciler that rebuilds deliveries from Postgres.
 */
@Module({
  imports: [JobStoreModule, InventoryStoreModule],
  providers: [
    AgentRegistry,
    DispatchRepository,
    Dispatcher,
    GangFencing,
    ClusterFencer,
    ClusterLiveness,
    ReconcileWork,
    Evictions,
    { provide: GANG_CANCELLER, useExisting: Dispatcher },
    { provide: MANUAL_FENCING, useExisting: GangFencing },
    { provide: CLUSTER_DRAINING, useExisting: Evictions },
    configSlice(DISPATCH_SETTINGS, (c) => ({
      maxRequeueBackoffSeconds: c.maxRequeueBackoffSeconds,
      clusterExclusionSeconds: c.clusterExclusionSeconds,
      maxDispatchAttempts: c.maxDispatchAttempts,
      resendAfterMs: resendAfterMs(c),
    })),
    configSlice(FENCING_SETTINGS, (c) => ({
      maxRequeueBackoffSeconds: c.maxRequeueBackoffSeconds,
    })),
    configSlice(FENCER_SETTINGS, (c) => ({
      providers: c.clusterAccessProviders,
      deleteGraceSeconds: c.fenceDeleteGraceSeconds,
    })),
    configSlice(LIVENESS_SETTINGS, (c) => ({ lostTimeoutMs: c.workerLostTimeoutMs })),
    configSlice(RECONCILE_SETTINGS, (c) => ({ staleAfterMs: resendAfterMs(c) })),
    configSlice(EVICTION_SETTINGS, (c) => ({ staleAfterMs: resendAfterMs(c) })),
  ],
  exports: [
    AgentRegistry,
    DispatchRepository,
    Dispatcher,
    Evictions,
    GANG_CANCELLER,
    MANUAL_FENCING,
    CLUSTER_DRAINING,
  ],
})
export class DispatchModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private listTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly reconcile: ReconcileWork,
    private readonly liveness: ClusterLiveness,
    private readonly registry: AgentRegistry,
    @Inject(QUEUE_DRIVER) private readonly queues: QueueDriver,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.queues.register(this.dispatcher);
    this.queues.register(this.reconcile);
    await this.queues.repeat(this.reconcile, {}, this.config.reconcileIntervalMs);
    // Redis may have been emptied while the hub was down: rebuild deliveries from Postgres now.
    await this.reconcile.run();
    this.liveness.start();
    this.listTimer = setInterval(() => {
      for (const s of this.registry.all())
        void this.dispatcher.sendGangList(s).catch(() => undefined);
    }, this.config.reconcileIntervalMs);
  }

  onApplicationShutdown(): void {
    if (this.listTimer) clearInterval(this.listTimer);
    this.liveness.stop();
    for (const s of this.registry.all()) s.close();
  }
}
