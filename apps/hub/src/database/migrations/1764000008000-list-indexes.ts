import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the reads a long history makes slow. ListJobs pages are ordered by
 * (created_at DESC, id DESC): filtered by queue or by state they walked the whole history behind
 * a small queue or an old backlog, and sorted it. The event prune finds ended jobs by updated_at.
 */
export class ListIndexes1764000008000 implements MigrationInterface {
  name = 'ListIndexes1764000008000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX jobs_queue_created_id ON jobs (queue, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX jobs_state_created_id ON jobs (state, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX jobs_ended_updated ON jobs (updated_at) WHERE state IN ('Succeeded','Failed','Cancelled')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_ended_updated`);
    await q.query(`DROP INDEX jobs_state_created_id`);
    await q.query(`DROP INDEX jobs_queue_created_id`);
  }
}
