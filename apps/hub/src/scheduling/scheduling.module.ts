import { Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { configSlice } from '../config/config-slice';
import { DispatchModule } from '../dispatch/dispatch.module';
import { InventoryStoreModule } from '../inventory/inventory-store.module';
import { JobStoreModule } from '../jobs/job-store.module';
import { LEADER_SETTINGS, LeaderElector } from './leader-elector';
import { SCHEDULER_SETTINGS, Scheduler } from './scheduler';
import { CycleRepository } from './cycle.repository';

/** The scheduling cycle, run by the one replica that holds the scheduling lead. */
@Module({
  imports: [DispatchModule, InventoryStoreModule, JobStoreModule],
  providers: [
    CycleRepository,
    Scheduler,
    LeaderElector,
    configSlice(SCHEDULER_SETTINGS, (c) => ({
      maxGangsPerCycle: c.maxGangsPerCycle,
      periodMs: c.cyclePeriodMs,
      coalesceMs: c.cycleCoalesceMs,
      policy: c.placementPolicy,
    })),
    configSlice(LEADER_SETTINGS, (c) => ({
      databaseUrl: c.databaseUrl,
      retryMs: Math.min(2000, c.workerLostTimeoutMs),
    })),
  ],
})
export class SchedulingModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly leader: LeaderElector,
  ) {}

  onApplicationBootstrap(): void {
    this.leader.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.scheduler.stop();
    await this.leader.stop();
  }
}
