import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cohorts as objects: a cohort's parent (NULL: a root), its own quota ({"nominal": {...},
 * "borrowingLimit"?: {...}, "lendingLimit"?: {...}}; NULL: none) and a description. No foreign
 * key on the parent, nor from the queues' quotas: a cohort named without a row is an implicit
 * root with no quota, as every cohort was before, so deleting one never touches its members.
 */
export class Cohorts1764000013000 implements MigrationInterface {
  name = 'Cohorts1764000013000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE cohorts (
        name text PRIMARY KEY,
        parent text,
        description text NOT NULL DEFAULT '',
        quota jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (parent IS NULL OR parent <> name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE cohorts`);
  }
}
