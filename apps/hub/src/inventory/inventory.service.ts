import type {
  CordonClusterRequest,
  FenceClusterRequest,
  RegisterClusterRequest,
  UpdateClusterRequest,
  Queue,
} from '@muster/api';
import { ErrorCode, invalidArgument, MusterError, notFound } from '../common/errors';
import type { Log } from '@muster/log';
import { labelsToDomain } from '../jobs/job-spec.mapper';
import { ClusterEntity } from './cluster.entity';
import { QueueEntity } from './queue.entity';
import { DEFAULT_TOPOLOGY_LEVELS, MUSTER_CLUSTER_MANAGER } from './cluster.domain';
import { InventoryRepository } from './inventory.repository';
import {
  accessProvidersToDomain,
  checkName,
  clusterSetToDomain,
  displayNameToDomain,
  queueToDomain,
  topologyLevelsToDomain,
} from './inventory.mapper';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';

/** Moves a Lost cluster's `requeue` gangs once an operator confirms it runs none (dispatch). */
/** Provided by the dispatch feature, which owns fencing. */
export const MANUAL_FENCING = Symbol('MANUAL_FENCING');

export interface ManualFencing {
  fenceCluster(name: string, reason: string, by: string): Promise<string[]>;
}

/** Longest operator reason kept with a manual fence. */
const MAX_FENCE_REASON = 1024;

/** Clusters and queues: validation and rules; storage is the repository's. */
@Injectable()
export class InventoryService {
  constructor(
    private readonly repo: InventoryRepository,
    @Inject(MANUAL_FENCING) private readonly fencing: ManualFencing,
    @InjectLog('inventory') private readonly log: Log,
  ) {}

  /**
   * `muster clusters fence`: the operator confirms that a Lost cluster runs none of its gangs
   * (powered off, network cut for good, pods deleted by hand). Refused for any other state: a
   * connected agent, or one never seen, is not the operator's to overrule.
   */
  async fenceCluster(
    req: FenceClusterRequest,
    by: string,
  ): Promise<{ cluster: ClusterEntity; requeued: string[] }> {
    const cluster = await this.getCluster(req.name);
    if (req.reason.length > MAX_FENCE_REASON) {
      throw invalidArgument(
        'reason',
        `must be at most ${MAX_FENCE_REASON} characters (got ${req.reason.length})`,
      );
    }
    if (cluster.agentState !== 'Lost') {
      throw new MusterError(
        ErrorCode.FailedPrecondition,
        `cluster "${cluster.name}" is ${cluster.agentState}, not Lost; only a lost cluster can be fenced by hand (a connected agent deletes what the hub no longer lists by itself)`,
      );
    }
    const requeued = await this.fencing.fenceCluster(cluster.name, req.reason, by);
    return { cluster, requeued };
  }

  async registerCluster(req: RegisterClusterRequest): Promise<ClusterEntity> {
    const now = new Date();
    const cluster = Object.assign(new ClusterEntity(), {
      name: checkName('name', req.name),
      displayName: displayNameToDomain('display_name', req.displayName || req.name),
      clusterManager: MUSTER_CLUSTER_MANAGER,
      clusterSet: clusterSetToDomain('cluster_set', req.clusterSet),
      labels: labelsToDomain('labels', req.labels),
      topologyLevels:
        req.topologyLevels.length > 0
          ? topologyLevelsToDomain('topology_levels', req.topologyLevels)
          : DEFAULT_TOPOLOGY_LEVELS,
      accessProviders: accessProvidersToDomain('access_providers', req.accessProviders),
      conditions: [],
      properties: [],
      kubernetesVersion: '',
      capacity: null,
      agentState: 'NeverConnected' as const,
      agentVersion: '',
      lastHeartbeatAt: null,
      cordoned: false,
      readOnly: false,
      createdAt: now,
      updatedAt: now,
    });
    if (!(await this.repo.insertCluster(cluster))) {
      throw new MusterError(
        ErrorCode.AlreadyExists,
        `cluster "${cluster.name}" is already registered`,
        'name',
      );
    }
    this.log.info('cluster registered', { cluster: cluster.name });
    return cluster;
  }

