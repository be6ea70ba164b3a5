import { Inject, Injectable } from '@nestjs/common';
import { CoalescedRunner } from '@muster/common';
import { PlacementIndex, PreparedGangs } from '@muster/placement';
import type { Log } from '@muster/log';
import { HubMetrics } from '../http/metrics';
import { InventoryRepository } from '../inventory/inventory.repository';
import { clusterUnavailable, type ClusterUnavailable } from '../inventory/cluster.domain';
import { AgentRegistry } from '../agents/agent-session';
import { nodeSnapshotOf, type ReportedNode } from '../agents/capacity.mapper';
import { CapacityRepository } from '../inventory/capacity.repository';
import { CycleRepository, LeadershipLost } from './cycle.repository';
import { Dispatcher } from '../dispatch/dispatcher';
import { Evictions } from '../dispatch/evictions';
import { JobEventFeed } from '../jobs/job-event-feed';
import { InjectLog } from '../logging/inject-log';
import { CycleRequests } from './cycle-requests';
import { planCycle, ReservationRequests, type CycleCluster, type CyclePhase } from './plan-cycle';
import { UsageRepository } from './usage.repository';
import { budgetHold } from './budget';
import type { QueueBudgetSpec } from '../inventory/cluster.domain';

export const SCHEDULER_SETTINGS = Symbol('SCHEDULER_SETTINGS');

export interface SchedulerSettings {
  /** Most queued gangs considered in one cycle. */
  maxGangsPerCycle: number;
  /** A cycle runs at least this often while leading, in ms (requeue backoffs end, missed wake-ups). */
  periodMs: number;
  /** Wake-ups within this window are folded into one cycle, in ms. */
  coalesceMs: number;
  policy: 'pack' | 'spread';
  /** Notice a preempted gang gets when its job sets none, in seconds. */
  evictionGraceSeconds: number;
  /** Half-life of the usage history fair share weighs, in seconds; 0: none. */
  fairShareHalfLifeSeconds: number;
}

/** The usage history fair share weighs is read again at most this often, in ms. */
const USAGE_READ_MS = 10_000;
/** The leader books what reservations hold this often, in ms (see UsageRepository.bookHeld). */
const ACCOUNT_EVERY_MS = 5_000;

/** Where a cycle's time went, in ms: loading, each phase of {@link planCycle}, committing, enqueueing the dispatches. */
export type CycleTimings = Record<'load' | CyclePhase | 'commit' | 'enqueue', number>;

export interface CycleReport {
  considered: number;
  placed: number;
  unplaced: number;
  invalid: number;
  clusters: number;
  durationMs: number;
  /** Absent when nothing was queued. */
  phases?: CycleTimings;
}

/**
 * The scheduling cycle, on the leader only: load → snapshot → place → commit → enqueue.
 * Triggered by submits, capacity changes and a timer; never a busy loop.
 */
@Injectable()
export class Scheduler {
  private leader = false;
  /** The leader epoch this replica raised; every commit checks it is still the current one. */
  private epoch = 0;
  /** When this replica became leader, until its first cycle as leader has run (monotonic ms). */
  private ledSince: number | undefined;
  private readonly cycles = new CoalescedRunner({
    run: async () => {
      const report = await this.cycle();
      this.lastReport = report;
      if (this.ledSince !== undefined) {
        // How long a new leader (after a restart or a failover) takes to decide again.
        this.log.info('first scheduling cycle since becoming leader', {
          epoch: this.epoch,
          afterMs: Math.round(performance.now() - this.ledSince),
          considered: report.considered,
          placed: report.placed,
          durationMs: Math.round(report.durationMs),
          ...phaseFields(report.phases),
        });
        this.ledSince = undefined;
      }
      // A full batch placed something: more may be waiting behind it.
      return report.considered === this.settings.maxGangsPerCycle && report.placed > 0;
    },
    onError: (err) => {
      if (err instanceof LeadershipLost) this.log.warn('cycle discarded', { reason: err.message });
      else this.log.error('scheduling cycle failed', { err });
    },
    enabled: () => this.leader,
  });
  /** Placement's work on each queued gang, kept across cycles (see PreparedGangs). */
  private readonly prepared = new PreparedGangs();
  /** Each cluster's capacity index, kept across cycles and updated by what changed. */
  private readonly index = new PlacementIndex();
  /** Reservations' node requests, parsed once while they hold capacity. */
  private readonly reservations = new ReservationRequests();
  /** When each queued gang's explanation was last evaluated (see CycleSettings.explainedAt). */
  private readonly explainedAt = new Map<string, number>();
  private wake: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private accounting: NodeJS.Timeout | undefined;
  /** The usage history last read, with when (monotonic ms). */
  private historyRead: { at: number; history: Map<string, Record<string, number>> } | undefined;
  lastReport: CycleReport | undefined;

