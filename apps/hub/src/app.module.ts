import {
  type DynamicModule,
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ClusterProfilesModule } from './cluster-profiles/cluster-profiles.module';
import { CoreModule } from './core.module';
import { DispatchModule, DispatchRuntime } from './dispatch/dispatch.module';
import { HUB_CONFIG, type HubConfig } from './config/hub-config';
import { HubGrpcServer } from './grpc/grpc-server';
import { HealthController } from './http/health.controller';
import { JobStateGauge } from './http/job-state.gauge';
import { HubMetrics } from './http/metrics';
import { InventoryModule } from './inventory/inventory.module';
import { InventoryService } from './inventory/inventory.service';
import { inventoryServiceHandlers } from './inventory/inventory.grpc';
import { JobsModule } from './jobs/jobs.module';
import { JobsService } from './jobs/jobs.service';
import { jobServiceHandlers } from './jobs/jobs.grpc';
import type { Log } from '@muster/log';
import { LOGGER } from './logging/log';
import { QUEUE_DRIVER, type QueueDriver } from './queue/queue-driver';
import type { HubSecurity } from './auth/security';
import { guardAgentStream } from './grpc/agent-stream-guard';

/** The transport and authentication main.ts built from the configuration before startup. */
const HUB_SECURITY = Symbol('HUB_SECURITY');

@Module({
  imports: [CoreModule, InventoryModule, JobsModule, DispatchModule, ClusterProfilesModule],
  controllers: [HealthController],
  providers: [
    // Nest builds every provider at startup, so the gauge registers without being injected.
    JobStateGauge,
    {
      provide: HubGrpcServer,
      inject: [
        JobsService,
        InventoryService,
        DispatchRuntime,
        HubMetrics,
        HUB_CONFIG,
        LOGGER,
        HUB_SECURITY,
      ],
      useFactory: (
        jobs: JobsService,
        inventory: InventoryService,
        dispatch: DispatchRuntime,
        metrics: HubMetrics,
        c: HubConfig,
        logger: Log,
        security: HubSecurity,
      ) => {
        const log = logger.child({ component: 'grpc' });
        const ctx = { log, metrics, auth: security.auth, watchers: security.watchers };
        return new HubGrpcServer(
          jobServiceHandlers(jobs, ctx, security.submits),
          inventoryServiceHandlers(inventory, ctx),
          {
            connect: guardAgentStream(dispatch.gateway.connect, {
              requireCertificate: security.transport.mode === 'mtls',
              messagesPerSecond: c.agentMessagesPerSecond,
              messageBurst: c.agentMessageBurst,
              log: logger.child({ component: 'agents' }),
              metrics,
            }),
          },
          c.maxRequestBytes,
          security.transport,
          log,
        );
      },
    },
  ],
})
export class AppModule implements OnApplicationBootstrap, OnApplicationShutdown {
  /** The hub with the security main.ts already built (and so already checked). */
  static forRoot(security: HubSecurity): DynamicModule {
    return {
      module: AppModule,
      providers: [{ provide: HUB_SECURITY, useValue: security }],
    };
  }

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
