import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { configSlice } from '../config/config-slice';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import { DispatchModule } from '../dispatch/dispatch.module';
import { InventoryStoreModule } from '../inventory/inventory-store.module';
import { JobStoreModule } from '../jobs/job-store.module';
import { LEADER_SETTINGS, LeaderElector } from './leader-elector';
import { SCHEDULER_SETTINGS, Scheduler } from './scheduler';
import { CycleRepository } from './cycle.repository';
import { USAGE_SETTINGS, UsageRepository } from './usage.repository';
import { PruneUsageWork } from '../maintenance/prune-usage.work';
import { QUEUE_DRIVER, type QueueDriver } from '../queue/queue-driver';

/**
 * The scheduling cycle, run by the one replica that holds the scheduling lead, and the queues'
 * usage history it books (read by budgets).
 */
@Module({
  imports: [DispatchModule, InventoryStoreModule, JobStoreModule],
  providers: [
    CycleRepository,
    UsageRepository,
    PruneUsageWork,
    Scheduler,
    LeaderElector,
    configSlice(SCHEDULER_SETTINGS, (c) => ({
      maxGangsPerCycle: c.maxGangsPerCycle,
      periodMs: c.cyclePeriodMs,
      coalesceMs: c.cycleCoalesceMs,
      policy: c.placementPolicy,
      evictionGraceSeconds: c.evictionGraceSeconds,
      fairShareHalfLifeSeconds: c.fairShareHalfLifeSeconds,
    })),
    configSlice(LEADER_SETTINGS, (c) => ({
      databaseUrl: c.databaseUrl,
      retryMs: Math.min(2000, c.workerLostTimeoutMs),
    })),
    configSlice(USAGE_SETTINGS, (c) => ({ retentionDays: c.usageRetentionDays })),
  ],
  exports: [UsageRepository],
})
export class SchedulingModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly leader: LeaderElector,
    private readonly pruneUsage: PruneUsageWork,
    @Inject(QUEUE_DRIVER) private readonly queues: QueueDriver,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.leader.start();
    this.queues.register(this.pruneUsage);
    await this.queues.repeat(
      this.pruneUsage,
      { retentionDays: this.config.usageRetentionDays },
      this.config.pruneIntervalMs,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.scheduler.stop();
    await this.leader.stop();
  }
}
