import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Clusters a gang may not go back to for a while, each with why and until when: set when a
 * worker could not run the gang (its scheduler did not bind every member, or it refused a member).
 */
export class ClusterExclusions1764000002000 implements MigrationInterface {
  name = 'ClusterExclusions1764000002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE jobs ADD COLUMN excluded_clusters jsonb NOT NULL DEFAULT '{}'::jsonb`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN excluded_clusters`);
  }
}
