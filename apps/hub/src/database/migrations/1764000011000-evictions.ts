import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Graceful eviction: a live gang given notice (preempted, or its cluster drained) carries its
 * eviction until it is requeued; a drained cluster carries its drain until it is uncordoned; a
 * queue says what its gangs may preempt and the highest priority its jobs may have; a job keeps
 * the priority class it named.
 */
export class Evictions1764000011000 implements MigrationInterface {
  name = 'Evictions1764000011000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN eviction jsonb`);
    await q.query(`ALTER TABLE jobs ADD COLUMN eviction_grace_seconds int`);
    // Priority classes: the class a job named, and the highest priority a queue's jobs may have.
    await q.query(`ALTER TABLE jobs ADD COLUMN priority_class text`);
    await q.query(`ALTER TABLE queues ADD COLUMN max_priority int`);
    await q.query(`ALTER TABLE clusters ADD COLUMN drain jsonb`);
    // What a queue's waiting gangs may preempt; NULL: nothing.
    await q.query(`ALTER TABLE queues ADD COLUMN preemption jsonb`);
    // The reconciler and a reconnecting agent's resync look evicting gangs up by cluster.
    await q.query(`CREATE INDEX jobs_evicting ON jobs (cluster) WHERE eviction IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_evicting`);
    await q.query(`ALTER TABLE queues DROP COLUMN preemption`);
    await q.query(`ALTER TABLE clusters DROP COLUMN drain`);
    await q.query(`ALTER TABLE queues DROP COLUMN max_priority`);
    await q.query(`ALTER TABLE jobs DROP COLUMN priority_class`);
    await q.query(`ALTER TABLE jobs DROP COLUMN eviction_grace_seconds`);
    await q.query(`ALTER TABLE jobs DROP COLUMN eviction`);
  }
}
