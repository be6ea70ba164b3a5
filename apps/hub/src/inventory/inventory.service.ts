import { fairShares } from '../scheduling/fair-share';
import { QuotaLedger } from '../scheduling/quota';
import { cohortQuotaOf, queueQuotaOf, usageByQueue } from '../scheduling/queue-quotas';
import { budgetStanding, type BudgetStanding } from '../scheduling/budget';
import { UsageRepository, type UsageBucket } from '../scheduling/usage.repository';
import { utilisationReport, type UtilisationQuery, type UtilisationReport } from './utilisation';
import { assertNever, ErrorCode, invalidArgument, MusterError, notFound } from '../common/errors';
import type { Log } from '@muster/log';
import {
  MUSTER_CLUSTER_MANAGER,
  type Cluster,
  type ClusterChanges,
  type ClusterRegistration,
  type Cohort,
  type CohortSettings,
  type Queue,
  type QueueSettings,
} from './cluster.domain';
import { InventoryRepository, type CohortWrite } from './inventory.repository';
import { MAX_COHORT_DEPTH } from './cohort-chain';
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

/** What is under a cohort: the queues whose quota names it and the cohorts whose parent it is. */
export interface CohortMembers {
  /** Sorted. */
  queues: string[];
  /** Sorted. */
  children: string[];
}

/**
 * Clusters, queues and cohorts: the rules; storage is the repository's. Requests arrive checked
 * (the handlers map them with inventory.mapper and cohort.mapper), so every name here is well
 * formed.
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
    const [all, reserved, cohorts] = await Promise.all([
      queues ?? this.repo.listQueues(),
      this.repo.reservedByQueue(),
      this.repo.listCohorts(),
    ]);
    return new QuotaLedger(
      all.flatMap((q) => (q.quota ? [queueQuotaOf(q.name, q.quota)] : [])),
      usageByQueue(reserved),
      cohorts.map(cohortQuotaOf),
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

  /** Each queue's hour buckets of the usage history the hub keeps, oldest first. */
  usageHistory(): Promise<Map<string, UsageBucket[]>> {
    return this.usage.history();
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

  /**
   * Allocated against capacity device-hours over the query's range (see utilisationReport);
   * `since` before the usage retention is refused, as those buckets are pruned.
   */
  async utilisation(query: UtilisationQuery, now: Date = new Date()): Promise<UtilisationReport> {
    const kept = now.getTime() - this.usage.retentionDays * 86_400_000;
    if (query.since.getTime() < kept)
      throw invalidArgument(
        'since',
        `must be within the usage retention of ${this.usage.retentionDays} days (MUSTER_USAGE_RETENTION_DAYS)`,
      );
    return utilisationReport(query, await this.usage.utilisationRows(query));
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

  async createCohort(settings: CohortSettings): Promise<Cohort> {
    const now = new Date();
    const cohort: Cohort = { ...settings, createdAt: now, updatedAt: now };
    cohortWritten(await this.repo.insertCohort(cohort), cohort);
    this.log.info('cohort created', { cohort: cohort.name, parent: cohort.parent ?? undefined });
    return cohort;
  }

  /** Replaces the cohort's parent, description and quota (what settings leave out is removed). */
  async updateCohort(settings: CohortSettings): Promise<Cohort> {
    const current = await this.getCohort(settings.name);
    const cohort: Cohort = {
      parent: null,
      quota: null,
      ...settings,
      createdAt: current.createdAt,
      updatedAt: new Date(),
    };
    cohortWritten(await this.repo.updateCohort(cohort), cohort);
    this.log.info('cohort updated', { cohort: cohort.name, parent: cohort.parent ?? undefined });
    return cohort;
  }

  async getCohort(name: string): Promise<Cohort> {
    const cohort = await this.repo.findCohort(name);
    if (!cohort) throw notFound('cohort', name);
    return cohort;
  }

  listCohorts(): Promise<Cohort[]> {
    return this.repo.listCohorts();
  }

  /** What is under each cohort named, from every queue and every stored cohort (one read each). */
  async cohortMembers(names: readonly string[]): Promise<Map<string, CohortMembers>> {
    const [queues, cohorts] = await Promise.all([this.repo.listQueues(), this.repo.listCohorts()]);
    const members = new Map<string, CohortMembers>(
      names.map((n) => [n, { queues: [], children: [] }]),
    );
    for (const q of queues) {
      if (q.quota?.cohort) members.get(q.quota.cohort)?.queues.push(q.name);
    }
    for (const c of cohorts) {
      if (c.parent) members.get(c.parent)?.children.push(c.name);
    }
    for (const m of members.values()) {
      m.queues.sort();
      m.children.sort();
    }
    return members;
  }

  /**
   * Deletes the cohort, whatever names it: its queues and child cohorts then name an implicit
   * cohort with no quota, as before cohorts were objects.
   */
  async deleteCohort(name: string): Promise<void> {
    if (!(await this.repo.deleteCohort(name))) throw notFound('cohort', name);
    this.log.info('cohort deleted', { cohort: name });
  }
}

/** Throws the refusal a cohort write ended with, if any. */
function cohortWritten(write: CohortWrite, cohort: Cohort): void {
  switch (write.outcome) {
    case 'written':
      return;
    case 'exists':
      throw new MusterError(
        ErrorCode.AlreadyExists,
        `cohort "${cohort.name}" already exists`,
        'cohort.name',
      );
    case 'missing':
      throw notFound('cohort', cohort.name);
    case 'refused':
      throw new MusterError(
        ErrorCode.FailedPrecondition,
        write.problem === 'loop'
          ? `would make a loop: ${write.chain.join(' → ')}`
          : `would make a cohort tree ${write.chain.length} levels deep, more than ${MAX_COHORT_DEPTH}: ${write.chain.join(' → ')}`,
        'cohort.parent',
      );
    default:
      return assertNever(write);
  }
}
