import { In, type DataSource, type EntityManager } from 'typeorm';
import { GroupCommit, type Settled } from '@muster/common';
import { JOB_EVENTS_APPEND_LOCK } from '../database/advisory-locks';
import { JobEntity } from './job.entity';
import { JobEventEntity } from './job-event.entity';
import type { Job, JobEvent, JobStateName, MemberCounts } from './job.domain';
import { Inject, Injectable } from '@nestjs/common';
import { DATA_SOURCE } from '../core.tokens';

export interface ListJobsQuery {
  queue?: string;
  states?: JobStateName[];
  limit: number;
  /** Keyset cursor: jobs strictly older than this (created_at, id). */
  before?: { createdAt: Date; id: string };
}

export interface NewEvent {
  jobId: string;
  queue: string;
  fromState: JobStateName | null;
  state: JobStateName;
  reason: string;
  message: string;
  cluster: string | null;
  members: MemberCounts;
}

/** A job before Postgres has stamped its times. */
export type NewJob = Omit<Job, 'createdAt' | 'updatedAt'>;

interface Insert {
  job: NewJob;
  event: NewEvent;
}

interface Inserted {
  job: Job;
  created: boolean;
}

/** Most submits stored in one transaction (17 parameters each; Postgres allows 65,535). */
const SUBMIT_BATCH = 256;

export interface TransitionResult {
  job: Job;
  changed: boolean;
}

