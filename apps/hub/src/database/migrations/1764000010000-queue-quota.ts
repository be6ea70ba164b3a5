import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A queue's quota (nominal, cohort, borrowing and lending limits); NULL: not limited. */
export class QueueQuota1764000010000 implements MigrationInterface {
  name = 'QueueQuota1764000010000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE queues ADD COLUMN quota jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE queues DROP COLUMN quota`);
  }
}
