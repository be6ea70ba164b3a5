// Graceful eviction, the path preemption and drains share: a live gang is given its eviction in
// Postgres (with the notice's grace), its agent marks the members and confirms, the grace period
// runs from the confirmation, a Cancel deletes what is left, and once every member is gone the
// gang is requeued keeping its place (dispatch.repository, gangVerdict). Each step is rebuilt
// from Postgres by the reconciler, so a lost delivery, a hub restart or a reconnecting agent
// delays a step and never skips one: no gang is deleted before its notice was confirmed and its
// grace period ran.
import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import type { Log } from '@muster/log';
import { DATA_SOURCE } from '../core.tokens';
import type { Eviction } from '../jobs/job.domain';
import { JobEventFeed } from '../jobs/job-event-feed';
import type { ClusterDraining } from '../inventory/inventory.service';
import type { ClusterDrainState } from '../inventory/cluster.domain';
import { InjectLog } from '../logging/inject-log';
import { CycleRequests } from '../scheduling/cycle-requests';
import { DispatchRepository, type GangTransition } from './dispatch.repository';
import { Dispatcher } from './dispatcher';

export const EVICTION_SETTINGS = Symbol('EVICTION_SETTINGS');

export interface EvictionSettings {
  /** A notice unconfirmed, or a Cancel past its deadline, this long is sent again, in ms. */
  staleAfterMs: number;
}

@Injectable()
export class Evictions implements ClusterDraining {
  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    private readonly repo: DispatchRepository,
    private readonly dispatcher: Dispatcher,
    private readonly feed: JobEventFeed,
    private readonly cycles: CycleRequests,
    @Inject(EVICTION_SETTINGS) private readonly settings: EvictionSettings,
    @InjectLog('evictions') private readonly log: Log,
  ) {}

  /**
   * `muster clusters drain`: cordons the cluster and gives each of its live gangs an eviction
   * with `graceSeconds` of notice; gangs dispatched there later (reserved before the drain) get
   * theirs from the reconciler. Returns the gangs noticed now; null when there is no such cluster.
   */
  async drainCluster(
    name: string,
    graceSeconds: number,
    reason: string,
    by: string,
  ): Promise<string[] | null> {
    const drain: ClusterDrainState = {
      since: new Date().toISOString(),
      graceSeconds,
      reason,
      by,
    };
    const marked = await this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `UPDATE clusters SET cordoned = true, drain = $2::jsonb, updated_at = now()
          WHERE name = $1 RETURNING name`,
        [name, JSON.stringify(drain)],
      )) as [unknown[], number];
      if (rows[0].length === 0) return null;
      return this.evictLiveOn(tx, name, drain);
    });
    if (marked === null) return null;
    this.log.info('cluster drained', {
      cluster: name,
      graceSeconds,
      reason,
      by,
      gangs: marked.length,
    });
    await this.noticed(marked);
    return marked.map((m) => m.jobId);
  }

  /**
   * Gives the live gangs of a drained cluster that have no eviction yet theirs (a gang that was
   * Reserved at the drain and has been dispatched since).
   */
  private async evictLiveOn(
    tx: EntityManager,
    cluster: string,
    drain: ClusterDrainState,
  ): Promise<GangTransition[]> {
    const rows = (await tx.query(
      `SELECT id, dispatch_generation FROM jobs
        WHERE cluster = $1 AND state IN ('Dispatched','Running') AND eviction IS NULL
        ORDER BY id FOR UPDATE`,
      [cluster],
    )) as { id: string; dispatch_generation: string }[];
    const why = drain.reason ? ` (${drain.reason})` : '';
    const eviction: Eviction = {
      reason: 'Drained',
      message: `cluster ${cluster} is drained${why}: the gang is deleted ${drain.graceSeconds} s after its members got the notice, then placed elsewhere`,
      graceSeconds: drain.graceSeconds,
      decidedAt: new Date().toISOString(),
    };
    return this.repo.markEvicting(
      tx,
      rows.map((r) => ({ jobId: r.id, fencingToken: Number(r.dispatch_generation), eviction })),
    );
  }

  /** After an eviction committed: its notices go out, and watchers and the cycle hear of it. */
  async noticed(marked: readonly GangTransition[]): Promise<void> {
    if (marked.length === 0) return;
    this.feed.notify();
    await this.dispatcher.enqueueNotices(marked);
  }

  /**
   * The reconciler's pass: drained clusters' new gangs get their eviction, a notice the agent has
   * not confirmed is sent again, and a gang past its deadline gets its Cancel again.
   */
  async reconcile(): Promise<void> {
    const drained = (await this.db.query(
      'SELECT name, drain FROM clusters WHERE drain IS NOT NULL',
    )) as { name: string; drain: ClusterDrainState }[];
    for (const c of drained) {
      const marked = await this.db.transaction((tx) => this.evictLiveOn(tx, c.name, c.drain));
      await this.noticed(marked);
    }
    const now = Date.now();
    const stale = (iso: string | undefined) =>
      iso !== undefined && now - Date.parse(iso) > this.settings.staleAfterMs;
    const renotice: GangTransition[] = [];
    for (const e of await this.repo.evicting(null)) {
      if (!e.eviction.noticedAt && stale(e.eviction.decidedAt))
        renotice.push({ ...e, state: 'Running' });
      else if (stale(e.eviction.deadline))
        await this.dispatcher.enqueueCancel(e.jobId, e.cluster, e.fencingToken, {
          idSuffix: `.evicted.r${now}`,
        });
    }
    if (renotice.length > 0) {
      this.log.info('eviction notices sent again (not confirmed yet)', { gangs: renotice.length });
      await this.dispatcher.enqueueNotices(renotice, `.r${now}`);
    }
    if (drained.length > 0) this.cycles.requestCycle('drain');
  }
}