  constructor(
    private readonly repo: CycleRepository,
    private readonly capacity: CapacityRepository,
    private readonly inventory: InventoryRepository,
    private readonly agents: AgentRegistry,
    private readonly dispatcher: Dispatcher,
    private readonly evictions: Evictions,
    @Inject(SCHEDULER_SETTINGS) private readonly settings: SchedulerSettings,
    private readonly feed: JobEventFeed,
    private readonly metrics: HubMetrics,
    private readonly usage: UsageRepository,
    cycles: CycleRequests,
    @InjectLog('scheduler') private readonly log: Log,
  ) {
    cycles.onRequest((reason) => this.requestCycle(reason));
    // Any committed job event may be a submit: wake the cycle (a no-op off the leader).
    feed.subscribe((e) => {
      if (e.state === 'Queued') this.requestCycle('submit');
    });
  }

  setLeader(leader: boolean, epoch = 0): void {
    this.leader = leader;
    this.epoch = epoch;
    if (leader) {
      this.ledSince = performance.now();
      this.periodic = setInterval(() => this.requestCycle('timer'), this.settings.periodMs);
      this.accounting = setInterval(() => void this.accountUsage(), ACCOUNT_EVERY_MS);
      this.requestCycle('became leader');
    } else {
      if (this.periodic) clearInterval(this.periodic);
      if (this.accounting) clearInterval(this.accounting);
      this.periodic = this.accounting = undefined;
    }
  }

  stop(): void {
    this.leader = false;
    if (this.periodic) clearInterval(this.periodic);
    if (this.accounting) clearInterval(this.accounting);
    if (this.wake) clearTimeout(this.wake);
  }

  /**
   * Books what reservations held since their last booking into their queues' usage history (the
   * device-hours budgets count and fair share weighs) and their clusters', and what clusters had
   * into their capacity history (utilisation); each reservation also books its rest when it goes.
   */
  async accountUsage(): Promise<void> {
    if (!this.leader) return;
    try {
      await this.usage.bookHeld();
      await this.usage.bookCapacity();
    } catch (err) {
      this.log.warn('could not book usage and capacity; trying again', { err });
    }
  }

  /** Each queue's decayed usage history, read again at most every {@link USAGE_READ_MS}. */
  private async usageHistory(): Promise<Map<string, Record<string, number>>> {
    const halfLife = this.settings.fairShareHalfLifeSeconds;
    if (halfLife === 0) return new Map();
    const now = performance.now();
    if (!this.historyRead || now - this.historyRead.at >= USAGE_READ_MS)
      this.historyRead = { at: now, history: await this.usage.decayedHistory(halfLife) };
    return this.historyRead.history;
  }

  /** The queues whose budget is spent, with why; read every cycle, so none admits past it. */
  private async budgetHolds(
    budgets: ReadonlyMap<string, QueueBudgetSpec>,
    now: Date,
  ): Promise<Map<string, string>> {
    const holds = new Map<string, string>();
    if (budgets.size === 0) return holds;
    const used = await this.usage.budgetUsed(
      [...budgets].map(([queue, b]) => ({ queue, resource: b.resource, period: b.period })),
      now,
    );
    for (const [queue, b] of budgets) {
      const why = budgetHold(queue, b, used.get(queue) ?? 0, now);
      if (why) holds.set(queue, why);
    }
    return holds;
  }

  requestCycle(_reason: string): void {
    if (!this.leader) return;
    if (this.cycles.running) {
      this.cycles.request();
      return;
    }
    if (this.wake) return;
    this.wake = setTimeout(() => {
      this.wake = undefined;
      this.cycles.request();
    }, this.settings.coalesceMs);
  }

