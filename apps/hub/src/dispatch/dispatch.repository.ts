import type { DataSource, EntityManager } from 'typeorm';
import { JobsRepository, type NewEvent } from '../jobs/jobs.repository';
import { gangVerdict, vanishedVerdict } from './gang-state';
import type {
  Eviction,
  GangSpec,
  JobStateName,
  MemberCounts,
  OnClusterLostPolicy,
} from '../jobs/job.domain';
import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '../core.tokens';

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
  /** The agent must delete every member of this token (the gang restarts once they are gone). */
  teardown?: boolean;
}

/** A gang the member reports showed gone, to requeue once their transaction committed. */
export interface RequeueOptions {
  exclude?: { reason: string; message: string; seconds: number };
  restart?: boolean;
  whileLost?: boolean;
  /** The end of an eviction with notice: no backoff and no attempt counted (it keeps its place). */
  evicted?: boolean;
}

/** A gang placed on a cluster, with the token it was placed with. */
export interface PlacedGang {
  jobId: string;
  fencingToken: number;
}

interface GangRequeue {
  jobId: string;
  fencingToken: number;
  reason: string;
  message: string;
  /** Counts one of the job's restarts. */
  restart: boolean;
  evicted: boolean;
}

export interface LiveJobRow {
  id: string;
  queue: string;
  state: JobStateName;
  cluster: string;
  dispatch_generation: string;
  members: MemberCounts;
}

