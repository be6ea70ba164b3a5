import {
  type DynamicModule,
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ClusterProfilesModule } from './cluster-profiles/cluster-profiles.module';
import { CoreModule } from './core.module';
import { FrontDoorModule } from './front-door/front-door.module';
import { HUB_CONFIG, type HubConfig } from './config/hub-config';
import { HubGrpcServer } from './grpc/grpc-server';
import { HealthController } from './http/health.controller';
import { ConsoleApiController } from './console/console-api.controller';
import { ConsoleController } from './console/console.controller';
import { ClusterStateGauge } from './http/cluster-state.gauge';
import { UtilisationGauge } from './http/utilisation.gauge';
import { JobStateGauge } from './http/job-state.gauge';
import { HubMetrics } from './http/metrics';
import { AgentsModule } from './agents/agents.module';
import { AgentGateway } from './agents/agent-gateway';
import { InventoryModule } from './inventory/inventory.module';
import { InventoryStoreModule } from './inventory/inventory-store.module';
import { InventoryService } from './inventory/inventory.service';
import { inventoryServiceHandlers } from './inventory/inventory.grpc';
import { JobsModule } from './jobs/jobs.module';
import { JobStoreModule } from './jobs/job-store.module';
import { JobsService } from './jobs/jobs.service';
import { jobServiceHandlers } from './jobs/jobs.grpc';
import { SPEC_LIMITS, type SpecLimits } from './jobs/job-spec.mapper';
import type { Log } from '@muster/log';
import { LOGGER } from './logging/log';
import { LogModule } from './logging/inject-log';
import { SchedulingModule } from './scheduling/scheduling.module';
import { QUEUE_DRIVER, type QueueDriver } from './queue/queue-driver';
import { HUB_SECURITY, type HubSecurity } from './auth/security';
import { guardAgentStream } from './grpc/agent-stream-guard';

@Module({
  imports: [
    // After every feature file is loaded, so it provides each logger they asked for.
    LogModule.forRoot(),
    JobStoreModule,
    InventoryStoreModule,
    InventoryModule,
    JobsModule,
    AgentsModule,
    SchedulingModule,
    ClusterProfilesModule,
    FrontDoorModule,
  ],
  controllers: [HealthController, ConsoleController, ConsoleApiController],
  providers: [
    // Nest builds every provider at startup, so the gauges register without being injected.
    JobStateGauge,
    ClusterStateGauge,
    UtilisationGauge,
    {
      provide: HubGrpcServer,
      inject: [
        JobsService,
        InventoryService,
        AgentGateway,
        HubMetrics,
        HUB_CONFIG,
        LOGGER,
        HUB_SECURITY,
        SPEC_LIMITS,
      ],
      useFactory: (
        jobs: JobsService,
        inventory: InventoryService,
        gateway: AgentGateway,
        metrics: HubMetrics,
        c: HubConfig,
        logger: Log,
        security: HubSecurity,
        limits: SpecLimits,
      ) => {
        const log = logger.child({ component: 'grpc' });
        const ctx = { log, metrics, auth: security.auth, watchers: security.watchers };
        return new HubGrpcServer(
          jobServiceHandlers(jobs, ctx, security.submits, limits),
          inventoryServiceHandlers(inventory, ctx),
          {
            connect: guardAgentStream(gateway.connect, {
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
  /** The hub with the configuration, logger and security main.ts built (and so checked). */
  static forRoot(config: HubConfig, logger: Log, security: HubSecurity): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(config, logger)],
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
