import { ClusterStatusRepository } from '../inventory/inventory.repository';
import type { Log } from '@muster/log';
import { ClusterFencer, FenceUnavailable } from './cluster-fencer';
import { DispatchRepository } from './dispatch.repository';
import { Inject, Injectable } from '@nestjs/common';
import { JobEventFeed } from '../jobs/job-event-feed';
import type { ManualFencing } from '../inventory/inventory.service';
import { CycleRequests } from '../scheduling/cycle-requests';
import { InjectLog } from '../logging/inject-log';

export const FENCING_SETTINGS = Symbol('FENCING_SETTINGS');

export interface FencingSettings {
  /** Longest requeue backoff of a gang put back by fencing, in seconds. */
  maxRequeueBackoffSeconds: number;
}

/** Least time between two fencing passes over one lost cluster on one replica, in ms. */
const FENCE_RETRY_MS = 2_000;

/**
 * The rule that keeps a lost cluster's `requeue` gangs from running twice: a gang is placed
 * elsewhere only after its old copy is confirmed gone. A silent agent proves nothing — it may be
 * dead with its pods still running — so the timer that marks a cluster Lost never moves a gang by
 * itself. Confirmation comes from
 *  - the agent (its LOST/SelfFenced member reports, applied by the dispatch repository),
 *  - the hub, deleting the gang's pods through the worker's API server and reading back that none
 *    remain ({@link ClusterFencer}), or
 *  - an operator who knows the cluster is dead (`muster clusters fence`, {@link fenceCluster}).
 * Until one of them confirms, the job says why it waits (reason `AwaitingFence`).
 *
 * Every replica may run passes: they are idempotent (deletes of what is listed, a requeue guarded
 * by the fencing token), and at most one per cluster is in flight on a replica.
 */
@Injectable()
export class GangFencing implements ManualFencing {
  private readonly inFlight = new Set<string>();
  private readonly lastPass = new Map<string, number>();

  constructor(
    private readonly clusters: ClusterStatusRepository,
    private readonly repo: DispatchRepository,
    private readonly fencer: ClusterFencer,
    @Inject(FENCING_SETTINGS) private readonly settings: FencingSettings,
    private readonly feed: JobEventFeed,
    private readonly cycles: CycleRequests,
    @InjectLog('fencing') private readonly log: Log,
  ) {}

  private onChange(): void {
    this.feed.notify();
    this.cycles.requestCycle('cluster fenced');
  }

  /** Starts a fencing pass over a lost cluster unless one ran recently or still runs. */
  onLost(cluster: string): void {
    const now = performance.now();
    if (
      this.inFlight.has(cluster) ||
      now - (this.lastPass.get(cluster) ?? -Infinity) < FENCE_RETRY_MS
    )
      return;
    this.inFlight.add(cluster);
    this.lastPass.set(cluster, now);
    void this.pass(cluster)
      .catch((err: Error) => this.log.warn('fencing pass failed; retrying', { cluster, err }))
      .finally(() => this.inFlight.delete(cluster));
  }

  /** Waiting gangs of clusters whose agent is back no longer say they await a fence. */
  async clearRecovered(): Promise<void> {
    if ((await this.repo.clearAwaitingFence()) > 0) this.onChange();
  }

  /** One pass: fence every `requeue` gang still placed on the lost cluster, move those gone. */
  async pass(cluster: string): Promise<string[]> {
    const gangs = await this.repo.requeueGangsOn(cluster);
    if (gangs.length === 0) return [];
    const access = await this.clusters.accessProvidersOf(cluster);
    let found;
    try {
      found = await this.fencer.fence(
        { cluster, accessProviders: access },
        gangs.map((g) => g.jobId),
      );
    } catch (err) {
      if (!(err instanceof FenceUnavailable)) throw err;
      const message =
        `cluster ${cluster} is lost and the gang's pods there cannot be confirmed gone: ${err.message}. ` +
        `It stays until the agent reconnects, the API server answers, or an administrator who ` +
        `knows the cluster is down runs: muster clusters fence ${cluster}`;
      let noted = 0;
      for (const g of gangs)
        if (await this.repo.noteAwaitingFence(cluster, g.jobId, g.fencingToken, message)) noted++;
      if (noted > 0) {
        this.log.warn('lost cluster cannot be fenced; its requeue gangs stay', {
          cluster,
          gangs: gangs.length,
          err,
        });
        this.onChange();
      }
      return [];
    }
    const moved: string[] = [];
    for (const g of gangs) {
      const f = found.get(g.jobId)!;
      if (f.gone) {
        const ok = await this.repo.requeue(
          cluster,
          g.jobId,
          g.fencingToken,
          'ClusterLost',
          `cluster ${cluster} was lost; the hub deleted the gang's pods there through the ` +
            `cluster's API server (${f.deleted} deleted in the last pass) and confirmed none remain`,
          this.settings.maxRequeueBackoffSeconds,
          { whileLost: true },
        );
        if (ok) moved.push(g.jobId);
      } else {
        await this.repo.noteAwaitingFence(
          cluster,
          g.jobId,
          g.fencingToken,
          `cluster ${cluster} is lost; the hub deleted the gang's pods there through the cluster's ` +
            `API server and waits for the last ${f.remaining} to terminate before placing it elsewhere`,
        );
      }
    }
    if (moved.length > 0) {
      this.log.info('fenced and requeued gangs of a lost cluster', {
        cluster,
        gangs: moved.length,
      });
      this.onChange();
    }
    return moved;
  }

  /**
   * An operator confirms that a Lost cluster runs none of its gangs any more: its `requeue` gangs
   * move at once (only while it is still Lost), each with an event naming who fenced it and why.
   */
  async fenceCluster(cluster: string, reason: string, by: string): Promise<string[]> {
    const moved: string[] = [];
    for (const g of await this.repo.requeueGangsOn(cluster)) {
      const ok = await this.repo.requeue(
        cluster,
        g.jobId,
        g.fencingToken,
        'ClusterLost',
        `cluster ${cluster} was lost; ${by} confirmed by hand that it runs none of its gangs ` +
          `(muster clusters fence)${reason ? `: ${reason}` : ''}`,
        this.settings.maxRequeueBackoffSeconds,
        { whileLost: true },
      );
      if (ok) moved.push(g.jobId);
    }
    this.log.warn('cluster fenced by hand', { cluster, by, reason, gangs: moved.length });
    if (moved.length > 0) this.onChange();
    return moved;
  }
}
