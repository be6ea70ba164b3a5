import { Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { configSlice } from '../config/config-slice';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import { DispatchModule } from '../dispatch/dispatch.module';
import { InventoryStoreModule } from '../inventory/inventory-store.module';
import { PruneEventsWork } from '../maintenance/prune-events.work';
import { QUEUE_DRIVER, type QueueDriver } from '../queue/queue-driver';
import { JobStoreModule } from './job-store.module';
import { JOBS_SETTINGS, JobsService } from './jobs.service';
import { SPEC_LIMITS } from './job-spec.mapper';

/** Submitting, reading, watching and cancelling jobs (JobsService), and pruning old events. */
@Module({
  imports: [JobStoreModule, InventoryStoreModule, DispatchModule],
  providers: [
    JobsService,
    PruneEventsWork,
    configSlice(JOBS_SETTINGS, (c) => ({ watchBufferEvents: c.watchBufferEvents })),
    configSlice(SPEC_LIMITS, (c) => ({
      maxPodSetsPerGang: c.maxPodSetsPerGang,
      maxMembersPerGang: c.maxMembersPerGang,
      podPolicy: c.podPolicy,
      maxTemplateMetadataBytes: c.maxTemplateMetadataBytes,
      priorityClasses: c.priorityClasses,
    })),
  ],
  exports: [JobsService, SPEC_LIMITS],
})
export class JobsModule implements OnApplicationBootstrap {
  constructor(
    private readonly prune: PruneEventsWork,
    @Inject(QUEUE_DRIVER) private readonly queues: QueueDriver,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.queues.register(this.prune);
    await this.queues.repeat(
      this.prune,
      { retentionHours: this.config.eventRetentionHours },
      this.config.pruneIntervalMs,
    );
  }
}
