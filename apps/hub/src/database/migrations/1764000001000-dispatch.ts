import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Reservations, member states, agent capacity reports and requeue backoff for dispatching. */
export class Dispatch1764000001000 implements MigrationInterface {
  name = 'Dispatch1764000001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN not_before timestamptz`);
    await q.query(`ALTER TABLE jobs ADD COLUMN attempts int NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE jobs ADD COLUMN explanation jsonb`);
    await q.query(
      `CREATE INDEX jobs_queued ON jobs (priority DESC, created_at) WHERE state = 'Queued'`,
    );
    await q.query(
      `CREATE INDEX jobs_cluster_live ON jobs (cluster) WHERE state IN ('Reserved','Dispatched','Running')`,
    );
    await q.query(`
      CREATE TABLE reservations (
        job_id uuid PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        cluster text NOT NULL,
        fencing_token bigint NOT NULL,
        placement jsonb NOT NULL,
        node_requests jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX reservations_cluster ON reservations (cluster)`);
    await q.query(`
      CREATE TABLE job_members (
        job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        fencing_token bigint NOT NULL,
        pod_set text NOT NULL,
        idx int NOT NULL,
        phase text NOT NULL,
        reason text NOT NULL DEFAULT '',
        exit_code int NOT NULL DEFAULT 0,
        node_name text NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, fencing_token, pod_set, idx)
      )`);
    await q.query(`
      CREATE TABLE cluster_capacity (
        cluster text PRIMARY KEY REFERENCES clusters(name) ON DELETE CASCADE,
        epoch text NOT NULL,
        report_sequence bigint NOT NULL,
        nodes jsonb NOT NULL,
        reflected jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE cluster_capacity`);
    await q.query(`DROP TABLE job_members`);
    await q.query(`DROP TABLE reservations`);
    await q.query(`DROP INDEX jobs_cluster_live`);
    await q.query(`DROP INDEX jobs_queued`);
    await q.query(`ALTER TABLE jobs DROP COLUMN explanation`);
    await q.query(`ALTER TABLE jobs DROP COLUMN attempts`);
    await q.query(`ALTER TABLE jobs DROP COLUMN not_before`);
  }
}
