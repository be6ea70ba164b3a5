import { fairShares } from '../scheduling/fair-share';
import { QuotaLedger } from '../scheduling/quota';
import { queueQuotaOf, usageByQueue } from '../scheduling/queue-quotas';
import { budgetStanding, type BudgetStanding } from '../scheduling/budget';
import { UsageRepository } from '../scheduling/usage.repository';
import { ErrorCode, MusterError, notFound } from '../common/errors';
import type { Log } from '@muster/log';
import {
  MUSTER_CLUSTER_MANAGER,
  type Cluster,
  type ClusterChanges,
  type ClusterRegistration,
  type Queue,
  type QueueSettings,
} from './cluster.domain';
import { InventoryRepository } from './inventory.repository';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';

/** Moves a Lost cluster's `requeue` gangs once an operator confirms it runs none (dispatch). */
/** Provided by the dispatch feature, which owns fencing. */
export const MANUAL_FENCING = Symbol('MANUAL_FENCING');

export interface ManualFencing {
  fenceCluster(name: string, reason: string, by: string): Promise<string[]>;
}

/** Drains a cluster: cordons it and gives every gang there an eviction notice (dispatch). */
export const CLUSTER_DRAINING = Symbol('CLUSTER_DRAINING');

export interface ClusterDraining {
  /** The gangs noticed; null when there is no such cluster. */
  drainCluster(
    name: string,
    graceSeconds: number,
    reason: string,
    by: string,
  ): Promise<string[] | null>;
}

/**
 * Clusters and queues: the rules; storage is the repository's. Requests arrive checked (the
 * handlers map them with inventory.mapper), so every name here is well formed.
 */
@Injectable()
export class InventoryService {
  constructor(
    private readonly repo: InventoryRepository,
    @Inject(MANUAL_FENCING) private readonly fencing: ManualFencing,
    @Inject(CLUSTER_DRAINING) private readonly draining: ClusterDraining,
    @InjectLog('inventory') private readonly log: Log,
    private readonly usage: UsageRepository,
  ) {}

  /**
   * `muster clusters fence`: the operator confirms that a Lost cluster runs none of its gangs
   * (powered off, network cut for good, pods deleted by hand). Refused for any other state: a
   * connected agent, or one never seen, is not the operator's to overrule.
   */
  async fenceCluster(
    name: string,
    reason: string,
    by: string,
  ): Promise<{ cluster: Cluster; requeued: string[] }> {
    const cluster = await this.getCluster(name);
    if (cluster.agentState !== 'Lost') {
      throw new MusterError(
        ErrorCode.FailedPrecondition,
        `cluster "${cluster.name}" is ${cluster.agentState}, not Lost; only a lost cluster can be fenced by hand (a connected agent deletes what the hub no longer lists by itself)`,
      );
    }
    const requeued = await this.fencing.fenceCluster(cluster.name, reason, by);
    return { cluster, requeued };
  }

