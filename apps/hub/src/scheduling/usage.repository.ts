// What queues have used over time: the scheduling leader books what admitted gangs hold, each
// cycle, into hourly buckets of queue_usage (milli-unit-seconds: 1 GPU held for 1 s = 1000), and
// budgets and fair share read them back.
import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DATA_SOURCE } from '../core.tokens';
import type { BudgetPeriodName } from '../inventory/cluster.domain';
import { periodStart } from './budget';
import type { UtilisationQuery, UtilisationRow } from '../inventory/utilisation';

export const USAGE_SETTINGS = Symbol('USAGE_SETTINGS');

export interface UsageSettings {
  /** Buckets older than this many days are pruned and not read (MUSTER_USAGE_RETENTION_DAYS). */
  retentionDays: number;
}

/** One hour of a queue's usage. */
export interface UsageBucket {
  /** The whole UTC hour it begins at. */
  start: Date;
  /** 3600, or less for the hour now under way: how much of it has passed. */
  lengthSeconds: number;
  /** Milli-unit-seconds per resource. */
  seconds: Record<string, number>;
}

/** Which budget to sum: the queue's resource, over the period that holds `now`. */
export interface BudgetQuery {
  queue: string;
  resource: string;
  period: BudgetPeriodName;
}

const HOUR_S = 3600;
const MILLI_SECONDS_PER_HOUR = 1000 * HOUR_S;

