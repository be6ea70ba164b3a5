import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Gangs of a lost cluster that wait for a confirmed fence carry reason `AwaitingFence`; liveness
 * looks them up every check, so they get a small partial index rather than a scan of all jobs.
 */
export class AwaitingFence1764000006000 implements MigrationInterface {
  name = 'AwaitingFence1764000006000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX jobs_awaiting_fence ON jobs (cluster) WHERE reason = 'AwaitingFence'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_awaiting_fence`);
  }
}
