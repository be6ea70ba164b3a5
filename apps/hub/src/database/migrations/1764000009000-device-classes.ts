import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each cluster's DRA DeviceClasses beside its reported nodes, for a leader on another replica. */
export class DeviceClasses1764000009000 implements MigrationInterface {
  name = 'DeviceClasses1764000009000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE cluster_capacity ADD COLUMN device_classes jsonb NOT NULL DEFAULT '[]'::jsonb`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE cluster_capacity DROP COLUMN device_classes`);
  }
}
