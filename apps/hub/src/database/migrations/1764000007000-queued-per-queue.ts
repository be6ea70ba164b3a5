import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A cycle reads each queue's queued head separately (see CycleRepository.queuedGangs). */
export class QueuedPerQueue1764000007000 implements MigrationInterface {
  name = 'QueuedPerQueue1764000007000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX jobs_queued_per_queue ON jobs (queue, priority DESC, created_at) WHERE state = 'Queued'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_queued_per_queue`);
  }
}