  /** One cycle: load, decide ({@link planCycle}), commit, enqueue. Public for tests and benchmarks. */
  async cycle(): Promise<CycleReport> {
    const started = performance.now();
    const queued = await this.repo.queuedGangs(this.settings.maxGangsPerCycle);
    if (queued.length === 0) return { ...EMPTY_REPORT, durationMs: performance.now() - started };
    const [
      { clusters, unavailable },
      { weights, quotas, cohorts, preemption, budgets },
      reservations,
    ] = await Promise.all([
      this.readyClusters(),
      this.repo.queueSettings(),
      this.repo.reservations(),
    ]);
    const now = new Date();
    const [history, budgetHolds] = await Promise.all([
      this.usageHistory(),
      this.budgetHolds(budgets, now),
    ]);
    const loaded = performance.now();
    const plan = planCycle(
      {
        clusters,
        unavailable,
        reservations,
        weights,
        quotas,
        cohorts,
        preemption,
        budgetHolds,
        ...(this.settings.fairShareHalfLifeSeconds > 0
          ? { history: { usage: history, halfLifeSeconds: this.settings.fairShareHalfLifeSeconds } }
          : {}),
        now,
      },
      queued,
      {
        policy: this.settings.policy,
        prepared: this.prepared,
        index: this.index,
        reservations: this.reservations,
        explainedAt: this.explainedAt,
        evictionGraceSeconds: this.settings.evictionGraceSeconds,
      },
    );
    if (plan.unreadableReservations.length > 0)
      this.log.error('reservations with unreadable node requests; their nodes count as full', {
        jobs: plan.unreadableReservations.join(','),
      });
    const decided = performance.now();
    const { reserved, evicted } = await this.repo.commitPlan(
      { placed: plan.reservations, explained: plan.explanations, evictions: plan.evictions },
      this.epoch,
    );
    const committed = performance.now();
    if (reserved.length > 0) {
      this.feed.notify();
      await this.dispatcher.enqueueDispatches(reserved);
    }
    if (evicted.length > 0) {
      this.log.info('gangs preempted; notices sent', {
        gangs: evicted.map((e) => e.jobId).join(','),
      });
      await this.evictions.noticed(evicted);
    }
    const phases: CycleTimings = {
      load: loaded - started,
      ...plan.phases,
      commit: committed - decided,
      enqueue: performance.now() - committed,
    };
    this.metrics.observeCycle(phases, reserved);
    const report: CycleReport = {
      considered: plan.considered,
      placed: reserved.length,
      unplaced: plan.unplaced,
      invalid: plan.invalid,
      clusters: plan.clusters,
      durationMs: performance.now() - started,
      phases,
    };
    if (reserved.length > 0 || plan.invalid > 0)
      this.log.info('scheduling cycle', {
        considered: report.considered,
        placed: report.placed,
        unplaced: report.unplaced,
        invalid: report.invalid,
        clusters: report.clusters,
        // Clusters whose placement index was built anew rather than kept and updated.
        clustersIndexed: this.index.last.built,
        durationMs: Math.round(report.durationMs),
        ...phaseFields(phases),
      });
    return report;
  }

  /** Ready clusters with their reported nodes (this replica's streams, else Postgres), and the rest with why. */
  private async readyClusters(): Promise<{
    clusters: CycleCluster[];
    unavailable: ClusterUnavailable[];
  }> {
    const all = await this.inventory.listClusters();
    const unavailable: ClusterUnavailable[] = [];
    const ready: typeof all = [];
    for (const c of all) {
      const why = clusterUnavailable(c);
      if (why) unavailable.push(why);
      else ready.push(c);
    }
    const remote = ready.filter((c) => !this.agents.get(c.name)).map((c) => c.name);
    const stored = new Map((await this.capacity.loadCapacity(remote)).map((r) => [r.cluster, r]));
    const clusters: CycleCluster[] = [];
    for (const c of ready) {
      const session = this.agents.get(c.name);
      const row = session ? undefined : stored.get(c.name);
      if (!session && !row) continue;
      const nodes = session ? [...session.nodes.values()] : (row!.nodes as ReportedNode[]);
      clusters.push({
        name: c.name,
        topologyLevels: c.topologyLevels,
        nodes: nodes.map(nodeSnapshotOf),
        reflected: session ? session.reflected : new Set(row!.reflected),
        deviceClasses: session ? session.deviceClasses : row!.deviceClasses,
        clusterSet: c.clusterSet,
      });
    }
    return { clusters, unavailable };
  }
}

const EMPTY_REPORT = { considered: 0, placed: 0, unplaced: 0, invalid: 0, clusters: 0 };

/** A cycle's phase timings as log fields: `loadMs`, `placeMs`, … to a tenth of a ms. */
function phaseFields(phases: CycleTimings | undefined): Record<string, number> {
  return Object.fromEntries(
    Object.entries(phases ?? {}).map(([k, v]) => [`${k}Ms`, Math.round(v * 10) / 10]),
  );
}
