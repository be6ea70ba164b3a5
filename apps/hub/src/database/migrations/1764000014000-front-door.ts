import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The management-cluster objects the front door took (a Job, JobSet, PyTorchJob ... with a queue
 * label), one row per object UID: the job it became (NULL when it was refused, with `refused`
 * saying why), and what was last mirrored onto the object (`mirrored`: state and reason), so a
 * hub restart neither submits an object twice nor repeats its Events. The row lives as long as
 * the object: a finished job's object keeps its row, so it is never submitted again.
 */
export class FrontDoor1764000014000 implements MigrationInterface {
  name = 'FrontDoor1764000014000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE front_door_objects (
        uid text PRIMARY KEY,
        api_version text NOT NULL,
        kind text NOT NULL,
        namespace text NOT NULL,
        name text NOT NULL,
        generation bigint NOT NULL DEFAULT 0,
        job_id uuid,
        refused text,
        mirrored text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((job_id IS NULL) <> (refused IS NULL))
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE front_door_objects`);
  }
}
