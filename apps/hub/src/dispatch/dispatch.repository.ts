import type { DataSource, EntityManager } from 'typeorm';
import type { JobsRepository, NewEvent } from '../jobs/jobs.repository';
import type {
  GangSpec,
  JobStateName,
  MemberCountsValue,
  OnClusterLostPolicy,
  StoredExplanation,
} from '../jobs/job.domain';

/** A queued gang as the scheduling cycle sees it. */
export interface QueuedGang {
  id: string;
  queue: string;
  priority: number;
  gang: GangSpec;
  createdAt: Date;
  /** The stored explanation's summary and clusters as JSON, to write only what changed. */
  explanationKey: string;
}

/** Per node, the requests a reservation holds (quantity strings). */
export type NodeRequests = Record<string, Record<string, string>>;

export interface ReservationRow {
  jobId: string;
  cluster: string;
  fencingToken: number;
  nodeRequests: NodeRequests;
}

export interface NewReservation {
  jobId: string;
  cluster: string;
  placement: unknown;
  nodeRequests: NodeRequests;
  message: string;
}

export interface ReservedGang {
  jobId: string;
  cluster: string;
  fencingToken: number;
  namespace: string;
  onClusterLost: OnClusterLostPolicy;
  labels: Record<string, string>;
  gang: GangSpec;
  placement: unknown;
}

export type MemberPhaseName = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Lost';

export interface MemberReport {
  jobId: string;
  fencingToken: number;
  podSet: string;
  index: number;
  phase: MemberPhaseName;
  reason: string;
  exitCode: number;
  nodeName: string;
}

export interface GangTransition {
  jobId: string;
  cluster: string;
  fencingToken: number;
  state: JobStateName;
}

interface LiveJobRow {
  id: string;
  queue: string;
  state: JobStateName;
  cluster: string;
  dispatch_generation: string;
  members: MemberCountsValue;
}

/** Compares explanations independently of how jsonb orders object keys. */
export function explanationKey(e: Pick<StoredExplanation, 'summary' | 'clusters'> | null): string {
  return e
    ? JSON.stringify([
        e.summary,
        e.clusters.map((c) => [c.cluster, c.fits, c.reasonCode, c.message]),
      ])
    : '';
}

/** All SQL of scheduling and dispatch: reservations, state moves driven by agents, capacity. */
export class DispatchRepository {
  constructor(
    private readonly db: DataSource,
    private readonly jobs: JobsRepository,
  ) {}

