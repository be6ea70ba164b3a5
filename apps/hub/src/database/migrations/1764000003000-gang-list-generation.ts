import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Generations of the authoritative gang lists sent to agents, from one sequence for all
 * replicas: a list is applied only when newer than the last one, and a replica's wall clock must
 * not decide that. It starts above the millisecond clock values hubs used before it existed, so
 * agents that saw those still accept the next list.
 */
export class GangListGeneration1764000003000 implements MigrationInterface {
  name = 'GangListGeneration1764000003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE gang_list_generation`);
    await q.query(
      `SELECT setval('gang_list_generation', (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 86400000)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SEQUENCE gang_list_generation`);
  }
}
