import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CoreModule } from './core.module';
import { DispatchModule, DispatchRuntime } from './dispatch/dispatch.module';
import { HUB_CONFIG, type HubConfig } from './config/hub-config';
import { HubGrpcServer } from './grpc/grpc-server';
import { HealthController } from './http/health.controller';
import { HubMetrics } from './http/metrics';
import { InventoryModule } from './inventory/inventory.module';
import { InventoryService } from './inventory/inventory.service';
import { inventoryServiceHandlers } from './inventory/inventory.grpc';
import { JobsModule } from './jobs/jobs.module';
import { JobsService } from './jobs/jobs.service';
import { jobServiceHandlers } from './jobs/jobs.grpc';
import { JsonLogger, LOGGER } from './logging/json-logger';
import { QUEUE_DRIVER, type QueueDriver } from './queue/queue-driver';

@Module({
  imports: [CoreModule, InventoryModule, JobsModule, DispatchModule],
  controllers: [HealthController],
  providers: [
    {
      provide: HubGrpcServer,
      inject: [JobsService, InventoryService, DispatchRuntime, HubMetrics, HUB_CONFIG, LOGGER],
      useFactory: (
        jobs: JobsService,
        inventory: InventoryService,
        dispatch: DispatchRuntime,
        metrics: HubMetrics,
        c: HubConfig,
        logger: JsonLogger,
      ) => {
        const log = logger.child('grpc');
        return new HubGrpcServer(
          jobServiceHandlers(jobs, metrics, log),
          inventoryServiceHandlers(inventory, metrics, log),
          { connect: dispatch.gateway.connect },
          c.maxRequestBytes,
          log,
        );
      },
    },
  ],
})
export class AppModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly grpc: HubGrpcServer,
    @Inject(QUEUE_DRIVER) private readonly queues: QueueDriver,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  /** Runs after every feature registered its work, so the queue workers know all handlers. */
  async onApplicationBootstrap(): Promise<void> {
    await this.queues.start();
    await this.grpc.listen(this.config.grpcAddress);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.grpc.close();
  }
}
