import type { QueueBudgetSpec, QueueQuotaSpec } from '../inventory/cluster.domain';
import type { CohortQuota, QueueQuota } from './quota';
import { cohortQuotaOf, deviceCountsOf, queueQuotaOf, type HeldQuota } from './queue-quotas';
import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core.tokens';
import type { NodeDeviceList } from '@muster/placement';
import { JobsRepository } from '../jobs/jobs.repository';
import type { GangSpec, JobStateName, StoredExplanation } from '../jobs/job.domain';
import type { ClusterExclusions } from '../dispatch/cluster-exclusion';
import {
  markEvicting,
  type GangTransition,
  type LiveJobRow,
} from '../dispatch/dispatch.repository';
import type { PlannedEviction } from './cycle-preemption';
import type { QueuePreemption } from './preemption';

/** A queued gang as the scheduling cycle sees it. */
export interface QueuedGang {
  id: string;
  queue: string;
  priority: number;
  gang: GangSpec;
  createdAt: Date;
  /** What the stored explanation says (null: none yet), to write only what changed. */
  explained: ExplanationDigest | null;
  /** Clusters that could not run this gang, with why and until when. */
  excludedClusters: ClusterExclusions;
}

/** Per node, the requests a reservation holds (quantity strings). */
export type NodeRequests = Record<string, Record<string, string>>;

export interface ReservationRow extends HeldQuota {
  jobId: string;
  /** The job's queue (what its quota counts against). */
  queue?: string;
  cluster: string;
  fencingToken: number;
  nodeRequests: NodeRequests;
  /** DRA devices placement chose, per node (absent for gangs without claims). */
  devices?: readonly NodeDeviceList[] | null;
  /** What preemption weighs (absent in rows not read from Postgres). */
  priority?: number;
  state?: JobStateName;
  /** When the reservation was made. */
  placedAt?: Date;
  /** The gang's eviction in progress, if any: `for` names the gang it makes room for. */
  eviction?: { for?: string } | null;
  /** The job's own notice before an eviction, in seconds; null: the hub's default. */
  graceSeconds?: number | null;
}

export interface NewReservation {
  jobId: string;
  cluster: string;
  placement: unknown;
  nodeRequests: NodeRequests;
  message: string;
  /** The gang's queue and whole request (milli-units per resource): what its usage books. */
  queue?: string;
  usage?: Record<string, number>;
}

/** A gang a cycle reserved, with its queue and how long it had waited since its submit. */
export interface ReservedGang extends GangTransition {
  queue: string;
  waitedSeconds: number;
}

/** A cycle commit refused because another replica took the scheduling lead meanwhile. */
export class LeadershipLost extends Error {
  constructor(
    readonly mine: number,
    readonly current: number,
  ) {
    super(`leader epoch ${mine} is over (the leader is now epoch ${current}); nothing committed`);
  }
}

/** What a stored explanation says, so that a cycle writes a new one only when it matters. */
export interface ExplanationDigest {
  /** The verdict: the summary and each cluster's fit and reason code. */
  verdict: string;
  /** The verdict with every cluster's message (their figures move with free capacity). */
  text: string;
  /** When it was evaluated (epoch ms). */
  at: number;
}

/** The digest of an explanation, independent of how jsonb orders object keys. */
export function explanationDigest(e: StoredExplanation | null): ExplanationDigest | null {
  if (!e) return null;
  const at = Date.parse(e.evaluatedAt);
  return {
    verdict: JSON.stringify([e.summary, e.clusters.map((c) => [c.cluster, c.fits, c.reasonCode])]),
    text: JSON.stringify([
      e.summary,
      e.clusters.map((c) => [c.cluster, c.fits, c.reasonCode, c.message]),
    ]),
    at: Number.isNaN(at) ? 0 : at,
  };
}