  async updateCluster(req: UpdateClusterRequest): Promise<ClusterEntity> {
    const cluster = await this.writableCluster(req.name);
    if (req.displayName !== undefined)
      cluster.displayName = displayNameToDomain('display_name', req.displayName);
    if (req.clusterSet !== undefined)
      cluster.clusterSet = clusterSetToDomain('cluster_set', req.clusterSet);
    if (req.replaceTopologyLevels) {
      cluster.topologyLevels =
        req.topologyLevels.length > 0
          ? topologyLevelsToDomain('topology_levels', req.topologyLevels)
          : DEFAULT_TOPOLOGY_LEVELS;
    }
    if (req.replaceAccessProviders)
      cluster.accessProviders = accessProvidersToDomain('access_providers', req.accessProviders);
    if (req.replaceLabels) cluster.labels = labelsToDomain('labels', req.labels);
    cluster.updatedAt = new Date();
    await this.repo.saveCluster(cluster);
    return cluster;
  }

  async getCluster(name: string): Promise<ClusterEntity> {
    checkName('name', name);
    const cluster = await this.repo.findCluster(name);
    if (!cluster) throw notFound('cluster', name);
    return cluster;
  }

  listClusters(): Promise<ClusterEntity[]> {
    return this.repo.listClusters();
  }

  async setCordoned(
    req: CordonClusterRequest | { name: string },
    cordoned: boolean,
  ): Promise<ClusterEntity> {
    const cluster = await this.getCluster(req.name);
    if (cluster.cordoned !== cordoned) {
      cluster.cordoned = cordoned;
      cluster.updatedAt = new Date();
      await this.repo.saveCluster(cluster);
      this.log.info(cordoned ? 'cluster cordoned' : 'cluster uncordoned', {
        cluster: cluster.name,
        reason: 'reason' in req ? req.reason : undefined,
      });
    }
    return cluster;
  }

  async deregisterCluster(name: string): Promise<void> {
    await this.writableCluster(name);
    const outcome = await this.repo.deleteCluster(name);
    if (outcome === 'missing') throw notFound('cluster', name);
    if (outcome === 'busy') {
      throw new MusterError(
        ErrorCode.FailedPrecondition,
        `cluster "${name}" still holds gangs; cordon it and wait for them to finish or cancel them first`,
      );
    }
    this.log.info('cluster deregistered', { cluster: name });
  }

  private async writableCluster(name: string): Promise<ClusterEntity> {
    const cluster = await this.getCluster(name);
    if (cluster.readOnly) {
      throw new MusterError(
        ErrorCode.FailedPrecondition,
        `cluster "${name}" is managed by "${cluster.clusterManager}"; change it there`,
      );
    }
    return cluster;
  }

  async createQueue(q: Queue | undefined): Promise<QueueEntity> {
    const fields = queueToDomain('queue', q);
    const now = new Date();
    const queue = Object.assign(new QueueEntity(), { ...fields, createdAt: now, updatedAt: now });
    if (!(await this.repo.insertQueue(queue))) {
      throw new MusterError(
        ErrorCode.AlreadyExists,
        `queue "${queue.name}" already exists`,
        'queue.name',
      );
    }
    this.log.info('queue created', { queue: queue.name });
    return queue;
  }

  async updateQueue(q: Queue | undefined): Promise<QueueEntity> {
    const fields = queueToDomain('queue', q);
    const queue = await this.getQueue(fields.name);
    Object.assign(queue, fields, { updatedAt: new Date() });
    await this.repo.saveQueue(queue);
    return queue;
  }

  async getQueue(name: string): Promise<QueueEntity> {
    checkName('name', name);
    const queue = await this.repo.findQueue(name);
    if (!queue) throw notFound('queue', name);
    return queue;
  }

  listQueues(): Promise<QueueEntity[]> {
    return this.repo.listQueues();
  }

  async deleteQueue(name: string): Promise<void> {
    checkName('name', name);
    const outcome = await this.repo.deleteQueue(name);
    if (outcome === 'missing') throw notFound('queue', name);
    if (outcome === 'busy') {
      throw new MusterError(
        ErrorCode.FailedPrecondition,
        `queue "${name}" has unfinished jobs; cancel them first`,
      );
    }
    this.log.info('queue deleted', { queue: name });
  }
}
