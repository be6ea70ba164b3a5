// The SQL of the front door: the objects it took (front_door_objects) with their jobs' state.
// Every write is conditional, so replicas running the same pass write each change once.
import type { DataSource } from 'typeorm';
import type { JobStateName, MemberCounts, StoredExplanation } from '../jobs/job.domain';

export interface TakenObject {
  uid: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  generation: number;
  /** The job it became; null when refused. */
  jobId: string | null;
  refused: string | null;
  /** What was last mirrored onto the object (see FrontDoorSync's mirror key). */
  mirrored: string;
  /** The job, when it still exists. */
  job?: {
    state: JobStateName;
    reason: string;
    message: string;
    cluster: string | null;
    members: MemberCounts;
    /** Why the last cycle did not place it, while queued. */
    explanation: StoredExplanation | null;
  };
}

interface Row {
  uid: string;
  api_version: string;
  kind: string;
  namespace: string;
  name: string;
  generation: string;
  job_id: string | null;
  refused: string | null;
  mirrored: string;
  state: JobStateName | null;
  reason: string | null;
  message: string | null;
  cluster: string | null;
  members: MemberCounts | null;
  explanation: StoredExplanation | null;
}

function taken(r: Row): TakenObject {
  return {
    uid: r.uid,
    apiVersion: r.api_version,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    generation: Number(r.generation),
    jobId: r.job_id,
    refused: r.refused,
    mirrored: r.mirrored,
    ...(r.state !== null
      ? {
          job: {
            state: r.state,
            reason: r.reason ?? '',
            message: r.message ?? '',
            cluster: r.cluster,
            members: r.members ?? { total: 0, pending: 0, running: 0, succeeded: 0, failed: 0 },
            explanation: r.explanation,
          },
        }
      : {}),
  };
}

/** Every taken object with its job's state (read-only SQL). */
const TAKEN = `
  SELECT f.uid, f.api_version, f.kind, f.namespace, f.name, f.generation, f.job_id, f.refused,
         f.mirrored, j.state, j.reason, j.message, j.cluster, j.members, j.explanation
    FROM front_door_objects f
    LEFT JOIN jobs j ON j.id = f.job_id`;

export type NewTakenObject = Omit<TakenObject, 'mirrored' | 'job'>;

export class FrontDoorRepository {
  constructor(private readonly db: DataSource) {}

  async list(): Promise<TakenObject[]> {
    const rows = (await this.db.query(`${TAKEN} ORDER BY f.created_at, f.uid`)) as Row[];
    return rows.map(taken);
  }

  async get(uid: string): Promise<TakenObject | undefined> {
    const rows = (await this.db.query(`${TAKEN} WHERE f.uid = $1`, [uid])) as Row[];
    return rows[0] && taken(rows[0]);
  }

  /** The job submitted with a client request id, if any. */
  async jobOfRequest(clientRequestId: string): Promise<string | undefined> {
    const rows = (await this.db.query(`SELECT id FROM jobs WHERE client_request_id = $1`, [
      clientRequestId,
    ])) as { id: string }[];
    return rows[0]?.id;
  }

  /** Records a taken object; false when a row for its UID exists already. */
  async insert(o: NewTakenObject): Promise<boolean> {
    const rows = (await this.db.query(
      `INSERT INTO front_door_objects (uid, api_version, kind, namespace, name, generation, job_id, refused)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (uid) DO NOTHING RETURNING uid`,
      [o.uid, o.apiVersion, o.kind, o.namespace, o.name, o.generation, o.jobId, o.refused],
    )) as unknown[];
    return rows.length === 1;
  }

  /** A refused object's new outcome, if the row still holds the refusal `from`. */
  async retake(
    uid: string,
    from: string | null,
    to: { generation: number; jobId: string | null; refused: string | null },
  ): Promise<boolean> {
    const [rows] = (await this.db.query(
      `UPDATE front_door_objects SET generation = $3, job_id = $4, refused = $5, mirrored = '',
              updated_at = now()
        WHERE uid = $1 AND refused = $2 AND job_id IS NULL RETURNING uid`,
      [uid, from, to.generation, to.jobId, to.refused],
    )) as [unknown[], number];
    return rows.length === 1;
  }

  /** Moves the mirror mark from `from` to `to`; true for the one replica that moved it. */
  async mirror(uid: string, from: string, to: string): Promise<boolean> {
    const [rows] = (await this.db.query(
      `UPDATE front_door_objects SET mirrored = $3, updated_at = now()
        WHERE uid = $1 AND mirrored = $2 RETURNING uid`,
      [uid, from, to],
    )) as [unknown[], number];
    return rows.length === 1;
  }

  async remove(uid: string): Promise<void> {
    await this.db.query(`DELETE FROM front_door_objects WHERE uid = $1`, [uid]);
  }
}