  async registerCluster(registration: ClusterRegistration): Promise<Cluster> {
    const now = new Date();
    const cluster: Cluster = {
      ...registration,
      clusterManager: MUSTER_CLUSTER_MANAGER,
      conditions: [],
      properties: [],
      kubernetesVersion: '',
      capacity: null,
      agentState: 'NeverConnected',
      agentVersion: '',
      lastHeartbeatAt: null,
      cordoned: false,
      readOnly: false,
      createdAt: now,
      updatedAt: now,
    };
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

  async updateCluster(name: string, changes: ClusterChanges): Promise<Cluster> {
    const cluster: Cluster = {
      ...(await this.writableCluster(name)),
      ...changes,
      updatedAt: new Date(),
    };
    await this.repo.saveCluster(cluster);
    return cluster;
  }

  async getCluster(name: string): Promise<Cluster> {
    const cluster = await this.repo.findCluster(name);
    if (!cluster) throw notFound('cluster', name);
    return (await this.withDrainProgress([cluster]))[0]!;
  }

  async listClusters(): Promise<Cluster[]> {
    return this.withDrainProgress(await this.repo.listClusters());
  }

  /** Drained clusters with how many gangs they still hold. */
  private async withDrainProgress(clusters: Cluster[]): Promise<Cluster[]> {
    const drained = clusters.filter((c) => c.drain).map((c) => c.name);
    if (drained.length === 0) return clusters;
    const left = await this.repo.liveGangCounts(drained);
    return clusters.map((c) =>
      c.drain ? { ...c, drain: { ...c.drain, gangsLeft: left.get(c.name) ?? 0 } } : c,
    );
  }

  /**
   * `muster clusters drain`: the cluster takes no new gangs, and every gang on it gets an
   * eviction notice with `graceSeconds` to checkpoint, is then deleted and placed elsewhere.
   * Draining again notices only gangs that came since (the first notice's grace stands).
   */
  async drainCluster(
    name: string,
    graceSeconds: number,
    reason: string,
    by: string,
  ): Promise<{ cluster: Cluster; noticed: string[] }> {
    await this.writableCluster(name);
    const noticed = await this.draining.drainCluster(name, graceSeconds, reason, by);
    if (noticed === null) throw notFound('cluster', name);
    return { cluster: await this.getCluster(name), noticed };
  }

  /** Cordons (or uncordons) a cluster: a cordoned one keeps its gangs and takes no new ones. */
  async setCordoned(name: string, cordoned: boolean, reason?: string): Promise<Cluster> {
    const found = await this.getCluster(name);
    if (found.cordoned === cordoned) return found;
    // Uncordoning ends a drain too (gangs already noticed are still evicted).
    const cluster = {
      ...found,
      cordoned,
      ...(cordoned ? {} : { drain: null }),
      updatedAt: new Date(),
    };
    await this.repo.saveCluster(cluster);
    this.log.info(cordoned ? 'cluster cordoned' : 'cluster uncordoned', {
      cluster: cluster.name,
      reason,
    });
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

  private async writableCluster(name: string): Promise<Cluster> {
    const cluster = await this.getCluster(name);
    if (cluster.readOnly) {
      throw new MusterError(
        ErrorCode.FailedPrecondition,
        `cluster "${name}" is managed by "${cluster.clusterManager}"; change it there`,
      );
    }
    return cluster;
  }

  async createQueue(settings: QueueSettings): Promise<Queue> {
    const now = new Date();
    const queue: Queue = { ...settings, createdAt: now, updatedAt: now };
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

  async updateQueue(settings: QueueSettings): Promise<Queue> {
    const queue: Queue = {
      ...(await this.getQueue(settings.name)),
      ...settings,
      updatedAt: new Date(),
    };
    await this.repo.saveQueue(queue);
    return queue;
  }

  async getQueue(name: string): Promise<Queue> {
    const queue = await this.repo.findQueue(name);
    if (!queue) throw notFound('queue', name);
    return queue;
  }

  listQueues(): Promise<Queue[]> {
    return this.repo.listQueues();
  }

  /** The quota ledger as the admitted gangs leave it now (every queue, for cohort sums). */
  async quotaLedger(queues?: readonly Queue[]): Promise<QuotaLedger> {
    const [all, reserved] = await Promise.all([
      queues ?? this.repo.listQueues(),
      this.repo.reservedByQueue(),
    ]);
    return new QuotaLedger(
      all.flatMap((q) => (q.quota ? [queueQuotaOf(q.name, q.quota)] : [])),
      usageByQueue(reserved),
    );
  }

  /** Each queue's fair share of the fleet now, 0 to 1 (see fairShares): 0 without work. */
  async fairShares(queues: readonly Queue[]): Promise<Map<string, number>> {
    const active = await this.repo.queuesWithWork();
    return fairShares(
      queues.map((q) => ({
        name: q.name,
        weight: q.weight,
        ...(q.quota?.cohort ? { cohort: q.quota.cohort } : {}),
      })),
      active,
    );
  }

  /** What the queues with a budget used of it in its current period, and what is left (one read). */
  async budgetStandings(
    queues: readonly Queue[],
    now: Date = new Date(),
  ): Promise<Map<string, BudgetStanding>> {
    const budgeted = queues.flatMap((q) => (q.budget ? [{ queue: q.name, ...q.budget }] : []));
    const used = await this.usage.budgetUsed(budgeted, now);
    return new Map(budgeted.map((b) => [b.queue, budgetStanding(b, used.get(b.queue) ?? 0, now)]));
  }

  async deleteQueue(name: string): Promise<void> {
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
