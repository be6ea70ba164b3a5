import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The scheduling leader's epoch: raised by each replica that takes the leader lock, and checked
 * by every cycle commit, so a cycle of a replica that lost leadership while it ran can never
 * commit reservations next to the new leader's.
 */
export class SchedulerLeader1764000004000 implements MigrationInterface {
  name = 'SchedulerLeader1764000004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler_leader (
        id int PRIMARY KEY CHECK (id = 1),
        epoch bigint NOT NULL,
        holder text NOT NULL,
        since timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO scheduler_leader (id, epoch, holder) VALUES (1, 0, '')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler_leader`);
  }
}
