import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Utilisation: what gangs held per cluster, and what each cluster had, per hour bucket, so a review
 * can set allocated device-hours against the device-hours bought. Booked the way queue usage is
 * (see the queue-usage migration): a reservation's held seconds go to its cluster in the same call
 * that books them to its queue, and a cluster's reported capacity (`bookable`, milli-units per
 * resource) is booked from its own mark by the same periodic booking, and by a trigger when a new
 * report replaces it. A cluster whose agent is not Connected books no capacity.
 */
export class Utilisation1764000015000 implements MigrationInterface {
  name = 'Utilisation1764000015000';

  async up(q: QueryRunner): Promise<void> {
    // Milli-unit-seconds per hour bucket, as queue_usage; no foreign key, the history outlives a
    // deleted cluster.
    for (const table of ['cluster_usage', 'capacity_history']) {
      await q.query(`
        CREATE TABLE ${table} (
          cluster text NOT NULL,
          bucket timestamptz NOT NULL,
          resource text NOT NULL,
          seconds double precision NOT NULL,
          PRIMARY KEY (cluster, bucket, resource)
        )`);
      await q.query(`CREATE INDEX ${table}_bucket ON ${table} (bucket)`);
    }
    await q.query(`
      ALTER TABLE cluster_capacity ADD COLUMN bookable jsonb,
        ADD COLUMN accounted_until timestamptz NOT NULL DEFAULT now()`);
    await q.query(`
      CREATE FUNCTION muster_book_usage(q text, c text, held jsonb, seconds float8) RETURNS void
      LANGUAGE sql AS $$
        SELECT muster_book_usage(q, held, seconds);
        INSERT INTO cluster_usage (cluster, bucket, resource, seconds)
        SELECT c, date_trunc('hour', now(), 'UTC'), u.key, u.value::float8 * seconds
          FROM jsonb_each_text(held) u
         WHERE c IS NOT NULL AND seconds > 0 AND u.value::float8 > 0
        ON CONFLICT (cluster, bucket, resource) DO UPDATE SET seconds = cluster_usage.seconds + EXCLUDED.seconds
      $$`);
    await q.query(reservationBooked('muster_book_usage(OLD.queue, OLD.cluster, OLD.usage,'));
    await q.query(`
      CREATE FUNCTION muster_book_capacity(c text, had jsonb, seconds float8) RETURNS void
      LANGUAGE sql AS $$
        INSERT INTO capacity_history (cluster, bucket, resource, seconds)
        SELECT c, date_trunc('hour', now(), 'UTC'), u.key, u.value::float8 * seconds
          FROM jsonb_each_text(had) u
         WHERE seconds > 0 AND u.value::float8 > 0
            AND EXISTS (SELECT 1 FROM clusters WHERE name = c AND agent_state = 'Connected')
        ON CONFLICT (cluster, bucket, resource) DO UPDATE SET seconds = capacity_history.seconds + EXCLUDED.seconds
      $$`);
    await q.query(`
      CREATE FUNCTION muster_capacity_booked() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM muster_book_capacity(OLD.cluster, OLD.bookable,
          GREATEST(0, EXTRACT(EPOCH FROM now() - OLD.accounted_until))::float8);
        NEW.accounted_until := now();
        RETURN NEW;
      END $$`);
    // A new report books what the one it replaces said, up to now.
    await q.query(`
      CREATE TRIGGER cluster_capacity_booked_on_report BEFORE UPDATE ON cluster_capacity
        FOR EACH ROW WHEN (OLD.bookable IS DISTINCT FROM NEW.bookable)
        EXECUTE FUNCTION muster_capacity_booked()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER cluster_capacity_booked_on_report ON cluster_capacity`);
    await q.query(`DROP FUNCTION muster_capacity_booked()`);
    await q.query(`DROP FUNCTION muster_book_capacity(text, jsonb, float8)`);
    await q.query(reservationBooked('muster_book_usage(OLD.queue, OLD.usage,'));
    await q.query(`DROP FUNCTION muster_book_usage(text, text, jsonb, float8)`);
    await q.query(`ALTER TABLE cluster_capacity DROP COLUMN accounted_until, DROP COLUMN bookable`);
    await q.query(`DROP TABLE capacity_history`);
    await q.query(`DROP TABLE cluster_usage`);
  }
}

/** The reservation trigger's function (see the queue-usage migration), booking with `book`. */
function reservationBooked(book: string): string {
  return `
    CREATE OR REPLACE FUNCTION muster_reservation_booked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM ${book}
        GREATEST(0, EXTRACT(EPOCH FROM now() - OLD.accounted_until))::float8);
      IF TG_OP = 'UPDATE' THEN
        NEW.accounted_until := now();
        RETURN NEW;
      END IF;
      RETURN OLD;
    END $$`;
}
