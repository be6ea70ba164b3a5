import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE queues (
        name text PRIMARY KEY,
        description text NOT NULL DEFAULT '',
        weight int NOT NULL DEFAULT 1 CHECK (weight > 0),
        allowed_namespaces text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE clusters (
        name text PRIMARY KEY,
        display_name text NOT NULL DEFAULT '',
        cluster_manager text NOT NULL,
        cluster_set text NOT NULL DEFAULT '',
        labels jsonb NOT NULL DEFAULT '{}',
        topology_levels text[] NOT NULL DEFAULT '{}',
        access_providers jsonb NOT NULL DEFAULT '[]',
        conditions jsonb NOT NULL DEFAULT '[]',
        properties jsonb NOT NULL DEFAULT '[]',
        kubernetes_version text NOT NULL DEFAULT '',
        capacity jsonb,
        agent_state text NOT NULL,
        agent_version text NOT NULL DEFAULT '',
        last_heartbeat_at timestamptz,
        cordoned boolean NOT NULL DEFAULT false,
        read_only boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        client_request_id text UNIQUE,
        spec_hash text NOT NULL,
        name text NOT NULL,
        queue text NOT NULL REFERENCES queues(name) ON DELETE RESTRICT,
        priority int NOT NULL,
        on_cluster_lost text NOT NULL,
        namespace text NOT NULL,
        labels jsonb NOT NULL,
        gang jsonb NOT NULL,
        state text NOT NULL,
        reason text NOT NULL,
        message text NOT NULL,
        cluster text,
        dispatch_generation bigint NOT NULL DEFAULT 0,
        members jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX jobs_queue_state_created ON jobs (queue, state, created_at)`);
    await q.query(`CREATE INDEX jobs_created_id ON jobs (created_at DESC, id DESC)`);
    await q.query(`
      CREATE TABLE job_events (
        seq bigserial PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        queue text NOT NULL,
        from_state text,
        state text NOT NULL,
        reason text NOT NULL,
        message text NOT NULL,
        cluster text,
        members jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX job_events_job_seq ON job_events (job_id, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE job_events`);
    await q.query(`DROP TABLE jobs`);
    await q.query(`DROP TABLE clusters`);
    await q.query(`DROP TABLE queues`);
  }
}
