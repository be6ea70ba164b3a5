import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { KubeConfig } from '@kubernetes/client-node';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core.tokens';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import type { Log } from '@muster/log';
import { LOGGER } from '../logging/log';
import { QUEUE_DRIVER, type QueueDriver } from '../queue/queue-driver';
import { ClusterProfileResyncWork } from './cluster-profile-resync.work';
import { KubeClusterProfileStore } from './cluster-profile.kube';
import { ClusterProfileRepository } from './cluster-profile.repository';
import { ClusterProfileSync } from './cluster-profile.sync';
import { KubePlacementDecisionStore } from './placement-decision.kube';
import { WatchedOwnProfiles } from './placement-decision.profiles';
import { PlacementDecisionRepository } from './placement-decision.repository';
import { PlacementDecisionSync } from './placement-decision.sync';

/**
 * Shares the inventory as SIG-Multicluster ClusterProfiles on the management cluster named by
 * MUSTER_INVENTORY_KUBECONFIG (and imports other managers' ClusterProfiles), and, unless
 * MUSTER_PLACEMENT_DECISIONS is false, every dispatched gang's placement as a PlacementDecision
 * beside them; idle when unset.
 */
export class ClusterProfileRuntime {
  private sync: ClusterProfileSync | undefined;
  private decisions: PlacementDecisionSync | undefined;
  private readonly log: Log;
  private readonly logger: Log;

  constructor(
    private readonly db: DataSource,
    private readonly queues: QueueDriver,
    private readonly config: HubConfig,
    logger: Log,
  ) {
    this.logger = logger;
    this.log = logger.child({ component: 'cluster-profiles' });
  }

  get enabled(): boolean {
    return this.config.inventoryKubeconfig !== undefined;
  }

  async start(): Promise<void> {
    const c = this.config;
    if (c.inventoryKubeconfig === undefined) {
      this.log.info('ClusterProfile sync off: MUSTER_INVENTORY_KUBECONFIG is not set');
      return;
    }
    // A kubeconfig that cannot be read is a configuration error: the hub does not start.
    const kc = new KubeConfig();
    kc.loadFromFile(c.inventoryKubeconfig);
    const store = new KubeClusterProfileStore(kc, this.log);
    this.sync = new ClusterProfileSync(
      store,
      new ClusterProfileRepository(this.db),
      {
        namespace: c.inventoryNamespace,
        importNamespaces: c.inventoryImportNamespaces,
        lostTimeoutMs: c.workerLostTimeoutMs,
        pollMs: c.inventoryPollMs,
        capacityIntervalMs: c.inventoryCapacityIntervalMs,
      },
      this.log,
    );
    const work = new ClusterProfileResyncWork(this.sync);
    this.queues.register(work);
    await this.queues.repeat(work, {}, c.inventoryResyncMs);
    this.sync.start();
    this.log.info('ClusterProfile sync started', {
      server: store.server,
      namespace: c.inventoryNamespace,
      importNamespaces: c.inventoryImportNamespaces.join(','),
      pollMs: c.inventoryPollMs,
      resyncMs: c.inventoryResyncMs,
    });
    this.startDecisions(kc, store);
  }

  /** PlacementDecisions: their own sync and watches, so they never hold up ClusterProfiles. */
  private startDecisions(kc: KubeConfig, profiles: KubeClusterProfileStore): void {
    const c = this.config;
    const log = this.logger.child({ component: 'placement-decisions' });
    if (!c.placementDecisions) {
      log.info('PlacementDecision sync off: MUSTER_PLACEMENT_DECISIONS is false');
      return;
    }
    this.decisions = new PlacementDecisionSync(
      new KubePlacementDecisionStore(kc, profiles, log),
      new PlacementDecisionRepository(this.db),
      new WatchedOwnProfiles(profiles, c.inventoryNamespace),
      { namespace: c.inventoryNamespace, pollMs: c.inventoryPollMs },
      log,
    );
    this.decisions.start();
    log.info('PlacementDecision sync started', {
      namespace: c.inventoryNamespace,
      pollMs: c.inventoryPollMs,
    });
  }

  async stop(): Promise<void> {
    await Promise.all([this.sync?.stop(), this.decisions?.stop()]);
  }
}

@Module({
  providers: [
    {
      provide: ClusterProfileRuntime,
      inject: [DATA_SOURCE, QUEUE_DRIVER, HUB_CONFIG, LOGGER],
      useFactory: (db: DataSource, queues: QueueDriver, config: HubConfig, logger: Log) =>
        new ClusterProfileRuntime(db, queues, config, logger),
    },
  ],
  exports: [ClusterProfileRuntime],
})
export class ClusterProfilesModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(ClusterProfileRuntime) private readonly runtime: ClusterProfileRuntime) {}

  /** Before AppModule starts the queue workers, so the resync work has its handler. */
  async onApplicationBootstrap(): Promise<void> {
    await this.runtime.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
  }
}