  async queuedGangs(limit: number): Promise<QueuedGang[]> {
    const rows = (await this.db.query(
      `SELECT id, queue, priority, gang, created_at, explanation FROM jobs
        WHERE state = 'Queued' AND (not_before IS NULL OR not_before <= now())
        ORDER BY priority DESC, created_at ASC LIMIT $1`,
      [limit],
    )) as {
      id: string;
      queue: string;
      priority: number;
      gang: GangSpec;
      created_at: Date;
      explanation: StoredExplanation | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      queue: r.queue,
      priority: r.priority,
      gang: r.gang,
      createdAt: r.created_at,
      explanationKey: explanationKey(r.explanation),
    }));
  }

  async queueWeights(): Promise<Map<string, number>> {
    const rows = (await this.db.query('SELECT name, weight FROM queues')) as {
      name: string;
      weight: number;
    }[];
    return new Map(rows.map((r) => [r.name, r.weight]));
  }

  async reservations(): Promise<ReservationRow[]> {
    const rows = (await this.db.query(
      'SELECT job_id, cluster, fencing_token, node_requests FROM reservations',
    )) as { job_id: string; cluster: string; fencing_token: string; node_requests: NodeRequests }[];
    return rows.map((r) => ({
      jobId: r.job_id,
      cluster: r.cluster,
      fencingToken: Number(r.fencing_token),
      nodeRequests: r.node_requests,
    }));
  }

  /**
   * Commits one cycle: every placement becomes a reservation and a Reserved job, in one
   * transaction, guarded on the job still being Queued (a gang cancelled meanwhile is skipped).
   * Returns the gangs actually reserved with their new fencing tokens.
   */
  async commitCycle(
    placed: NewReservation[],
    explained: { jobId: string; explanation: StoredExplanation }[],
  ): Promise<GangTransition[]> {
    if (placed.length === 0 && explained.length === 0) return [];
    return this.db.transaction(async (tx) => {
      let reserved: GangTransition[] = [];
      if (placed.length > 0) {
        const rows = (await tx.query(
          `UPDATE jobs j SET state = 'Reserved', cluster = v.cluster, dispatch_generation = j.dispatch_generation + 1,
                  reason = 'Reserved', message = v.message, updated_at = now(), explanation = NULL
             FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, cluster text, message text)
            WHERE j.id = v.id AND j.state = 'Queued'
          RETURNING j.id, j.queue, j.state, j.cluster, j.dispatch_generation, j.members`,
          [
            JSON.stringify(
              placed.map((p) => ({ id: p.jobId, cluster: p.cluster, message: p.message })),
            ),
          ],
        )) as [LiveJobRow[], number];
        const updated = rows[0];
        const byId = new Map(placed.map((p) => [p.jobId, p]));
        const reservations = updated.map((r) => {
          const p = byId.get(r.id)!;
          return {
            job_id: r.id,
            cluster: r.cluster,
            fencing_token: Number(r.dispatch_generation),
            placement: p.placement,
            node_requests: p.nodeRequests,
          };
        });
        if (reservations.length > 0) {
          await tx.query(
            `INSERT INTO reservations (job_id, cluster, fencing_token, placement, node_requests)
             SELECT job_id, cluster, fencing_token, placement, node_requests
               FROM jsonb_to_recordset($1::jsonb) AS v(job_id uuid, cluster text, fencing_token bigint, placement jsonb, node_requests jsonb)
             ON CONFLICT (job_id) DO UPDATE SET cluster = EXCLUDED.cluster, fencing_token = EXCLUDED.fencing_token,
               placement = EXCLUDED.placement, node_requests = EXCLUDED.node_requests, created_at = now()`,
            [JSON.stringify(reservations)],
          );
          await this.jobs.appendEvents(
            tx,
            updated.map((r) => ({
              jobId: r.id,
              queue: r.queue,
              fromState: 'Queued' as const,
              state: 'Reserved' as const,
              reason: 'Reserved',
              message: byId.get(r.id)!.message,
              cluster: r.cluster,
              members: r.members,
            })),
          );
        }
        reserved = updated.map((r) => ({
          jobId: r.id,
          cluster: r.cluster,
          fencingToken: Number(r.dispatch_generation),
          state: 'Reserved' as const,
        }));
      }
      if (explained.length > 0) {
        await tx.query(
          `UPDATE jobs j SET explanation = v.explanation
             FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, explanation jsonb)
            WHERE j.id = v.id AND j.state = 'Queued'`,
          [JSON.stringify(explained.map((e) => ({ id: e.jobId, explanation: e.explanation })))],
        );
      }
      return reserved;
    });
  }

  /** A Reserved gang with what the agent needs to materialise it; null when it moved on. */
  async reservedGang(jobId: string, fencingToken: number): Promise<ReservedGang | null> {
    const rows = (await this.db.query(
      `SELECT j.id, r.cluster, r.fencing_token, j.namespace, j.on_cluster_lost, j.labels, j.gang, r.placement
         FROM jobs j JOIN reservations r ON r.job_id = j.id
        WHERE j.id = $1 AND j.dispatch_generation = $2 AND r.fencing_token = $2 AND j.state = 'Reserved'`,
      [jobId, fencingToken],
    )) as {
      id: string;
      cluster: string;
      fencing_token: string;
      namespace: string;
      on_cluster_lost: OnClusterLostPolicy;
      labels: Record<string, string>;
      gang: GangSpec;
      placement: unknown;
    }[];
    const r = rows[0];
    if (!r) return null;
    return {
      jobId: r.id,
      cluster: r.cluster,
      fencingToken: Number(r.fencing_token),
      namespace: r.namespace,
      onClusterLost: r.on_cluster_lost,
      labels: r.labels,
      gang: r.gang,
      placement: r.placement,
    };
  }

  /** Reserved gangs of a cluster (all, or only those waiting longer than `olderThanMs`). */
  async reservedOn(
    cluster: string | null,
    olderThanMs = 0,
  ): Promise<{ jobId: string; cluster: string; fencingToken: number }[]> {
    const rows = (await this.db.query(
      `SELECT id, cluster, dispatch_generation FROM jobs
        WHERE state = 'Reserved' AND ($1::text IS NULL OR cluster = $1) AND updated_at <= now() - ($2 || ' milliseconds')::interval`,
      [cluster, String(olderThanMs)],
    )) as { id: string; cluster: string; dispatch_generation: string }[];
    return rows.map((r) => ({
      jobId: r.id,
      cluster: r.cluster,
      fencingToken: Number(r.dispatch_generation),
    }));
  }

  /** The gangs a cluster should hold: its authoritative list. */
  async liveGangsOn(cluster: string): Promise<{ jobId: string; fencingToken: number }[]> {
    const rows = (await this.db.query(
      `SELECT id, dispatch_generation FROM jobs WHERE cluster = $1 AND state IN ('Reserved','Dispatched','Running') ORDER BY id`,
      [cluster],
    )) as { id: string; dispatch_generation: string }[];
    return rows.map((r) => ({ jobId: r.id, fencingToken: Number(r.dispatch_generation) }));
  }

  /** The agent accepted: Reserved → Dispatched, only for the current token. */
  async accept(cluster: string, jobId: string, fencingToken: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `UPDATE jobs SET state = 'Dispatched', reason = 'Dispatched', message = $4, updated_at = now()
          WHERE id = $1 AND cluster = $2 AND dispatch_generation = $3 AND state = 'Reserved'
        RETURNING id, queue, state, cluster, dispatch_generation, members`,
        [jobId, cluster, fencingToken, `every member exists in ${cluster}`],
      )) as [LiveJobRow[], number];
      const row = rows[0][0];
      if (!row) return false;
      await this.jobs.appendEvents(tx, [
        {
          jobId,
          queue: row.queue,
          fromState: 'Reserved',
          state: 'Dispatched',
          reason: 'Dispatched',
          message: `every member exists in ${cluster}`,
          cluster,
          members: row.members,
        },
      ]);
      return true;
    });
  }

  /**
   * Back to Queued with the reservation released: after a rejection, a lost requeue cluster or
   * a bind timeout. Only for the current token, so a late answer about an old dispatch does nothing.
   * The gang waits 0.5 s × 2^attempts (at most `maxBackoffSeconds`) before it is placed again.
   */
  async requeue(
    cluster: string,
    jobId: string,
    fencingToken: number,
    reason: string,
    message: string,
    maxBackoffSeconds: number,
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `WITH old AS (SELECT id, state FROM jobs WHERE id = $1 FOR UPDATE)
         UPDATE jobs j SET state = 'Queued', cluster = NULL, reason = $4, message = $5, updated_at = now(),
                attempts = j.attempts + 1,
                not_before = now() + make_interval(secs => LEAST($6::float8, 0.5 * power(2, LEAST(j.attempts, 12))))
           FROM old
          WHERE j.id = old.id AND j.cluster = $2 AND j.dispatch_generation = $3 AND j.state IN ('Reserved','Dispatched','Running')
        RETURNING j.id, j.queue, old.state AS from_state, j.members`,
        [jobId, cluster, fencingToken, reason, message, maxBackoffSeconds],
      )) as [(LiveJobRow & { from_state: JobStateName })[], number];
      const row = rows[0][0];
      if (!row) return false;
      await tx.query('DELETE FROM reservations WHERE job_id = $1', [jobId]);
      await tx.query('DELETE FROM job_members WHERE job_id = $1', [jobId]);
      const members = { ...row.members, pending: 0, running: 0, succeeded: 0, failed: 0 };
      await tx.query('UPDATE jobs SET members = $2 WHERE id = $1', [
        jobId,
        JSON.stringify(members),
      ]);
      await this.jobs.appendEvents(tx, [
        {
          jobId,
          queue: row.queue,
          fromState: row.from_state,
          state: 'Queued',
          reason,
          message,
          cluster,
          members,
        },
      ]);
      return true;
    });
  }

  /** Requeues the `requeue`-policy gangs of a lost cluster; `wait` gangs stay. */
  async requeueLostCluster(cluster: string, maxBackoffSeconds: number): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT id, dispatch_generation FROM jobs
        WHERE cluster = $1 AND on_cluster_lost = 'requeue' AND state IN ('Reserved','Dispatched','Running')`,
      [cluster],
    )) as { id: string; dispatch_generation: string }[];
    const moved: string[] = [];
    for (const r of rows) {
      const ok = await this.requeue(
        cluster,
        r.id,
        Number(r.dispatch_generation),
        'ClusterLost',
        `cluster ${cluster} was lost; its agent fenced the gang`,
        maxBackoffSeconds,
      );
      if (ok) moved.push(r.id);
    }
    return moved;
  }

  /**
   * Records member states and derives each gang's state: Running when every member runs (or
   * has succeeded), Succeeded when all succeeded, Failed as soon as one failed or was lost.
   * Reports for an old token or another cluster are ignored.
   */
  async applyMemberStates(cluster: string, reports: MemberReport[]): Promise<GangTransition[]> {
    if (reports.length === 0) return [];
    return this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO job_members (job_id, fencing_token, pod_set, idx, phase, reason, exit_code, node_name, updated_at)
         SELECT v.job_id, v.fencing_token, v.pod_set, v.idx, v.phase, v.reason, v.exit_code, v.node_name, now()
           FROM jsonb_to_recordset($1::jsonb) AS v(job_id uuid, fencing_token bigint, pod_set text, idx int, phase text, reason text, exit_code int, node_name text)
           JOIN jobs j ON j.id = v.job_id AND j.cluster = $2 AND j.dispatch_generation = v.fencing_token
                      AND j.state IN ('Reserved','Dispatched','Running')
         ON CONFLICT (job_id, fencing_token, pod_set, idx) DO UPDATE SET phase = EXCLUDED.phase, reason = EXCLUDED.reason,
           exit_code = EXCLUDED.exit_code, node_name = EXCLUDED.node_name, updated_at = now()`,
        [
          JSON.stringify(
            reports.map((r) => ({
              job_id: r.jobId,
              fencing_token: r.fencingToken,
              pod_set: r.podSet,
              idx: r.index,
              phase: r.phase,
              reason: r.reason,
              exit_code: r.exitCode,
              node_name: r.nodeName,
            })),
          ),
          cluster,
        ],
      );
      const ids = [...new Set(reports.map((r) => r.jobId))];
      return this.deriveGangStates(tx, cluster, ids);
    });
  }

  private async deriveGangStates(
    tx: EntityManager,
    cluster: string,
    ids: string[],
  ): Promise<GangTransition[]> {
    // Lock the gangs (in a fixed order, so concurrent reports cannot deadlock) before deriving.
    await tx.query('SELECT id FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [ids]);
    const rows = (await tx.query(
      `SELECT j.id, j.queue, j.state, j.cluster, j.dispatch_generation, j.members,
              COUNT(*) FILTER (WHERE m.phase = 'Pending')::int AS pending,
              COUNT(*) FILTER (WHERE m.phase = 'Running')::int AS running,
              COUNT(*) FILTER (WHERE m.phase = 'Succeeded')::int AS succeeded,
              COUNT(*) FILTER (WHERE m.phase IN ('Failed','Lost'))::int AS failed,
              string_agg(CASE WHEN m.phase IN ('Failed','Lost') THEN m.pod_set || '-' || m.idx || ': ' || m.phase ||
                         CASE WHEN m.reason <> '' THEN ' (' || m.reason || ', exit code ' || m.exit_code || ')' ELSE '' END END, '; ') AS failures
         FROM jobs j LEFT JOIN job_members m ON m.job_id = j.id AND m.fencing_token = j.dispatch_generation
        WHERE j.id = ANY($1::uuid[]) AND j.cluster = $2 AND j.state IN ('Reserved','Dispatched','Running')
        GROUP BY j.id`,
      [ids, cluster],
    )) as (LiveJobRow & {
      pending: number;
      running: number;
      succeeded: number;
      failed: number;
      failures: string | null;
    })[];
    const transitions: GangTransition[] = [];
    const events: NewEvent[] = [];
    for (const r of rows) {
      const members: MemberCountsValue = {
        total: r.members.total,
        pending: r.pending,
        running: r.running,
        succeeded: r.succeeded,
        failed: r.failed,
      };
      let next: JobStateName = r.state;
      let reason = 'MembersChanged';
      let message = `${members.running}/${members.total} members running`;
      if (members.failed > 0) {
        next = 'Failed';
        reason = 'MemberFailed';
        message = `member failed: ${r.failures ?? 'unknown'}`;
      } else if (members.succeeded === members.total) {
        next = 'Succeeded';
        reason = 'Succeeded';
        message = `all ${members.total} members succeeded`;
      } else if (members.running + members.succeeded === members.total && r.state !== 'Running') {
        next = 'Running';
        reason = 'Running';
        message = `all ${members.total} members running`;
      }
      const countsChanged = JSON.stringify(members) !== JSON.stringify(r.members);
      if (next === r.state && !countsChanged) continue;
      const final = next === 'Succeeded' || next === 'Failed';
      await tx.query(
        `UPDATE jobs SET state = $2, members = $3, updated_at = now()${next !== r.state ? ', reason = $4, message = $5' : ''} WHERE id = $1`,
        next !== r.state
          ? [r.id, next, JSON.stringify(members), reason, message]
          : [r.id, next, JSON.stringify(members)],
      );
      if (final) await tx.query('DELETE FROM reservations WHERE job_id = $1', [r.id]);
      events.push({
        jobId: r.id,
        queue: r.queue,
        fromState: r.state,
        state: next,
        reason,
        message,
        cluster,
        members,
      });
      if (next !== r.state)
        transitions.push({
          jobId: r.id,
          cluster,
          fencingToken: Number(r.dispatch_generation),
          state: next,
        });
    }
    await this.jobs.appendEvents(tx, events);
    return transitions;
  }

  /** Stores an agent's node list so the leader can schedule on it from any replica. */
  async saveCapacity(
    cluster: string,
    epoch: string,
    sequence: number,
    nodes: unknown,
    reflected: string[],
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO cluster_capacity (cluster, epoch, report_sequence, nodes, reflected, updated_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (cluster) DO UPDATE SET epoch = EXCLUDED.epoch, report_sequence = EXCLUDED.report_sequence,
         nodes = EXCLUDED.nodes, reflected = EXCLUDED.reflected, updated_at = now()`,
      [cluster, epoch, sequence, JSON.stringify(nodes), JSON.stringify(reflected)],
    );
  }

  async loadCapacity(
    clusters: string[],
  ): Promise<{ cluster: string; nodes: unknown; reflected: string[] }[]> {
    if (clusters.length === 0) return [];
    return (await this.db.query(
      'SELECT cluster, nodes, reflected FROM cluster_capacity WHERE cluster = ANY($1)',
      [clusters],
    )) as {
      cluster: string;
      nodes: unknown;
      reflected: string[];
    }[];
  }
}
