import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import type { DataSource } from 'typeorm';
import type { Log } from '@muster/log';
import { type Principal } from '../auth/principal';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config';
import { DATA_SOURCE } from '../core.tokens';
import { SPEC_LIMITS, type SpecLimits } from '../jobs/job-spec.mapper';
import { JobsModule } from '../jobs/jobs.module';
import { JobsService } from '../jobs/jobs.service';
import { LOGGER } from '../logging/log';
import { KubeFrontDoorCluster } from './front-door.kube';
import { FrontDoorRepository } from './front-door.repository';
import { FrontDoorSync } from './front-door.sync';
import { parseQueueRules } from './queue-rules';

/**
 * Who the front door submits as: any queue, since the administrator's rules
 * (MUSTER_FRONT_DOOR_QUEUES) and Kubernetes RBAC on the management cluster decide who may
 * create what there.
 */
export const FRONT_DOOR_PRINCIPAL: Principal = {
  id: 'front-door',
  name: 'management-cluster front door',
  role: 'admin',
  queues: null,
  via: 'insecure',
};

/**
 * Takes Jobs, JobSets, PyTorchJobs ... created on the management cluster (MUSTER_INVENTORY_KUBECONFIG)
 * with a queue label as Muster jobs, and mirrors their state back; idle when the kubeconfig is
 * unset or MUSTER_FRONT_DOOR is false.
 */
export class FrontDoorRuntime {
  private sync: FrontDoorSync | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly jobs: JobsService,
    private readonly limits: SpecLimits,
    private readonly config: HubConfig,
    private readonly log: Log,
  ) {}

  start(): void {
    const c = this.config;
    if (c.inventoryKubeconfig === undefined || !c.frontDoor) {
      this.log.info('front door off', {
        reason:
          c.inventoryKubeconfig === undefined
            ? 'MUSTER_INVENTORY_KUBECONFIG is not set'
            : 'MUSTER_FRONT_DOOR is false',
      });
      return;
    }
    const kc = new KubeConfig();
    kc.loadFromFile(c.inventoryKubeconfig);
    const cluster = new KubeFrontDoorCluster(
      kc,
      `${hostname()}-${process.pid}`,
      c.frontDoorLabels,
      this.log,
    );
    const principal = FRONT_DOOR_PRINCIPAL;
    this.sync = new FrontDoorSync(
      cluster,
      new FrontDoorRepository(this.db),
      {
        submit: async (spec, clientRequestId) => {
          const { job } = await this.jobs.submit({ spec, clientRequestId }, principal);
          return { jobId: job.id };
        },
        cancel: async (jobId, reason) => {
          await this.jobs.cancel(jobId, reason, principal);
        },
      },
      {
        labels: c.frontDoorLabels,
        rules: parseQueueRules(c.frontDoorQueues),
        limits: this.limits,
        pollMs: c.inventoryPollMs,
      },
      this.log,
    );
    this.sync.start();
    this.log.info('front door started', {
      server: cluster.server,
      labels: c.frontDoorLabels.join(','),
      queues: c.frontDoorQueues.join(','),
    });
  }

  async stop(): Promise<void> {
    await this.sync?.stop();
  }
}

@Module({
  imports: [JobsModule],
  providers: [
    {
      provide: FrontDoorRuntime,
      inject: [DATA_SOURCE, JobsService, SPEC_LIMITS, HUB_CONFIG, LOGGER],
      useFactory: (
        db: DataSource,
        jobs: JobsService,
        limits: SpecLimits,
        config: HubConfig,
        logger: Log,
      ) =>
        new FrontDoorRuntime(db, jobs, limits, config, logger.child({ component: 'front-door' })),
    },
  ],
})
export class FrontDoorModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(FrontDoorRuntime) private readonly runtime: FrontDoorRuntime) {}

  onApplicationBootstrap(): void {
    this.runtime.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
  }
}