/** The SQL of the scheduling cycle: what it reads (the queue, weights, reservations) and commits. */
@Injectable()
export class CycleRepository {
  /** The gang specs the last queuedGangs() returned, by job id (see gangsOf). */
  private gangSpecs = new Map<string, GangSpec>();
  /**
   * The digests of the stored explanations of the last queuedGangs(), by job id, each with the
   * `evaluatedAt` of the text it was computed from (see digestsOf).
   */
  private digests = new Map<string, { evaluatedAt: string; digest: ExplanationDigest }>();

  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    private readonly jobs: JobsRepository,
  ) {}

  /**
   * The queued gangs a cycle considers: each queue's head (priority, then age) taken in turns —
   * every queue's first, then every queue's second, … — up to `limit`. Cutting one global
   * priority order instead would let one queue's unplaceable high-priority gangs fill every cycle
   * and starve all other queues.
   */
  async queuedGangs(limit: number): Promise<QueuedGang[]> {
    const rows = (await this.db.query(
      `SELECT h.* FROM queues q CROSS JOIN LATERAL (
         SELECT id, queue, priority, created_at, explanation->>'evaluatedAt' AS evaluated_at,
                excluded_clusters,
                row_number() OVER (ORDER BY priority DESC, created_at ASC) AS turn
           FROM jobs
          WHERE queue = q.name AND state = 'Queued' AND (not_before IS NULL OR not_before <= now())
          ORDER BY priority DESC, created_at ASC LIMIT $1) h
        ORDER BY h.turn, h.priority DESC, h.created_at ASC LIMIT $1`,
      [limit],
    )) as {
      id: string;
      queue: string;
      priority: number;
      created_at: Date;
      evaluated_at: string | null;
      excluded_clusters: ClusterExclusions | null;
    }[];
    const gangs = await this.gangsOf(rows.map((r) => r.id));
    const digests = await this.digestsOf(rows);
    const out: QueuedGang[] = [];
    for (const r of rows) {
      const gang = gangs.get(r.id);
      if (!gang) continue; // deleted between the two reads (its queue went)
      out.push({
        id: r.id,
        queue: r.queue,
        priority: r.priority,
        gang,
        createdAt: r.created_at,
        explained: digests.get(r.id)?.digest ?? null,
        excludedClusters: r.excluded_clusters ?? {},
      });
    }
    return out;
  }

  /**
   * The gang specs of `ids`: those of the last call from memory, the rest read by primary key.
   * A job's gang never changes after its submit, so a spec read once stays true, and a queue's
   * head is read again every cycle: without this each cycle re-read and re-parsed up to
   * `limit` gang specs (pod templates included), a third of a busy hub's CPU. Holds only the
   * gangs of the last call, so it is bounded by the cycle's limit.
   */
  private async gangsOf(ids: readonly string[]): Promise<Map<string, GangSpec>> {
    const found = new Map<string, GangSpec>();
    const missing: string[] = [];
    for (const id of ids) {
      const g = this.gangSpecs.get(id);
      if (g) found.set(id, g);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const rows = (await this.db.query('SELECT id, gang FROM jobs WHERE id = ANY($1::uuid[])', [
        missing,
      ])) as { id: string; gang: GangSpec }[];
      for (const r of rows) found.set(r.id, r.gang);
    }
    this.gangSpecs = found;
    return found;
  }

  /**
   * The digest of each job's stored explanation. A stored explanation is up to a verdict per
   * cluster, and a cycle reads every queued head's: parsing them all each cycle was a fifth of a
   * busy hub's CPU at 100 clusters. So a digest is kept with the `evaluatedAt` of its text and
   * the text is read again only when the stored `evaluatedAt` differs (another replica, or this
   * one, wrote a newer one). Holds only the jobs of the last call.
   */
  private async digestsOf(
    rows: readonly { id: string; evaluated_at: string | null }[],
  ): Promise<ReadonlyMap<string, { evaluatedAt: string; digest: ExplanationDigest }>> {
    const kept = new Map<string, { evaluatedAt: string; digest: ExplanationDigest }>();
    const missing: string[] = [];
    for (const r of rows) {
      if (r.evaluated_at === null) continue;
      const d = this.digests.get(r.id);
      if (d?.evaluatedAt === r.evaluated_at) kept.set(r.id, d);
      else missing.push(r.id);
    }
    if (missing.length > 0) {
      const stored = (await this.db.query(
        'SELECT id, explanation FROM jobs WHERE id = ANY($1::uuid[])',
        [missing],
      )) as { id: string; explanation: StoredExplanation | null }[];
      for (const r of stored) {
        const digest = explanationDigest(r.explanation);
        if (digest) kept.set(r.id, { evaluatedAt: r.explanation!.evaluatedAt, digest });
      }
    }
    this.digests = kept;
    return kept;
  }

  /** Each queue's weight, and its quota, preemption rules and budget where it has them: one read. */
  async queueSettings(): Promise<{
    weights: Map<string, number>;
    quotas: QueueQuota[];
    cohorts: CohortQuota[];
    preemption: Map<string, QueuePreemption>;
    budgets: Map<string, QueueBudgetSpec>;
  }> {
    const [rows, cohorts] = (await Promise.all([
      this.db.query('SELECT name, weight, quota, preemption, budget FROM queues'),
      this.db.query('SELECT name, parent, quota FROM cohorts'),
    ])) as [
      {
        name: string;
        weight: number;
        quota: QueueQuotaSpec | null;
        preemption: QueuePreemption | null;
        budget: QueueBudgetSpec | null;
      }[],
      Parameters<typeof cohortQuotaOf>[0][],
    ];
    const some = <T>(pick: (r: (typeof rows)[number]) => T | null) =>
      new Map(
        rows.flatMap((r) => {
          const v = pick(r);
          return v ? [[r.name, v] as const] : [];
        }),
      );
    return {
      weights: new Map(rows.map((r) => [r.name, r.weight])),
      quotas: rows.flatMap((r) => (r.quota ? [queueQuotaOf(r.name, r.quota)] : [])),
      cohorts: cohorts.map(cohortQuotaOf),
      preemption: some((r) => r.preemption),
      budgets: some((r) => r.budget),
    };
  }

  async reservations(): Promise<ReservationRow[]> {
    // Devices count until the report shows them held: see withHeldDevices in plan-cycle.
    const rows = (await this.db.query(
      `SELECT r.job_id, j.queue, r.cluster, r.fencing_token, r.node_requests,
              r.placement->'devices' AS devices, j.priority, j.state, r.created_at,
              j.eviction->'for' AS evicted_for, j.eviction IS NOT NULL AS evicting,
              j.eviction_grace_seconds, r.usage, c.cluster_set
         FROM reservations r JOIN jobs j ON j.id = r.job_id
         LEFT JOIN clusters c ON c.name = r.cluster`,
    )) as {
      job_id: string;
      queue: string;
      cluster: string;
      fencing_token: string;
      node_requests: NodeRequests;
      devices: NodeDeviceList[] | null;
      priority: number;
      state: JobStateName;
      created_at: Date;
      evicted_for: string | null;
      evicting: boolean;
      eviction_grace_seconds: number | null;
      usage: Record<string, number> | null;
      cluster_set: string | null;
    }[];
    return rows.map((r) => ({
      jobId: r.job_id,
      queue: r.queue,
      cluster: r.cluster,
      fencingToken: Number(r.fencing_token),
      nodeRequests: r.node_requests,
      ...(Array.isArray(r.devices) ? { devices: r.devices } : {}),
      priority: r.priority,
      state: r.state,
      placedAt: r.created_at,
      eviction: r.evicting ? (r.evicted_for ? { for: r.evicted_for } : {}) : null,
      graceSeconds: r.eviction_grace_seconds,
      clusterSet: r.cluster_set ?? '',
      deviceCounts: deviceCountsOf(r.usage),
    }));
  }

  /**
   * Commits one cycle: every placement becomes a reservation and a Reserved job, in one
   * transaction, guarded on the job still being Queued (a gang cancelled meanwhile is skipped)
   * and on `epoch` still being the leader epoch: it holds the epoch row (FOR SHARE) to the end,
   * so a new leader's epoch takes effect only after this commit, and its cycles see these
   * reservations; a cycle that outlived its leadership throws {@link LeadershipLost}.
   * Returns the gangs actually reserved with their new fencing tokens.
   */
  async commitCycle(
    placed: NewReservation[],
    explained: { jobId: string; explanation: StoredExplanation }[],
    epoch: number,
  ): Promise<ReservedGang[]> {
    return (await this.commitPlan({ placed, explained, evictions: [] }, epoch)).reserved;
  }

  /**
   * {@link commitCycle} with the cycle's evictions too (preemption's victims, given their
   * notice in the same transaction). Returns the gangs reserved and the gangs marked evicting.
   */
  async commitPlan(
    plan: {
      placed: NewReservation[];
      explained: { jobId: string; explanation: StoredExplanation }[];
      evictions: PlannedEviction[];
    },
    epoch: number,
  ): Promise<{ reserved: ReservedGang[]; evicted: GangTransition[] }> {
    const { placed, explained, evictions } = plan;
    if (placed.length === 0 && explained.length === 0 && evictions.length === 0)
      return { reserved: [], evicted: [] };
    return this.db.transaction(async (tx) => {
      const [leader] = (await tx.query(
        'SELECT epoch FROM scheduler_leader WHERE id = 1 FOR SHARE',
      )) as { epoch: string }[];
      const current = Number(leader?.epoch ?? -1);
      if (current !== epoch) throw new LeadershipLost(epoch, current);
      // Every row this commit changes is locked first, in id order, before the event append lock:
      // the order member-state batches and cancels take them too, so none of them can deadlock
      // with a cycle (a deadlock victim is a whole cycle's reservations, or a batch of reports).
      await tx.query('SELECT id FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [
        [
          ...new Set([
            ...placed.map((p) => p.jobId),
            ...explained.map((e) => e.jobId),
            ...evictions.map((e) => e.jobId),
          ]),
        ],
      ]);
      let reserved: ReservedGang[] = [];
      if (placed.length > 0) {
        const rows = (await tx.query(
          `UPDATE jobs j SET state = 'Reserved', cluster = v.cluster, dispatch_generation = j.dispatch_generation + 1,
                  reason = 'Reserved', message = v.message, updated_at = now(), explanation = NULL
             FROM jsonb_to_recordset($1::jsonb) AS v(id uuid, cluster text, message text)
            WHERE j.id = v.id AND j.state = 'Queued'
          RETURNING j.id, j.queue, j.state, j.cluster, j.dispatch_generation, j.members,
                    EXTRACT(EPOCH FROM now() - j.created_at)::float8 AS waited_s`,
          [
            JSON.stringify(
              placed.map((p) => ({ id: p.jobId, cluster: p.cluster, message: p.message })),
            ),
          ],
        )) as [(LiveJobRow & { waited_s: number })[], number];
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
            queue: r.queue,
            usage: p.usage ?? null,
          };
        });
        if (reservations.length > 0) {
          await tx.query(
            `INSERT INTO reservations (job_id, cluster, fencing_token, placement, node_requests, queue, usage)
             SELECT job_id, cluster, fencing_token, placement, node_requests, queue, usage
               FROM jsonb_to_recordset($1::jsonb) AS v(job_id uuid, cluster text, fencing_token bigint, placement jsonb, node_requests jsonb, queue text, usage jsonb)
             ON CONFLICT (job_id) DO UPDATE SET cluster = EXCLUDED.cluster, fencing_token = EXCLUDED.fencing_token,
               placement = EXCLUDED.placement, node_requests = EXCLUDED.node_requests, created_at = now(),
               queue = EXCLUDED.queue, usage = EXCLUDED.usage`,
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
          queue: r.queue,
          waitedSeconds: Math.max(0, r.waited_s),
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
      const evicted = await markEvicting(tx, this.jobs, evictions);
      return { reserved, evicted };
    });
  }
}
