import type { DataSource } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { JobEntity } from '../jobs/job.entity';
import { ClusterEntity } from './cluster.entity';
import { QueueEntity } from './queue.entity';

/** All SQL about clusters and queues. */
export class InventoryRepository {
  constructor(private readonly db: DataSource) {}

  findQueue(name: string): Promise<QueueEntity | null> {
    return this.db.getRepository(QueueEntity).findOneBy({ name });
  }

  listQueues(): Promise<QueueEntity[]> {
    return this.db.getRepository(QueueEntity).find({ order: { name: 'ASC' } });
  }

  /** Inserts the queue; false when one with that name exists. */
  async insertQueue(queue: QueueEntity): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO queues (name, description, weight, allowed_namespaces, created_at, updated_at)
       VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (name) DO NOTHING RETURNING name`,
      [queue.name, queue.description, queue.weight, queue.allowedNamespaces, queue.createdAt, queue.updatedAt],
    );
    return rows.length > 0;
  }

  async saveQueue(queue: QueueEntity): Promise<void> {
    await this.db.getRepository(QueueEntity).save(queue);
  }

  /** Deletes the queue unless it has unfinished jobs; finished jobs go with it. */
  async deleteQueue(name: string): Promise<'deleted' | 'missing' | 'busy'> {
    return this.db.transaction(async (tx) => {
      const queue = await tx.getRepository(QueueEntity).findOne({ where: { name }, lock: { mode: 'pessimistic_write' } });
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

  findCluster(name: string): Promise<ClusterEntity | null> {
    return this.db.getRepository(ClusterEntity).findOneBy({ name });
  }

  listClusters(): Promise<ClusterEntity[]> {
    return this.db.getRepository(ClusterEntity).find({ order: { name: 'ASC' } });
  }

  async insertCluster(cluster: ClusterEntity): Promise<boolean> {
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

  async saveCluster(cluster: ClusterEntity): Promise<void> {
    await this.db.getRepository(ClusterEntity).save(cluster);
  }

  /** Deregisters a cluster unless gangs still hold a placement there. */
  async deleteCluster(name: string): Promise<'deleted' | 'missing' | 'busy'> {
    return this.db.transaction(async (tx) => {
      const cluster = await tx.getRepository(ClusterEntity).findOne({ where: { name }, lock: { mode: 'pessimistic_write' } });
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