/** All SQL about jobs and their events. Entities stay in here: callers get domain Jobs. */
@Injectable()
export class JobsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** New jobs are stored in group commits: one transaction for many concurrent submits. */
  private readonly submits = new GroupCommit<Insert, Inserted>({
    maxBatch: SUBMIT_BATCH,
    write: (items) => this.insertBatch(items),
  });

  /**
   * Stores a new job and its first event, committed before it resolves. When the client request
   * id was used before, stores nothing and returns the job created then. Submits that arrive
   * together share one transaction (see GroupCommit); each still gets its own answer.
   */
  insertOrGetExisting(job: NewJob, event: NewEvent): Promise<Inserted> {
    return this.submits.submit({ job, event });
  }

  private async insertBatch(items: readonly Insert[]): Promise<Settled<Inserted>[]> {
    try {
      const stored = await this.db.transaction((tx) => this.insertAll(tx, items));
      return stored.map((value) => ({ ok: true, value }));
    } catch (error) {
      if (items.length === 1) return [{ ok: false, error }];
      // One bad row (its queue deleted since the submit checked it) fails the whole statement:
      // each item again in its own transaction, so that only that one fails.
      const outcomes: Settled<Inserted>[] = [];
      for (const item of items) {
        try {
          const [value] = await this.db.transaction((tx) => this.insertAll(tx, [item]));
          outcomes.push({ ok: true, value: value! });
        } catch (err) {
          outcomes.push({ ok: false, error: err });
        }
      }
      return outcomes;
    }
  }

  private async insertAll(tx: EntityManager, items: readonly Insert[]): Promise<Inserted[]> {
    // Times come from Postgres's clock, one for every replica: submit order (FIFO within a
    // priority) must not shift with a replica's clock offset. clock_timestamp(), not now(): the
    // rows of one batch keep the order they arrived in. A NULL client request id never
    // conflicts; a request id twice in one batch stores the first.
    const columns = 19;
    const params: unknown[] = [];
    const rows = items.map(({ job }, r) => {
      params.push(
        job.id,
        job.clientRequestId,
        job.specHash,
        job.name,
        job.queue,
        job.priority,
        job.onClusterLost,
        job.namespace,
        JSON.stringify(job.labels),
        JSON.stringify(job.gang),
        job.state,
        job.reason,
        job.message,
        job.cluster,
        job.dispatchGeneration,
        JSON.stringify(job.members),
        job.maxRestarts,
        job.evictionGraceSeconds,
        job.priorityClass,
      );
      const p = (i: number) => `$${r * columns + i}`;
      return `(${Array.from({ length: columns }, (_, i) => p(i + 1)).join(',')}, clock_timestamp(), clock_timestamp())`;
    });
    const inserted = (await tx.query(
      `INSERT INTO jobs (id, client_request_id, spec_hash, name, queue, priority, on_cluster_lost, namespace,
         labels, gang, state, reason, message, cluster, dispatch_generation, members, max_restarts, eviction_grace_seconds, priority_class, created_at, updated_at)
       VALUES ${rows.join(',\n')}
       ON CONFLICT (client_request_id) DO NOTHING RETURNING id, created_at, updated_at`,
      params,
    )) as { id: string; created_at: Date; updated_at: Date }[];
    const times = new Map(inserted.map((r) => [r.id, r]));
    const reused = items
      .filter(({ job }) => !times.has(job.id))
      .map(({ job }) => job.clientRequestId!);
    const existing = new Map(
      reused.length === 0
        ? []
        : (await tx.getRepository(JobEntity).findBy({ clientRequestId: In(reused) })).map((j) => [
            j.clientRequestId,
            j,
          ]),
    );
    await this.appendEvents(
      tx,
      items.filter(({ job }) => times.has(job.id)).map(({ event }) => event),
    );
    return items.map(({ job }) => {
      const t = times.get(job.id);
      if (t)
        return { job: { ...job, createdAt: t.created_at, updatedAt: t.updated_at }, created: true };
      const first = existing.get(job.clientRequestId);
      if (!first)
        throw new Error(
          `job with client request id ${job.clientRequestId} neither stored nor found`,
        );
      return { job: first, created: false };
    });
  }

  /** Appends events in commit order (see JOB_EVENTS_APPEND_LOCK). */
  async appendEvents(tx: EntityManager, events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    await tx.query('SELECT pg_advisory_xact_lock($1)', [JOB_EVENTS_APPEND_LOCK]);
    // created_at defaults to Postgres's now(), like every time the hub stores.
    await tx.insert(JobEventEntity, events);
  }

  findById(id: string): Promise<Job | null> {
    return this.db.getRepository(JobEntity).findOneBy({ id });
  }

  async list(query: ListJobsQuery): Promise<Job[]> {
    const qb = this.db.getRepository(JobEntity).createQueryBuilder('j');
    if (query.queue) qb.andWhere('j.queue = :queue', { queue: query.queue });
    if (query.states && query.states.length > 0)
      qb.andWhere('j.state IN (:...states)', { states: query.states });
    if (query.before) {
      qb.andWhere('(j.created_at, j.id) < (:createdAt, :id)', query.before);
    }
    return qb
      .orderBy('j.created_at', 'DESC')
      .addOrderBy('j.id', 'DESC')
      .limit(query.limit)
      .getMany();
  }

  /**
   * Moves a job to `to` when its current state is one of `from`, with its event, atomically.
   * Returns the job unchanged (changed=false) when it is in another state.
   */
  async transition(
    id: string,
    from: readonly JobStateName[],
    to: JobStateName,
    reason: string,
    message: string,
  ): Promise<TransitionResult | null> {
    return this.db.transaction(async (tx) => {
      const job = await tx
        .getRepository(JobEntity)
        .findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!job) return null;
      if (!from.includes(job.state)) return { job, changed: false };
      const fromState = job.state;
      job.state = to;
      job.reason = reason;
      job.message = message;
      const updated = (await tx.query(
        `UPDATE jobs SET state = $2, reason = $3, message = $4, updated_at = now() WHERE id = $1
         RETURNING updated_at`,
        [id, to, reason, message],
      )) as [{ updated_at: Date }[], number];
      job.updatedAt = updated[0][0]!.updated_at;
      // A gang that ends gives its reserved capacity back in the same transaction.
      if (to === 'Succeeded' || to === 'Failed' || to === 'Cancelled')
        await tx.query('DELETE FROM reservations WHERE job_id = $1', [id]);
      await this.appendEvents(tx, [
        {
          jobId: id,
          queue: job.queue,
          fromState,
          state: to,
          reason,
          message,
          cluster: job.cluster,
          members: job.members,
        },
      ]);
      return { job, changed: true };
    });
  }

  async eventsOfJob(jobId: string, afterSequence: number, limit: number): Promise<JobEvent[]> {
    const rows = await this.db
      .getRepository(JobEventEntity)
      .createQueryBuilder('e')
      .where('e.job_id = :jobId AND e.seq > :after', { jobId, after: afterSequence })
      .orderBy('e.seq', 'ASC')
      .limit(limit)
      .getMany();
    return rows.map(toEventValue);
  }

  async eventsAfter(afterSequence: number, limit: number): Promise<JobEvent[]> {
    const rows = await this.db
      .getRepository(JobEventEntity)
      .createQueryBuilder('e')
      .where('e.seq > :after', { after: afterSequence })
      .orderBy('e.seq', 'ASC')
      .limit(limit)
      .getMany();
    return rows.map(toEventValue);
  }

  async lastEventSequence(): Promise<number> {
    const [row] = (await this.db.query('SELECT COALESCE(MAX(seq), 0) AS seq FROM job_events')) as {
      seq: string;
    }[];
    return Number(row?.seq ?? 0);
  }

  /** Deletes events of jobs that ended before `endedBefore`, keeping each job's last event. */
  async pruneEvents(endedBefore: Date): Promise<number> {
    const result = (await this.db.query(
      `DELETE FROM job_events e USING jobs j
        WHERE e.job_id = j.id AND j.state IN ('Succeeded','Failed','Cancelled') AND j.updated_at < $1
          AND e.seq < (SELECT MAX(seq) FROM job_events x WHERE x.job_id = j.id)`,
      [endedBefore],
    )) as [unknown, number];
    return result[1] ?? 0;
  }

  /** Queued gangs per queue (from the partial index on Queued jobs). */
  async countQueuedByQueue(): Promise<Record<string, number>> {
    const rows = (await this.db.query(
      `SELECT queue, COUNT(*)::int AS n FROM jobs WHERE state = 'Queued' GROUP BY queue`,
    )) as { queue: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.queue, r.n]));
  }

  async countByState(): Promise<Record<string, number>> {
    const rows = (await this.db.query(
      'SELECT state, COUNT(*)::int AS n FROM jobs GROUP BY state',
    )) as {
      state: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }
}

function toEventValue(e: JobEventEntity): JobEvent {
  return {
    sequence: Number(e.sequence),
    jobId: e.jobId,
    queue: e.queue,
    fromState: e.fromState,
    state: e.state,
    reason: e.reason,
    message: e.message,
    cluster: e.cluster,
    members: e.members,
    time: e.createdAt,
  };
}
