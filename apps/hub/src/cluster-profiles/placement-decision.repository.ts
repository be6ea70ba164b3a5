import type { DataSource } from 'typeorm';
import { IMPORTED_FROM_LABEL } from './cluster-profile.import';
import type { PlacedGang } from './placement-decision.publish';
import type { PlacedGangStore } from './placement-decision.store';

/**
 * The placed gangs: a reservation whose job is Dispatched or Running, with the job's name and queue,
 * the message of the reservation (of the last event that reserved the gang on that cluster: reason
 * Reserved; member reports while Reserved have other reasons), and the cluster row's read-only flag
 * and import namespace. Read-only SQL.
 */
const PLACED = `
  SELECT j.id, j.name, j.queue, r.cluster,
         c.read_only, c.labels ->> $1 AS imported_from,
         (SELECT e.message FROM job_events e
           WHERE e.job_id = j.id AND e.state = 'Reserved' AND e.reason = 'Reserved'
             AND e.cluster = r.cluster
           ORDER BY e.seq DESC LIMIT 1) AS placed
    FROM reservations r
    JOIN jobs j ON j.id = r.job_id
    LEFT JOIN clusters c ON c.name = r.cluster
   WHERE j.state IN ('Dispatched', 'Running')`;

interface PlacedRow {
  id: string;
  name: string;
  queue: string;
  cluster: string;
  read_only: boolean | null;
  imported_from: string | null;
  placed: string | null;
}

function placedGang(r: PlacedRow): PlacedGang {
  return {
    jobId: r.id,
    name: r.name,
    queue: r.queue,
    cluster: r.cluster,
    // The job's own message changes with every member report: not a reason to rewrite the
    // decision. Without the event (never expected for a live gang) a reason of the same form.
    reason: r.placed || `placed on ${r.cluster}`,
    clusterReadOnly: r.read_only ?? undefined,
    importedFrom: r.imported_from ?? undefined,
  };
}

/** The SQL of PlacementDecision sync: reads placed gangs, writes nothing. */
export class PlacementDecisionRepository implements PlacedGangStore {
  constructor(private readonly db: DataSource) {}

  async list(): Promise<PlacedGang[]> {
    const rows = (await this.db.query(`${PLACED} ORDER BY j.id`, [
      IMPORTED_FROM_LABEL,
    ])) as PlacedRow[];
    return rows.map(placedGang);
  }

  async byIds(jobIds: readonly string[]): Promise<PlacedGang[]> {
    const ids = jobIds.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (ids.length === 0) return [];
    const rows = (await this.db.query(`${PLACED} AND j.id = ANY($2::uuid[]) ORDER BY j.id`, [
      IMPORTED_FROM_LABEL,
      ids,
    ])) as PlacedRow[];
    return rows.map(placedGang);
  }
}