@Injectable()
export class UsageRepository {
  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Inject(USAGE_SETTINGS) private readonly settings: UsageSettings,
  ) {}

  /**
   * Books what every reservation held since it was last booked into its queue's and its cluster's
   * current hour bucket, and moves its mark to now; returns how many reservations were booked. A reservation
   * that goes or is replaced books its rest itself (a trigger, see the queue-usage migration), so
   * calling this often only keeps the history current; nothing is booked twice, whichever replicas
   * call it. Rows another transaction holds are left to the next call. An interval that spans an
   * hour boundary is booked wholly to the hour it ends in: period starts are whole hours, so
   * budgets lose none of it.
   */
  async bookHeld(): Promise<number> {
    const rows = (await this.db.query(
      `WITH held AS (
         SELECT job_id, queue, cluster, usage, EXTRACT(EPOCH FROM now() - accounted_until)::float8 AS seconds
           FROM reservations WHERE accounted_until < now() FOR UPDATE SKIP LOCKED
       ), stamped AS (
         UPDATE reservations r SET accounted_until = now() FROM held h WHERE r.job_id = h.job_id
         RETURNING r.job_id
       ), booked AS (
         SELECT muster_book_usage(queue, cluster, usage, seconds) FROM held WHERE usage IS NOT NULL
       )
       SELECT (SELECT count(*) FROM stamped)::int AS n, (SELECT count(*) FROM booked)::int AS b`,
    )) as { n: number }[];
    return rows[0]?.n ?? 0;
  }

  /**
   * Books what every cluster reported it had (its `bookable` capacity) since it was last booked
   * into its current hour bucket of capacity_history, and moves its mark to now; a cluster whose
   * agent is not Connected only has its mark moved, so an outage books no capacity. A new report
   * books the one it replaces itself (a trigger, see the utilisation migration). Returns how many
   * clusters were booked.
   */
  async bookCapacity(): Promise<number> {
    const rows = (await this.db.query(
      `WITH due AS (
         SELECT cluster, bookable, EXTRACT(EPOCH FROM now() - accounted_until)::float8 AS seconds
           FROM cluster_capacity WHERE accounted_until < now() FOR UPDATE SKIP LOCKED
       ), stamped AS (
         UPDATE cluster_capacity k SET accounted_until = now() FROM due d WHERE k.cluster = d.cluster
         RETURNING k.cluster
       ), booked AS (
         SELECT muster_book_capacity(cluster, bookable, seconds) FROM due WHERE bookable IS NOT NULL
       )
       SELECT (SELECT count(*) FROM stamped)::int AS n, (SELECT count(*) FROM booked)::int AS b`,
    )) as { n: number }[];
    return rows[0]?.n ?? 0;
  }

  /** How many days of history are kept and may be read (MUSTER_USAGE_RETENTION_DAYS). */
  get retentionDays(): number {
    return this.settings.retentionDays;
  }

  /**
   * The booked hour buckets of the query's resource from the hour holding `since` to `until`, per
   * cluster (allocated and capacity) or queue (allocated), milli-unit-seconds; when `until` is now,
   * what live reservations and connected clusters held since their last booking is added to the
   * hour under way, so the figures are exact now.
   */
  async utilisationRows(q: UtilisationQuery): Promise<UtilisationRow[]> {
    const since = new Date(Math.floor(q.since.getTime() / 3_600_000) * 3_600_000);
    const live = `GREATEST(0, EXTRACT(EPOCH FROM now() - accounted_until))::float8`;
    const now = `date_trunc('hour', now(), 'UTC')`;
    const sql =
      q.groupBy === 'cluster'
        ? `SELECT cluster AS grp, bucket, seconds AS allocated, 0::float8 AS capacity FROM cluster_usage
            WHERE resource = $1 AND bucket >= $2 AND bucket < $3
           UNION ALL
           SELECT cluster, bucket, 0, seconds FROM capacity_history
            WHERE resource = $1 AND bucket >= $2 AND bucket < $3
           UNION ALL
           SELECT cluster, ${now}, (usage->>$1)::float8 * ${live}, 0 FROM reservations
            WHERE $4 AND usage ? $1
           UNION ALL
           SELECT k.cluster, ${now}, 0, (k.bookable->>$1)::float8 * ${live}
             FROM cluster_capacity k JOIN clusters c ON c.name = k.cluster AND c.agent_state = 'Connected'
            WHERE $4 AND k.bookable ? $1`
        : `SELECT queue AS grp, bucket, seconds AS allocated, NULL::float8 AS capacity FROM queue_usage
            WHERE resource = $1 AND bucket >= $2 AND bucket < $3 AND ($5::text[] IS NULL OR queue = ANY($5))
           UNION ALL
           SELECT queue, ${now}, (usage->>$1)::float8 * ${live}, NULL FROM reservations
            WHERE $4 AND usage ? $1 AND queue IS NOT NULL AND ($5::text[] IS NULL OR queue = ANY($5))`;
    const rows = (await this.db.query(
      `SELECT grp, bucket, SUM(allocated)::float8 AS allocated, SUM(capacity)::float8 AS capacity
         FROM (${sql}) x GROUP BY grp, bucket ORDER BY grp, bucket`,
      q.groupBy === 'cluster'
        ? [q.resource, since, q.until, q.untilNow]
        : [q.resource, since, q.until, q.untilNow, q.queues],
    )) as { grp: string; bucket: Date; allocated: number; capacity: number | null }[];
    return rows.map((r) => ({
      group: r.grp,
      bucket: r.bucket,
      allocated: r.allocated,
      capacity: r.capacity,
    }));
  }

  /** Each queue's hourly buckets of the retention period up to `now`, oldest first. */
  async history(now: Date = new Date()): Promise<Map<string, UsageBucket[]>> {
    const since = new Date(now.getTime() - this.settings.retentionDays * 86_400_000);
    const rows = (await this.db.query(
      `SELECT queue, bucket, resource, seconds FROM queue_usage
        WHERE bucket > $1 AND bucket <= $2 ORDER BY queue, bucket, resource`,
      [since, now],
    )) as { queue: string; bucket: Date; resource: string; seconds: number }[];
    const out = new Map<string, UsageBucket[]>();
    for (const r of rows) {
      const buckets = out.get(r.queue) ?? [];
      let last = buckets[buckets.length - 1];
      if (last?.start.getTime() !== r.bucket.getTime()) {
        const passed = (now.getTime() - r.bucket.getTime()) / 1000;
        last = { start: r.bucket, lengthSeconds: Math.min(HOUR_S, passed), seconds: {} };
        buckets.push(last);
      }
      last.seconds[r.resource] = r.seconds;
      out.set(r.queue, buckets);
    }
    return out;
  }

  /**
   * Each queue's usage history decayed by `halfLifeSeconds` (milli-unit-seconds per resource),
   * summed in Postgres: each hour bucket weighs 2^(-age/halfLife), its age taken at its middle
   * (the hour under way counts as if half over). Buckets older than 8 half-lives, which weigh
   * under 1/256, are left out. What fair share by usage history reads (see decayedUsage).
   */
  async decayedHistory(halfLifeSeconds: number): Promise<Map<string, Record<string, number>>> {
    const rows = (await this.db.query(
      `SELECT queue, resource,
              SUM(seconds * power(0.5, GREATEST(0, EXTRACT(EPOCH FROM now() - bucket) - 1800) / $1::float8))::float8 AS decayed
         FROM queue_usage
        WHERE bucket > now() - make_interval(secs => 8 * $1::float8)
        GROUP BY queue, resource`,
      [halfLifeSeconds],
    )) as { queue: string; resource: string; decayed: number }[];
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const m = out.get(r.queue) ?? {};
      m[r.resource] = r.decayed;
      out.set(r.queue, m);
    }
    return out;
  }

  /**
   * Device-hours each queue used of its budget's resource in the current period of its budget,
   * booked or held since by its live reservations (one query); every queue asked for is in the
   * answer, 0 when it used none.
   */
  async budgetUsed(
    budgets: readonly BudgetQuery[],
    now: Date = new Date(),
  ): Promise<Map<string, number>> {
    if (budgets.length === 0) return new Map();
    const rows = (await this.db.query(
      `SELECT v.queue,
              (COALESCE((SELECT SUM(u.seconds) FROM queue_usage u
                          WHERE u.queue = v.queue AND u.resource = v.resource AND u.bucket >= v.since), 0)
             -- What live reservations held since their last booking: the figure is exact now.
             + COALESCE((SELECT SUM((r.usage->>v.resource)::float8
                                    * GREATEST(0, EXTRACT(EPOCH FROM now() - GREATEST(r.accounted_until, v.since))))
                           FROM reservations r WHERE r.queue = v.queue AND r.usage ? v.resource), 0)
              )::float8 AS seconds
         FROM jsonb_to_recordset($1::jsonb) AS v(queue text, resource text, since timestamptz)`,
      [
        JSON.stringify(
          budgets.map((b) => ({
            queue: b.queue,
            resource: b.resource,
            since: periodStart(b.period, now).toISOString(),
          })),
        ),
      ],
    )) as { queue: string; seconds: number }[];
    return new Map(rows.map((r) => [r.queue, r.seconds / MILLI_SECONDS_PER_HOUR]));
  }

  /**
   * Deletes buckets of queue usage, cluster usage and capacity history that began more than
   * `retentionDays` ago; returns how many.
   */
  async prune(retentionDays: number): Promise<number> {
    let deleted = 0;
    for (const table of ['queue_usage', 'cluster_usage', 'capacity_history']) {
      const [, n] = (await this.db.query(
        `DELETE FROM ${table} WHERE bucket < now() - make_interval(days => $1)`,
        [retentionDays],
      )) as [unknown[], number];
      deleted += n;
    }
    return deleted;
  }
}