/** The SQL of dispatch: reserved gangs' deliveries, state moves driven by agents, fencing. */
@Injectable()
export class DispatchRepository {
  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    private readonly jobs: JobsRepository,
  ) {}

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

  /** The next generation of an authoritative gang list (one sequence across replicas). */
  async nextListGeneration(): Promise<number> {
    const rows = (await this.db.query(`SELECT nextval('gang_list_generation') AS g`)) as {
      g: string;
    }[];
    return Number(rows[0]!.g);
  }

  /** The gangs a cluster should hold: its authoritative list. */
  async liveGangsOn(cluster: string): Promise<{ jobId: string; fencingToken: number }[]> {
    const rows = (await this.db.query(
      `SELECT id, dispatch_generation FROM jobs WHERE cluster = $1 AND state IN ('Reserved','Dispatched','Running') ORDER BY id`,
      [cluster],
    )) as { id: string; dispatch_generation: string }[];
    return rows.map((r) => ({ jobId: r.id, fencingToken: Number(r.dispatch_generation) }));
  }

  /** Where the job's current placement is (cluster and token), whatever its state; null if unknown. */
  async currentPlacement(
    jobId: string,
  ): Promise<{ state: JobStateName; cluster: string | null; fencingToken: number } | null> {
    const rows = (await this.db.query(
      'SELECT state, cluster, dispatch_generation FROM jobs WHERE id = $1',
      [jobId],
    )) as { state: JobStateName; cluster: string | null; dispatch_generation: string }[];
    const r = rows[0];
    return r
      ? { state: r.state, cluster: r.cluster, fencingToken: Number(r.dispatch_generation) }
      : null;
  }

  /**
   * The agent accepted: Reserved → Dispatched, only for the current token. Returns how long the
   * gang was reserved before it (seconds), or null when this is not the current Reserved placement.
   */
  async accept(cluster: string, jobId: string, fencingToken: number): Promise<number | null> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `UPDATE jobs SET state = 'Dispatched', reason = 'Dispatched', message = $4, updated_at = now()
          WHERE id = $1 AND cluster = $2 AND dispatch_generation = $3 AND state = 'Reserved'
        RETURNING id, queue, state, cluster, dispatch_generation, members,
          EXTRACT(EPOCH FROM now() - (SELECT r.created_at FROM reservations r WHERE r.job_id = jobs.id))::float8 AS reserved_s`,
        [jobId, cluster, fencingToken, `every member exists in ${cluster}`],
      )) as [(LiveJobRow & { reserved_s: number | null })[], number];
      const row = rows[0][0];
      if (!row) return null;
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
      return Math.max(0, row.reserved_s ?? 0);
    });
  }

  /**
   * Back to Queued with the reservation released: after a rejection, a lost requeue cluster or
   * a bind timeout. Only for the current token, so a late answer about an old dispatch does nothing.
   * The gang waits 0.5 s × 2^attempts (at most `maxBackoffSeconds`) before it is placed again.
   * With `exclude`, the gang also keeps away from `cluster` for `exclude.seconds`; `restart`
   * counts a restart; `whileLost` moves it only while `cluster` is still Lost (a manual fence
   * must not move a gang whose agent has just come back and runs it); `evicted` requeues at once,
   * its attempts untouched. Any eviction the gang carried ends here.
   */
  async requeue(
    cluster: string,
    jobId: string,
    fencingToken: number,
    reason: string,
    message: string,
    maxBackoffSeconds: number,
    opts: RequeueOptions = {},
  ): Promise<boolean> {
    const { exclude, restart = false, whileLost = false, evicted = false } = opts;
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `WITH old AS (SELECT id, state FROM jobs WHERE id = $1 FOR UPDATE)
         UPDATE jobs j SET state = 'Queued', cluster = NULL, reason = $4, message = $5, updated_at = now(),
                attempts = j.attempts + CASE WHEN $11::boolean THEN 0 ELSE 1 END, restarts = j.restarts + $9::int,
                eviction = NULL,
                not_before = CASE WHEN $11::boolean THEN NULL
                  ELSE now() + make_interval(secs => LEAST($6::float8, 0.5 * power(2, LEAST(j.attempts, 12)))) END,
                excluded_clusters = CASE WHEN $7::jsonb IS NULL THEN j.excluded_clusters
                  ELSE j.excluded_clusters || jsonb_build_object($2::text, $7::jsonb || jsonb_build_object('until',
                    to_jsonb(now() + make_interval(secs => $8::float8)))) END
           FROM old
          WHERE j.id = old.id AND j.cluster = $2 AND j.dispatch_generation = $3 AND j.state IN ('Reserved','Dispatched','Running')
            AND (NOT $10::boolean OR EXISTS (SELECT 1 FROM clusters c WHERE c.name = $2 AND c.agent_state = 'Lost'))
        RETURNING j.id, j.queue, old.state AS from_state, j.members`,
        [
          jobId,
          cluster,
          fencingToken,
          reason,
          message,
          maxBackoffSeconds,
          exclude ? JSON.stringify({ reason: exclude.reason, message: exclude.message }) : null,
          exclude?.seconds ?? 0,
          restart ? 1 : 0,
          whileLost,
          evicted,
        ],
      )) as [(LiveJobRow & { from_state: JobStateName })[], number];
      const row = rows[0][0];
      if (!row) return false;
      await tx.query('DELETE FROM reservations WHERE job_id = $1', [jobId]);
      await tx.query('DELETE FROM job_members WHERE job_id = $1', [jobId]);
      const members = {
        ...row.members,
        pending: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        bound: 0,
      };
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

  /** The `requeue`-policy gangs still placed on a cluster (they move once confirmed gone). */
  async requeueGangsOn(cluster: string): Promise<PlacedGang[]> {
    const rows = (await this.db.query(
      `SELECT id, dispatch_generation FROM jobs
        WHERE cluster = $1 AND on_cluster_lost = 'requeue' AND state IN ('Reserved','Dispatched','Running')
        ORDER BY created_at`,
      [cluster],
    )) as { id: string; dispatch_generation: string }[];
    return rows.map((r) => ({ jobId: r.id, fencingToken: Number(r.dispatch_generation) }));
  }

  /**
   * Says on the job why it has not moved off its lost cluster (reason `AwaitingFence`), with one
   * event when the message changes; the state stays. False when the gang is no longer there.
   */
  async noteAwaitingFence(
    cluster: string,
    jobId: string,
    fencingToken: number,
    message: string,
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `UPDATE jobs SET reason = 'AwaitingFence', message = $4, updated_at = now()
          WHERE id = $1 AND cluster = $2 AND dispatch_generation = $3
            AND state IN ('Reserved','Dispatched','Running')
            AND (reason <> 'AwaitingFence' OR message <> $4)
            -- A pass that started before the agent came back must not say it is still away.
            AND EXISTS (SELECT 1 FROM clusters c WHERE c.name = $2 AND c.agent_state = 'Lost')
        RETURNING id, queue, state, members`,
        [jobId, cluster, fencingToken, message],
      )) as [LiveJobRow[], number];
      const row = rows[0][0];
      if (!row) return false;
      await this.jobs.appendEvents(tx, [
        {
          jobId,
          queue: row.queue,
          fromState: row.state,
          state: row.state,
          reason: 'AwaitingFence',
          message,
          cluster,
          members: row.members,
        },
      ]);
      return true;
    });
  }

  /** Gangs awaiting a fence on clusters whose agent is back no longer await one. Returns how many. */
  async clearAwaitingFence(): Promise<number> {
    const rows = (await this.db.query(
      `UPDATE jobs j SET reason = j.state::text, updated_at = now(),
              message = 'the agent of ' || j.cluster || ' is connected again'
         FROM clusters c
        WHERE j.reason = 'AwaitingFence' AND c.name = j.cluster AND c.agent_state = 'Connected'
      RETURNING j.id`,
    )) as [{ id: string }[], number];
    return rows[0].length;
  }

  /**
   * Reconciles the placements on `cluster` with what its agent's snapshot holds: a Dispatched or
   * Running gang the snapshot does not hold has no pod left there and goes by
   * {@link vanishedVerdict} (requeued, restarted or failed), its reservation released, so nothing
   * stays booked for pods that are gone. Reserved gangs are left alone: their dispatch may not
   * have reached the agent yet (an agent holds a gang from the moment it accepts it).
   */
  async reconcileHeld(
    cluster: string,
    held: readonly { gangId: string; fencingToken: number }[],
    maxBackoffSeconds: number,
  ): Promise<GangTransition[]> {
    const rows = (await this.db.query(
      `SELECT id, dispatch_generation, on_cluster_lost, max_restarts, restarts, eviction FROM jobs
        WHERE cluster = $1 AND state IN ('Dispatched','Running')`,
      [cluster],
    )) as {
      id: string;
      dispatch_generation: string;
      on_cluster_lost: OnClusterLostPolicy;
      max_restarts: number;
      restarts: number;
      eviction: Eviction | null;
    }[];
    const holds = new Set(held.map((g) => `${g.gangId}#${g.fencingToken}`));
    const transitions: GangTransition[] = [];
    for (const r of rows) {
      const fencingToken = Number(r.dispatch_generation);
      if (holds.has(`${r.id}#${fencingToken}`)) continue;
      const v = vanishedVerdict(
        r.on_cluster_lost,
        cluster,
        { maxRestarts: r.max_restarts, restarts: r.restarts },
        r.eviction?.reason,
      );
      const moved =
        v.kind === 'requeue'
          ? await this.requeue(
              cluster,
              r.id,
              fencingToken,
              v.reason,
              v.message,
              maxBackoffSeconds,
              { restart: v.restart === true, evicted: v.evicted === true },
            )
          : await this.failPlaced(cluster, r.id, fencingToken, v.reason, v.message);
      if (moved)
        transitions.push({
          jobId: r.id,
          cluster,
          fencingToken,
          state: v.kind === 'requeue' ? 'Queued' : v.state,
        });
    }
    return transitions;
  }

  /** How often the gang was placed and sent back to the queue. */
  async attemptsOf(jobId: string): Promise<number> {
    const rows = (await this.db.query('SELECT attempts FROM jobs WHERE id = $1', [jobId])) as {
      attempts: number;
    }[];
    return rows[0]?.attempts ?? 0;
  }

  /** Fails a placed gang of the current token, releasing its reservation. */
  async failPlaced(
    cluster: string,
    jobId: string,
    fencingToken: number,
    reason: string,
    message: string,
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `WITH old AS (SELECT id, state FROM jobs WHERE id = $1 FOR UPDATE)
         UPDATE jobs j SET state = 'Failed', reason = $4, message = $5, updated_at = now()
           FROM old
          WHERE j.id = old.id AND j.cluster = $2 AND j.dispatch_generation = $3
            AND j.state IN ('Reserved','Dispatched','Running')
        RETURNING j.id, j.queue, old.state AS from_state, j.members`,
        [jobId, cluster, fencingToken, reason, message],
      )) as [(LiveJobRow & { from_state: JobStateName })[], number];
      const row = rows[0][0];
      if (!row) return false;
      await tx.query('DELETE FROM reservations WHERE job_id = $1', [jobId]);
      await this.jobs.appendEvents(tx, [
        {
          jobId,
          queue: row.queue,
          fromState: row.from_state,
          state: 'Failed',
          reason,
          message,
          cluster,
          members: row.members,
        },
      ]);
      return true;
    });
  }

  /**
   * Records member states and derives each gang's state with {@link gangVerdict}. Reports for an
   * old token or another cluster are ignored; of several reports of one member in a batch the
   * last wins. A self-fenced `requeue` gang whose members are all gone is requeued (with
   * `maxBackoffSeconds`) after the batch commits.
   */
  async applyMemberStates(
    cluster: string,
    reports: MemberReport[],
    maxBackoffSeconds: number,
  ): Promise<GangTransition[]> {
    if (reports.length === 0) return [];
    const latest = new Map<string, MemberReport>();
    for (const r of reports) latest.set(`${r.jobId}|${r.fencingToken}|${r.podSet}|${r.index}`, r);
    const { transitions, requeue } = await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO job_members (job_id, fencing_token, pod_set, idx, phase, reason, exit_code, node_name, updated_at)
         SELECT v.job_id, v.fencing_token, v.pod_set, v.idx, v.phase, v.reason, v.exit_code, v.node_name, now()
           FROM jsonb_to_recordset($1::jsonb) AS v(job_id uuid, fencing_token bigint, pod_set text, idx int, phase text, reason text, exit_code int, node_name text)
           JOIN jobs j ON j.id = v.job_id AND j.cluster = $2 AND j.dispatch_generation = v.fencing_token
                      AND j.state IN ('Reserved','Dispatched','Running')
                      -- Only members the gang has: a pod copying a member's labels with another
                      -- pod set or an index past its count must not count towards the gang.
                      AND v.idx >= 0 AND EXISTS (
                        SELECT 1 FROM jsonb_array_elements(j.gang->'podSets') ps
                         WHERE ps->>'name' = v.pod_set AND v.idx < (ps->>'count')::int)
         ON CONFLICT (job_id, fencing_token, pod_set, idx) DO UPDATE SET phase = EXCLUDED.phase, reason = EXCLUDED.reason,
           exit_code = EXCLUDED.exit_code, node_name = EXCLUDED.node_name, updated_at = now()`,
        [
          JSON.stringify(
            [...latest.values()].map((r) => ({
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
    for (const r of requeue) {
      if (
        await this.requeue(
          cluster,
          r.jobId,
          r.fencingToken,
          r.reason,
          r.message,
          maxBackoffSeconds,
          { restart: r.restart, evicted: r.evicted },
        )
      ) {
        transitions.push({
          jobId: r.jobId,
          cluster,
          fencingToken: r.fencingToken,
          state: 'Queued',
        });
      }
    }
    return transitions;
  }

  private async deriveGangStates(
    tx: EntityManager,
    cluster: string,
    ids: string[],
  ): Promise<{
    transitions: GangTransition[];
    requeue: GangRequeue[];
  }> {
    // Lock the gangs (in a fixed order, so concurrent reports cannot deadlock) before deriving.
    await tx.query('SELECT id FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [ids]);
    const rows = (await tx.query(
      `SELECT j.id, j.queue, j.state, j.cluster, j.dispatch_generation, j.members, j.on_cluster_lost,
              j.max_restarts, j.restarts, j.eviction,
              COUNT(*) FILTER (WHERE m.phase = 'Pending')::int AS pending,
              COUNT(*) FILTER (WHERE m.phase = 'Running')::int AS running,
              COUNT(*) FILTER (WHERE m.phase = 'Succeeded')::int AS succeeded,
              COUNT(*) FILTER (WHERE m.phase IN ('Failed','Lost'))::int AS failed,
              COUNT(*) FILTER (WHERE m.phase = 'Lost')::int AS lost,
              COUNT(*) FILTER (WHERE m.phase = 'Lost' AND m.reason = 'SelfFenced')::int AS self_fenced,
              COUNT(*) FILTER (WHERE m.node_name <> '' AND m.phase <> 'Lost')::int AS bound,
              string_agg(CASE WHEN m.phase IN ('Failed','Lost') THEN m.pod_set || '-' || m.idx || ': ' || m.phase ||
                         CASE WHEN m.reason <> '' THEN ' (' || m.reason || ', exit code ' || m.exit_code || ')' ELSE '' END END, '; ') AS failures
         FROM jobs j LEFT JOIN job_members m ON m.job_id = j.id AND m.fencing_token = j.dispatch_generation
        WHERE j.id = ANY($1::uuid[]) AND j.cluster = $2 AND j.state IN ('Reserved','Dispatched','Running')
        GROUP BY j.id`,
      [ids, cluster],
    )) as (LiveJobRow & {
      on_cluster_lost: OnClusterLostPolicy;
      max_restarts: number;
      restarts: number;
      eviction: Eviction | null;
      pending: number;
      running: number;
      succeeded: number;
      failed: number;
      lost: number;
      self_fenced: number;
      bound: number;
      failures: string | null;
    })[];
    const transitions: GangTransition[] = [];
    const requeue: GangRequeue[] = [];
    const events: NewEvent[] = [];
    for (const r of rows) {
      const members: MemberCounts = {
        total: r.members.total,
        pending: r.pending,
        running: r.running,
        succeeded: r.succeeded,
        failed: r.failed,
        bound: r.bound,
      };
      const verdict = gangVerdict(
        r.state,
        r.members,
        {
          ...members,
          bound: r.bound,
          lost: r.lost,
          selfFenced: r.self_fenced,
          failures: r.failures ?? '',
        },
        r.on_cluster_lost,
        cluster,
        { maxRestarts: r.max_restarts, restarts: r.restarts },
        r.eviction?.reason,
      );
      if (verdict.kind === 'requeue') {
        requeue.push({
          jobId: r.id,
          fencingToken: Number(r.dispatch_generation),
          reason: verdict.reason,
          message: verdict.message,
          restart: verdict.restart === true,
          evicted: verdict.evicted === true,
        });
        continue;
      }
      const next: JobStateName = verdict.kind === 'move' ? verdict.state : r.state;
      const { reason, message } = verdict;
      const countsChanged = JSON.stringify(members) !== JSON.stringify(r.members);
      const teardown = verdict.kind === 'stay' && verdict.teardown === true;
      // Restarting and fencing are told on the job itself too, while its state stays.
      const sayIt =
        next !== r.state ||
        reason === 'Restarting' ||
        reason === 'Fencing' ||
        reason === 'Evicting';
      if (next === r.state && !countsChanged) {
        if (teardown)
          transitions.push({
            jobId: r.id,
            cluster,
            fencingToken: Number(r.dispatch_generation),
            state: next,
            teardown,
          });
        continue;
      }
      const final = next === 'Succeeded' || next === 'Failed';
      await tx.query(
        `UPDATE jobs SET state = $2, members = $3, updated_at = now()${sayIt ? ', reason = $4, message = $5' : ''} WHERE id = $1`,
        sayIt
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
      if (next !== r.state || teardown)
        transitions.push({
          jobId: r.id,
          cluster,
          fencingToken: Number(r.dispatch_generation),
          state: next,
          ...(teardown ? { teardown } : {}),
        });
    }
    await this.jobs.appendEvents(tx, events);
    return { transitions, requeue };
  }

  /** See {@link markEvicting}. */
  markEvicting(
    tx: EntityManager,
    victims: readonly { jobId: string; fencingToken: number; eviction: Eviction }[],
  ): Promise<GangTransition[]> {
    return markEvicting(tx, this.jobs, victims);
  }

  /** The eviction of the live gang (jobId, token) on `cluster`; null when it has none or moved on. */
  async evictionOf(cluster: string, jobId: string, fencingToken: number): Promise<Eviction | null> {
    const rows = (await this.db.query(
      `SELECT eviction FROM jobs WHERE id = $1 AND cluster = $2 AND dispatch_generation = $3
          AND state IN ('Dispatched','Running') AND eviction IS NOT NULL`,
      [jobId, cluster, fencingToken],
    )) as { eviction: Eviction }[];
    return rows[0]?.eviction ?? null;
  }

  /**
   * The agent confirmed the members carry the notice: the grace period starts now (the first
   * confirmation counts; a repeated one changes nothing). Returns the deadline, or null when the
   * gang moved on.
   */
  async noteNoticed(cluster: string, jobId: string, fencingToken: number): Promise<Date | null> {
    const rows = (await this.db.query(
      `UPDATE jobs SET eviction = eviction || CASE WHEN eviction ? 'noticedAt' THEN '{}'::jsonb
                ELSE jsonb_build_object('noticedAt', to_jsonb(now()),
                  'deadline', to_jsonb(now() + make_interval(secs => (eviction->>'graceSeconds')::float8))) END
        WHERE id = $1 AND cluster = $2 AND dispatch_generation = $3
          AND state IN ('Dispatched','Running') AND eviction IS NOT NULL
      RETURNING eviction->>'deadline' AS deadline`,
      [jobId, cluster, fencingToken],
    )) as [{ deadline: string }[], number];
    const row = rows[0][0];
    return row ? new Date(row.deadline) : null;
  }

  /** The live gangs given notice, on one cluster or all, with their evictions. */
  async evicting(
    cluster: string | null,
  ): Promise<{ jobId: string; cluster: string; fencingToken: number; eviction: Eviction }[]> {
    const rows = (await this.db.query(
      `SELECT id, cluster, dispatch_generation, eviction FROM jobs
        WHERE eviction IS NOT NULL AND ($1::text IS NULL OR cluster = $1)
          AND state IN ('Dispatched','Running') ORDER BY id`,
      [cluster],
    )) as { id: string; cluster: string; dispatch_generation: string; eviction: Eviction }[];
    return rows.map((r) => ({
      jobId: r.id,
      cluster: r.cluster,
      fencingToken: Number(r.dispatch_generation),
      eviction: r.eviction,
    }));
  }
}

/**
 * Gives live gangs their eviction: each Dispatched or Running gang of the given token without
 * one gets it, says so on the job (the reason is the eviction's) and in its events. Runs in the
 * caller's transaction (the scheduling cycle's commit, a drain), after its rows are locked.
 * Returns the gangs marked; one that moved on or already carries an eviction is skipped.
 */
export async function markEvicting(
  tx: EntityManager,
  jobs: JobsRepository,
  victims: readonly { jobId: string; fencingToken: number; eviction: Eviction }[],
): Promise<GangTransition[]> {
  if (victims.length === 0) return [];
  const rows = (await tx.query(
    `UPDATE jobs j SET eviction = v.eviction, reason = v.eviction->>'reason',
            message = v.eviction->>'message', updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, token bigint, eviction jsonb)
      WHERE j.id = v.id AND j.dispatch_generation = v.token
        AND j.state IN ('Dispatched','Running') AND j.eviction IS NULL
    RETURNING j.id, j.queue, j.state, j.cluster, j.dispatch_generation, j.members, j.reason, j.message`,
    [
      JSON.stringify(
        victims.map((v) => ({ id: v.jobId, token: v.fencingToken, eviction: v.eviction })),
      ),
    ],
  )) as [(LiveJobRow & { reason: string; message: string })[], number];
  const marked = rows[0];
  await jobs.appendEvents(
    tx,
    marked.map((r) => ({
      jobId: r.id,
      queue: r.queue,
      fromState: r.state,
      state: r.state,
      reason: r.reason,
      message: r.message,
      cluster: r.cluster,
      members: r.members,
    })),
  );
  return marked.map((r) => ({
    jobId: r.id,
    cluster: r.cluster,
    fencingToken: Number(r.dispatch_generation),
    state: r.state,
  }));
}
