import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core.module';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import type { Log } from '@muster/log';
import { LOGGER } from '../logging/log';
import { InventoryModule } from '../inventory/inventory.module';
import { ClusterStatusRepository, InventoryRepository } from '../inventory/inventory.repository';
import { InventoryService } from '../inventory/inventory.service';
import { JobsModule } from '../jobs/jobs.module';
import { JobsRepository } from '../jobs/jobs.repository';
import { JobsService } from '../jobs/jobs.service';
import { JobEventFeed } from '../jobs/job-event-feed';
import { QUEUE_DRIVER, type QueueDriver } from '../queue/queue-driver';
import { AgentGateway } from '../agents/agent-gateway';
import { AgentRegistry } from '../agents/agent-session';
import { LeaderElector } from '../scheduling/leader-elector';
import { Scheduler } from '../scheduling/scheduler';
import { ClusterFencer } from './cluster-fencer';
import { ClusterLiveness } from './cluster-liveness';
import { GangFencing } from './gang-fencing';
import { DispatchRepository } from './dispatch.repository';
import { Dispatcher } from './dispatcher';
import { ReconcileWork } from './reconcile.work';

/** Everything between a queued gang and its pods: scheduling, dispatch, agents, liveness. */
export class DispatchRuntime {
  readonly registry = new AgentRegistry();
  readonly repo: DispatchRepository;
  readonly clusters: ClusterStatusRepository;
  readonly dispatcher: Dispatcher;
  readonly scheduler: Scheduler;
  readonly gateway: AgentGateway;
  readonly liveness: ClusterLiveness;
  readonly fencing: GangFencing;
  readonly leader: LeaderElector;
  readonly reconcile: ReconcileWork;
  private listTimer: NodeJS.Timeout | undefined;

  constructor(
    db: DataSource,
    jobsRepo: JobsRepository,
    inventory: InventoryRepository,
    jobs: JobsService,
    inventoryService: InventoryService,
    feed: JobEventFeed,
    private readonly queues: QueueDriver,
    private readonly config: HubConfig,
    logger: Log,
  ) {
    this.repo = new DispatchRepository(db, jobsRepo);
    this.clusters = new ClusterStatusRepository(db);
    const notify = () => feed.notify();
    const trigger = { requestCycle: (reason: string) => this.scheduler.requestCycle(reason) };
    this.dispatcher = new Dispatcher(
      this.repo,
      this.registry,
      queues,
      {
        maxRequeueBackoffSeconds: config.maxRequeueBackoffSeconds,
        clusterExclusionSeconds: config.clusterExclusionSeconds,
        maxDispatchAttempts: config.maxDispatchAttempts,
      },
      notify,
      trigger,
      logger.child({ component: 'dispatch' }),
    );
    this.scheduler = new Scheduler(
      this.repo,
      inventory,
      this.registry,
      this.dispatcher,
      {
        maxGangsPerCycle: config.maxGangsPerCycle,
        periodMs: config.cyclePeriodMs,
        coalesceMs: config.cycleCoalesceMs,
        policy: config.placementPolicy,
      },
      notify,
      logger.child({ component: 'scheduler' }),
    );
    this.gateway = new AgentGateway(
      inventory,
      this.clusters,
      this.registry,
      this.dispatcher,
      this.repo,
      {
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        selfFenceTimeoutMs: config.selfFenceTimeoutMs,
        fenceDeleteGraceSeconds: config.fenceDeleteGraceSeconds,
        persistIntervalMs: 500,
      },
      () => this.scheduler.requestCycle('capacity'),
      logger.child({ component: 'agents' }),
    );
    this.fencing = new GangFencing(
      this.clusters,
      this.repo,
      new ClusterFencer(
        config.clusterAccessProviders,
        config.fenceDeleteGraceSeconds,
        logger.child({ component: 'fencing' }),
      ),
      config.maxRequeueBackoffSeconds,
      () => {
        notify();
        this.scheduler.requestCycle('cluster fenced');
      },
      logger.child({ component: 'fencing' }),
    );
    this.liveness = new ClusterLiveness(
      this.clusters,
      this.registry,
      this.fencing,
      config.workerLostTimeoutMs,
      logger.child({ component: 'liveness' }),
    );
    inventoryService.setFencing({
      fenceCluster: (name, reason, by) => this.fencing.byHand(name, reason, by),
    });
    this.leader = new LeaderElector(
      config.databaseUrl,
      Math.min(2000, config.workerLostTimeoutMs),
      (leading, epoch) => this.scheduler.setLeader(leading, epoch),
      logger.child({ component: 'leader' }),
    );
    this.reconcile = new ReconcileWork(
      this.repo,
      this.dispatcher,
      Math.max(5000, config.heartbeatIntervalMs * 3),
      logger.child({ component: 'reconcile' }),
    );
    jobs.setCanceller({
      cancelGang: (jobId, cluster, token) => {
        this.scheduler.requestCycle('cancel');
        return this.dispatcher.enqueueCancel(jobId, cluster, token);
      },
    });
    // Any committed job event may be a submit: wake the scheduler (a no-op off the leader).
    feed.subscribe((e) => {
      if (e.state === 'Queued') this.scheduler.requestCycle('submit');
    });
  }

  async start(): Promise<void> {
    this.queues.register(this.dispatcher);
    this.queues.register(this.reconcile);
    await this.queues.repeat(this.reconcile, {}, this.config.reconcileIntervalMs);
    // Redis may have been emptied while the hub was down: rebuild deliveries from Postgres now.
    await this.reconcile.run();
    this.liveness.start();
    this.leader.start();
    this.listTimer = setInterval(() => {
      for (const s of this.registry.all())
        void this.dispatcher.sendGangList(s).catch(() => undefined);
    }, this.config.reconcileIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.listTimer) clearInterval(this.listTimer);
    this.liveness.stop();
    this.scheduler.stop();
    await this.leader.stop();
    for (const s of this.registry.all()) s.close();
  }
}

@Module({
  imports: [InventoryModule, JobsModule],
  providers: [
    {
      provide: DispatchRuntime,
      inject: [
        DATA_SOURCE,
        JobsRepository,
        InventoryRepository,
        JobsService,
        InventoryService,
        JobEventFeed,
        QUEUE_DRIVER,
        HUB_CONFIG,
        LOGGER,
      ],
      useFactory: (
        db: DataSource,
        jobsRepo: JobsRepository,
        inventory: InventoryRepository,
        jobs: JobsService,
        inventoryService: InventoryService,
        feed: JobEventFeed,
        queues: QueueDriver,
        config: HubConfig,
        logger: Log,
      ) =>
        new DispatchRuntime(
          db,
          jobsRepo,
          inventory,
          jobs,
          inventoryService,
          feed,
          queues,
          config,
          logger,
        ),
    },
  ],
  exports: [DispatchRuntime],
})
export class DispatchModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(DispatchRuntime) private readonly runtime: DispatchRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.runtime.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
  }
}
