import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Device-hour budgets and the usage history they read: a queue's budget (NULL: none), and what its
 * gangs held per hour bucket, booked from each reservation's lifetime. A reservation carries its
 * queue, what it holds (`usage`, milli-units per resource) and until when it has been booked; the
 * periodic booking moves that mark forward, and a trigger books the rest when the reservation goes
 * or is replaced, in the same transaction. So every second a reservation held is booked once,
 * however short the gang ran, whichever replica deletes it.
 */
export class QueueUsage1764000012000 implements MigrationInterface {
  name = 'QueueUsage1764000012000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE queues ADD COLUMN budget jsonb`);
    // Milli-unit-seconds per hour bucket (1 GPU held for 1 s = 1000). No foreign key to queues:
    // the history outlives a deleted queue, and a queue created again with the same name inherits
    // it; only buckets older than MUSTER_USAGE_RETENTION_DAYS are pruned.
    await q.query(`
      CREATE TABLE queue_usage (
        queue text NOT NULL,
        bucket timestamptz NOT NULL,
        resource text NOT NULL,
        seconds double precision NOT NULL,
        PRIMARY KEY (queue, bucket, resource)
      )`);
    // Pruning deletes by age alone.
    await q.query(`CREATE INDEX queue_usage_bucket ON queue_usage (bucket)`);
    await q.query(`
      ALTER TABLE reservations ADD COLUMN queue text, ADD COLUMN usage jsonb,
        ADD COLUMN accounted_until timestamptz NOT NULL DEFAULT now()`);
    // Books `seconds` of what a reservation holds into its queue's current hour.
    await q.query(`
      CREATE FUNCTION muster_book_usage(q text, held jsonb, seconds float8) RETURNS void
      LANGUAGE sql AS $$
        INSERT INTO queue_usage (queue, bucket, resource, seconds)
        SELECT q, date_trunc('hour', now(), 'UTC'), u.key, u.value::float8 * seconds
          FROM jsonb_each_text(held) u
         WHERE q IS NOT NULL AND seconds > 0 AND u.value::float8 > 0
        ON CONFLICT (queue, bucket, resource) DO UPDATE SET seconds = queue_usage.seconds + EXCLUDED.seconds
      $$`);
    await q.query(`
      CREATE FUNCTION muster_reservation_booked() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM muster_book_usage(OLD.queue, OLD.usage,
          GREATEST(0, EXTRACT(EPOCH FROM now() - OLD.accounted_until))::float8);
        IF TG_OP = 'UPDATE' THEN
          NEW.accounted_until := now();
          RETURN NEW;
        END IF;
        RETURN OLD;
      END $$`);
    await q.query(`
      CREATE TRIGGER reservations_booked_on_delete AFTER DELETE ON reservations
        FOR EACH ROW EXECUTE FUNCTION muster_reservation_booked()`);
    // A reservation replaced by a new placement (ON CONFLICT DO UPDATE) books the old one.
    await q.query(`
      CREATE TRIGGER reservations_booked_on_replace BEFORE UPDATE ON reservations
        FOR EACH ROW WHEN (OLD.fencing_token IS DISTINCT FROM NEW.fencing_token)
        EXECUTE FUNCTION muster_reservation_booked()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER reservations_booked_on_replace ON reservations`);
    await q.query(`DROP TRIGGER reservations_booked_on_delete ON reservations`);
    await q.query(`DROP FUNCTION muster_reservation_booked()`);
    await q.query(`DROP FUNCTION muster_book_usage(text, jsonb, float8)`);
    await q.query(
      `ALTER TABLE reservations DROP COLUMN accounted_until, DROP COLUMN usage, DROP COLUMN queue`,
    );
    await q.query(`DROP TABLE queue_usage`);
    await q.query(`ALTER TABLE queues DROP COLUMN budget`);
  }
}
