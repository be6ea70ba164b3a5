import type { MigrationInterface, QueryRunner } from 'typeorm';

/** How often a gang may be started again after a member failed, and how often it was. */
export class GangRestarts1764000005000 implements MigrationInterface {
  name = 'GangRestarts1764000005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN max_restarts int NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE jobs ADD COLUMN restarts int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN restarts`);
    await q.query(`ALTER TABLE jobs DROP COLUMN max_restarts`);
  }
}
