import type { DataSource, EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { JobEntity } from '../jobs/job.entity';
import type { AccessProvider, Cluster, Cohort, Queue } from './cluster.domain';
import { ClusterEntity } from './cluster.entity';
import { CohortEntity } from './cohort.entity';
import { cohortChainProblem, type CohortChainProblem } from './cohort-chain';
import { QueueEntity } from './queue.entity';
import type { NodeRequests } from '../scheduling/cycle.repository';
import { deviceCountsOf, type HeldQuota } from '../scheduling/queue-quotas';
import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '../core.tokens';

/** What writing a cohort did: written, or why nothing was. */
export type CohortWrite =
  | { outcome: 'written' }
  /** Create: a cohort of that name exists. */
  | { outcome: 'exists' }
  /** Update: there is no cohort of that name. */
  | { outcome: 'missing' }
  /** Its parent would make a loop or a tree too deep. */
  | ({ outcome: 'refused' } & CohortChainProblem);

/** All SQL about clusters, queues and cohorts. Entities stay in here: callers get domain values. */
@Injectable()
export class InventoryRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  private classes: { at: number; names: Promise<Set<string>> } | undefined;

  /**
   * The DRA DeviceClasses some registered cluster reports, read at most every 5 s (a submit of a
   * job with device claims checks its classes against them).
   */
  knownDeviceClasses(): Promise<Set<string>> {
    const now = Date.now();
    if (!this.classes || now - this.classes.at > 5_000) {
      const names = this.db
        .query(
          `SELECT DISTINCT c->>'name' AS name
             FROM cluster_capacity, jsonb_array_elements(device_classes) AS c`,
        )
        .then((rows: { name: string }[]) => new Set(rows.map((r) => r.name)));
      names.catch(() => (this.classes = undefined));
      this.classes = { at: now, names };
    }
    return this.classes.names;
  }

  findQueue(name: string): Promise<Queue | null> {
    return this.db.getRepository(QueueEntity).findOneBy({ name });
  }

  listQueues(): Promise<Queue[]> {
    return this.db.getRepository(QueueEntity).find({ order: { name: 'ASC' } });
  }

  /**
   * What every reservation holds of its job's queue's quota: node requests, devices per class
   * (from its stored usage) and its cluster's cluster set (see heldAmounts).
   */
  async reservedByQueue(): Promise<
    Array<{ queue: string; nodeRequests: NodeRequests } & Required<HeldQuota>>
  > {
    const rows = (await this.db.query(
      `SELECT j.queue, r.node_requests, r.usage, c.cluster_set
         FROM reservations r JOIN jobs j ON j.id = r.job_id
         LEFT JOIN clusters c ON c.name = r.cluster`,
    )) as {
      queue: string;
      node_requests: NodeRequests;
      usage: Record<string, number> | null;
      cluster_set: string | null;
    }[];
    return rows.map((r) => ({
      queue: r.queue,
      nodeRequests: r.node_requests,
      clusterSet: r.cluster_set ?? '',
      deviceCounts: deviceCountsOf(r.usage),
    }));
  }

  /** Inserts the queue; false when one with that name exists. */
  async insertQueue(queue: Queue): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO queues (name, description, weight, allowed_namespaces, created_at, updated_at, quota, budget, preemption, max_priority)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (name) DO NOTHING RETURNING name`,
      [
        queue.name,
        queue.description,
        queue.weight,
        queue.allowedNamespaces,
        queue.createdAt,
        queue.updatedAt,
        queue.quota ? JSON.stringify(queue.quota) : null,
        queue.budget ? JSON.stringify(queue.budget) : null,
        queue.preemption ? JSON.stringify(queue.preemption) : null,
        queue.maxPriority ?? null,
      ],
    );
    return rows.length > 0;
  }

  async saveQueue(queue: Queue): Promise<void> {
    await this.db.getRepository(QueueEntity).save(queue);
  }

  /** Deletes the queue unless it has unfinished jobs; finished jobs go with it. */
  async deleteQueue(name: string): Promise<'deleted' | 'missing' | 'busy'> {
    return this.db.transaction(async (tx) => {
      const queue = await tx
        .getRepository(QueueEntity)
        .findOne({ where: { name }, lock: { mode: 'pessimistic_write' } });
      if (!queue) return 'missing';
      const active = await tx
        .getRepository(JobEntity)
        .createQueryBuilder('j')
        .where('j.queue = :name', { name })
        .andWhere(`j.state NOT IN ('Succeeded','Failed','Cancelled')`)
        .getCount();
      if (active > 0) return 'busy';
      await tx.delete(JobEntity, { queue: name });
      await tx.delete(QueueEntity, { name });
      return 'deleted';
    });
  }

  findCohort(name: string): Promise<Cohort | null> {
    return this.db.getRepository(CohortEntity).findOneBy({ name });
  }

  /** Every cohort created (not the implicit ones a queue or a parent only names), by name. */
  listCohorts(): Promise<Cohort[]> {
    return this.db.getRepository(CohortEntity).find({ order: { name: 'ASC' } });
  }

  /** Inserts the cohort unless one with that name exists or its parent breaks the tree. */
  insertCohort(cohort: Cohort): Promise<CohortWrite> {
    return this.writeCohort(cohort, 'create', (tx) =>
      tx.query(
        `INSERT INTO cohorts (name, parent, description, quota, created_at, updated_at)
         VALUES ($1,$2,$3,$4,$5,$6)`,
        [
          cohort.name,
          cohort.parent ?? null,
          cohort.description,
          cohort.quota ? JSON.stringify(cohort.quota) : null,
          cohort.createdAt,
          cohort.updatedAt,
        ],
      ),
    );
  }

  /** Replaces the cohort's parent, description and quota unless its parent breaks the tree. */
  updateCohort(cohort: Cohort): Promise<CohortWrite> {
    return this.writeCohort(cohort, 'update', (tx) =>
      tx.query(
        `UPDATE cohorts SET parent = $2, description = $3, quota = $4, updated_at = $5
          WHERE name = $1`,
        [
          cohort.name,
          cohort.parent ?? null,
          cohort.description,
          cohort.quota ? JSON.stringify(cohort.quota) : null,
          cohort.updatedAt,
        ],
      ),
    );
  }

  /**
   * Checks the cohort's parent against every stored one and writes it, in one transaction that
   * first takes the table's SHARE ROW EXCLUSIVE lock (which conflicts with itself, not with
   * readers): of two concurrent writes that would make a loop together, the second one sees the
   * first and is refused.
   */
  private writeCohort(
    cohort: Cohort,
    mode: 'create' | 'update',
    write: (tx: EntityManager) => Promise<unknown>,
  ): Promise<CohortWrite> {
    return this.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE cohorts IN SHARE ROW EXCLUSIVE MODE');
      const rows = (await tx.query(`SELECT name, parent FROM cohorts`)) as {
        name: string;
        parent: string | null;
      }[];
      const parents = new Map(rows.map((r) => [r.name, r.parent]));
      if (mode === 'create' && parents.has(cohort.name)) return { outcome: 'exists' };
      if (mode === 'update' && !parents.has(cohort.name)) return { outcome: 'missing' };
      const problem = cohortChainProblem(parents, cohort.name, cohort.parent ?? null);
      if (problem) return { outcome: 'refused', ...problem };
      await write(tx);
      return { outcome: 'written' };
    });
  }

  /** Deletes the cohort; false when there is none. Its queues and children are left as they are. */
  async deleteCohort(name: string): Promise<boolean> {
    const rows = (await this.db.query(`DELETE FROM cohorts WHERE name = $1 RETURNING name`, [
      name,
    ])) as [unknown[], number];
    return rows[1] > 0;
  }

  findCluster(name: string): Promise<Cluster | null> {
    return this.db.getRepository(ClusterEntity).findOneBy({ name });
  }

  listClusters(): Promise<Cluster[]> {
    return this.db.getRepository(ClusterEntity).find({ order: { name: 'ASC' } });
  }

  async insertCluster(cluster: Cluster): Promise<boolean> {
    const result = await this.db
      .createQueryBuilder()
      .insert()
      .into(ClusterEntity)
      .values(cluster as QueryDeepPartialEntity<ClusterEntity>)
      .orIgnore()
      .returning(['name'])
      .execute();
    return (result.raw as unknown[]).length > 0;
  }

  /** The queues with gangs queued or admitted (reserved, dispatched or running). */
  async queuesWithWork(): Promise<Set<string>> {
    const rows = (await this.db.query(
      `SELECT DISTINCT queue FROM jobs WHERE state IN ('Queued','Reserved','Dispatched','Running')`,
    )) as { queue: string }[];
    return new Set(rows.map((r) => r.queue));
  }

  /** Live gangs (reserved, dispatched or running) on each of the clusters named. */
  async liveGangCounts(names: readonly string[]): Promise<Map<string, number>> {
    if (names.length === 0) return new Map();
    const rows = (await this.db.query(
      `SELECT cluster, count(*)::int AS n FROM jobs
        WHERE cluster = ANY($1::text[]) AND state IN ('Reserved','Dispatched','Running')
        GROUP BY cluster`,
      [names],
    )) as { cluster: string; n: number }[];
    return new Map(rows.map((r) => [r.cluster, r.n]));
  }

  async saveCluster(cluster: Cluster): Promise<void> {
    await this.db.getRepository(ClusterEntity).save(cluster);
  }

  /** Deregisters a cluster unless gangs still hold a placement there. */
  async deleteCluster(name: string): Promise<'deleted' | 'missing' | 'busy'> {
    return this.db.transaction(async (tx) => {
      const cluster = await tx
        .getRepository(ClusterEntity)
        .findOne({ where: { name }, lock: { mode: 'pessimistic_write' } });
      if (!cluster) return 'missing';
      const held = await tx
        .getRepository(JobEntity)
        .createQueryBuilder('j')
        .where('j.cluster = :name', { name })
        .andWhere(`j.state IN ('Reserved','Dispatched','Running')`)
        .getCount();
      if (held > 0) return 'busy';
      await tx.delete(ClusterEntity, { name });
      return 'deleted';
    });
  }
}

/** What an agent's connection changes on its cluster row. */
export interface AgentStatePatch {
  agentState?: 'Connected' | 'Lost';
  agentVersion?: string;
  kubernetesVersion?: string;
  /** Set to Postgres's `now()`: heartbeat ages are judged on the database's clock alone. */
  lastHeartbeatAt?: 'now';
  capacity?: unknown;
  conditions?: unknown;
}

@Injectable()
export class ClusterStatusRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /**
   * What gangs hold now per cluster and resource (from reservations), or what connected clusters
   * have (their reported bookable capacity), in resource units: the utilisation gauges.
   */
  async heldNow(
    what: 'allocated' | 'capacity',
  ): Promise<{ cluster: string; resource: string; amount: number }[]> {
    const sql =
      what === 'allocated'
        ? `SELECT r.cluster, u.key AS resource, SUM(u.value::float8) / 1000 AS amount
             FROM reservations r, jsonb_each_text(r.usage) u GROUP BY 1, 2`
        : `SELECT k.cluster, u.key AS resource, u.value::float8 / 1000 AS amount
             FROM cluster_capacity k JOIN clusters c ON c.name = k.cluster AND c.agent_state = 'Connected',
                  jsonb_each_text(k.bookable) u`;
    return (await this.db.query(sql)) as { cluster: string; resource: string; amount: number }[];
  }

  async patch(name: string, patch: AgentStatePatch): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [name];
    const add = (column: string, value: unknown) => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (patch.agentState !== undefined) add('agent_state', patch.agentState);
    if (patch.agentVersion !== undefined) add('agent_version', patch.agentVersion);
    if (patch.kubernetesVersion !== undefined) add('kubernetes_version', patch.kubernetesVersion);
    if (patch.lastHeartbeatAt === 'now') sets.push('last_heartbeat_at = now()');
    if (patch.capacity !== undefined) add('capacity', JSON.stringify(patch.capacity));
    if (patch.conditions !== undefined) add('conditions', JSON.stringify(patch.conditions));
    if (sets.length === 0) return;
    await this.db.query(
      `UPDATE clusters SET ${sets.join(', ')}, updated_at = now() WHERE name = $1`,
      params,
    );
  }

  /**
   * Connected clusters whose last heartbeat (on the database's clock) is older than the timeout
   * become Lost, except those in `heardFrom` (a live stream on the calling replica); returns them.
   */
  async markLost(timeoutMs: number, heardFrom: string[] = []): Promise<string[]> {
    const rows = (await this.db.query(
      `UPDATE clusters SET agent_state = 'Lost', updated_at = now()
        WHERE agent_state = 'Connected' AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $1::float8 / 1000))
          AND name <> ALL($2::text[])
      RETURNING name`,
      [timeoutMs, heardFrom],
    )) as [{ name: string }[], number];
    return rows[0].map((r) => r.name);
  }

  /** How the hub reaches the cluster's API server (empty when it was registered without). */
  async accessProvidersOf(name: string): Promise<AccessProvider[]> {
    const rows = (await this.db.query(`SELECT access_providers FROM clusters WHERE name = $1`, [
      name,
    ])) as { access_providers: AccessProvider[] | null }[];
    return rows[0]?.access_providers ?? [];
  }

  /** Registered clusters per agent state, for the liveness gauge. */
  async countByAgentState(): Promise<Record<string, number>> {
    const rows = (await this.db.query(
      'SELECT agent_state, COUNT(*)::int AS n FROM clusters GROUP BY agent_state',
    )) as { agent_state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.agent_state, r.n]));
  }

  /** Lost clusters whose requeue gangs may still wait for a requeue (run after a hub restart too). */
  async lostClusters(): Promise<string[]> {
    const rows = (await this.db.query(`SELECT name FROM clusters WHERE agent_state = 'Lost'`)) as {
      name: string;
    }[];
    return rows.map((r) => r.name);
  }
}
