// The fault run: gangs stream in while seven faults are injected one after another, each
// followed by its recovery, and a sampler reads the three worker API servers throughout. Ends
// with every acknowledged gang finished (or queued with a true explanation) and the figures:
// per fault, the gangs it displaced and how long until they ran again, and the invariant
// counts. Used by tests/faults/faults.e2e.spec.ts and bench/faults.
import { status, type ServiceError } from '@grpc/grpc-js';
import { AgentState, JobState, type Job } from '@muster/api';
import { ClusterObserver, GANG_LABEL, TOKEN_LABEL } from '../support/cluster-observer';
import { eventually } from '../support/fake-agent';
import {
  countInvariants,
  displacedBy,
  episodes,
  firstNewerCopy,
  lostJobs,
  movedWaitGangs,
  percentile,
  seconds,
  table,
  windowOf,
  INVARIANTS,
  type Displaced,
  type InvariantCounts,
  type LiveCopy,
} from './figures';
import { QUEUE, WORKERS, type FaultFleet } from './fleet';
import { Workload } from './workload';

export interface ScenarioOptions {
  /** Least gangs submitted over the run (the rest are submitted at once after the last fault). */
  gangs: number;
  /** Mixed gangs per second submitted while the faults run. */
  perSecond: number;
  /** Long `requeue` gangs submitted before each cluster fault, for it to displace. */
  longPerFault: number;
  /** How long each member of a long gang runs, e.g. "45s". */
  longRun: string;
  /** Sampler period, in ms (at most 500). */
  sampleIntervalMs: number;
  /** After a fault's recovery, the longest wait for its displaced gangs to run again, in ms. */
  recoveryWaitMs: number;
  /** After the last submit, the longest wait for every gang to finish, in ms. */
  drainMs: number;
  /** Seed of the gang mix. */
  seed: number;
  /** Progress lines. */
  log: (line: string) => void;
}

/** What the run measured about one fault. */
export interface FaultRecord {
  fault: string;
  /** The cluster it struck, for cluster faults. */
  target: string | undefined;
  injectedAt: number;
  /** When its recovery step (restart, SIGCONT, heal) was done. */
  recoveredAt: number;
  /**
   * The raw limits of this fault, measured in the same run: what the hub cannot beat (the time
   * to mark the cluster Lost, the time the API server was unreachable, the time to a new leader).
   */
  limits: { what: string; ms: number | undefined }[];
  displaced: Displaced[];
  /** `wait` gangs that moved during the fault's window (none should). */
  movedWait: string[];
  /** Displaced gangs never seen running again, by how they ended: "Succeeded on w1, token 1" → n. */
  notRunAgain: Record<string, number>;
}

export interface ScenarioReport {
  seed: number;
  startedAt: number;
  endedAt: number;
  faults: FaultRecord[];
  counts: InvariantCounts;
  /** Gangs partly bound and then deleted (a fence or bind timeout mid-binding): shown, not an invariant. */
  abandoned: number;
  gangs: {
    submitted: number;
    acknowledged: number;
    unanswered: number;
    /** Final states of the acknowledged gangs, by name. */
    states: Record<string, number>;
    /** Reasons of Failed gangs, with counts. */
    failedReasons: Record<string, number>;
    /** Acknowledged gangs the hub does not know (ids). */
    lost: string[];
    /** Gangs neither final nor Queued after the drain: id, state, reason. */
    stuck: string[];
    /** Queued gangs whose explanation is empty or contradicts the inventory. */
    untrueExplanations: string[];
  };
  sampler: {
    samples: number;
    failed: number;
    /** Per cluster: samples that used its last read, inside its SIGSTOP windows and outside. */
    stale: Record<string, { stopped: number; otherwise: number }>;
    /** Reads that threw or timed out outside the cluster's SIGSTOP windows (plus a read timeout). */
    readErrorsOutsideStops: string[];
    /** Clusters not read even once during a fault window (holes in what was checked). */
    unreadWindows: string[];
    maxSampleMs: number;
  };
  /** Hub replicas or agents that ended without the run ending them, or did not stop cleanly. */
  unexpectedExits: string[];
  /** The first violation episodes (start, duration, kind, fault), for diagnosis. */
  firstViolations: string[];
  /** Per fault (by index; -1 before the first), the longest time one gang was seen in two clusters, in ms. */
  longestOverlapMs: Map<number, number>;
  /** The configured limits beside which the recovery times stand. */
  limits: { lostMs: number; selfFenceMs: number; heartbeatMs: number; fenceDeleteGraceS: number };
  table: string;
}

const FINAL = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live copies of every gang in the sampler's latest reads: per gang, its newest token's cluster. */
function liveCopies(observer: ClusterObserver): Map<string, LiveCopy> {
  const out = new Map<string, LiveCopy>();
  for (const cluster of WORKERS) {
    for (const p of observer.lastRead(cluster)?.state.pods ?? []) {
      const gang = p.metadata?.labels?.[GANG_LABEL];
      const token = p.metadata?.labels?.[TOKEN_LABEL];
      if (!gang || !token) continue;
      if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      const had = out.get(gang);
      if (!had || Number(token) > Number(had.token)) out.set(gang, { cluster, token });
    }
  }
  return out;
}

/** Every job of the run's queue, by id. */
async function hubJobs(fleet: FaultFleet): Promise<Map<string, Job>> {
  const jobs = new Map<string, Job>();
  let pageToken = '';
  do {
    const page = await fleet.withHub((api) =>
      api.jobs.listJobs({ queue: QUEUE, states: [], pageSize: 500, pageToken }),
    );
    for (const j of page.jobs) jobs.set(j.id, j);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return jobs;
}

/** The ids the hub answers NOT_FOUND for (a check the run's lost count relies on). */
export async function unknownToHub(fleet: FaultFleet, ids: readonly string[]): Promise<string[]> {
  const unknown: string[] = [];
  for (const jobId of ids) {
    try {
      await fleet.withHub((api) => api.jobs.getJob({ jobId }));
    } catch (err) {
      if ((err as Partial<ServiceError>).code === status.NOT_FOUND) unknown.push(jobId);
      else throw err;
    }
  }
  return unknown;
}

interface FaultContext {
  fleet: FaultFleet;
  workload: Workload;
  observer: ClusterObserver;
  target: string | undefined;
  /** Records the injection time (and what ran where just before it), then injects. */
  inject(fn: () => Promise<void> | void): Promise<void>;
  /** Waits from the injection until `minMs` passed and `done()`, or until `maxMs`. */
  hold(minMs: number, maxMs: number, done?: () => Promise<boolean>): Promise<void>;
  /** Whether every `requeue` gang on the target at injection ran again or ended. */
  displacedRunAgain(): Promise<boolean>;
  /** Measures from the injection until `probe` holds (polled), in the background. */
  measure(what: string, probe: () => Promise<boolean>): void;
  /** Records a limit measured by the fault itself. */
  limit(what: string, ms: number): void;
  /** SIGSTOP / SIGCONT with the windows recorded (sampler failures inside them are expected). */
  stopApiServer(cluster: string): void;
  contApiServer(cluster: string): void;
  log(line: string): void;
}

interface Fault {
  name: string;
  /** Strikes one cluster (picked as the one running the most `requeue` gangs). */
  targetsCluster: boolean;
  run(ctx: FaultContext): Promise<void>;
}

/** The hub marks the target Lost: the earliest a `requeue` gang can move. */
function measureLost(ctx: FaultContext): void {
  const target = ctx.target!;
  ctx.measure(
    `${target} marked Lost`,
    async () => (await ctx.fleet.agentStates()).get(target) === AgentState.AGENT_STATE_LOST,
  );
}

async function restartAgent(ctx: FaultContext): Promise<void> {
  ctx.fleet.startAgent(ctx.target!);
  await ctx.fleet.allConnected();
}

const FAULTS: Fault[] = [
  {
    name: 'agent SIGKILL, API server reachable',
    targetsCluster: true,
    async run(ctx) {
      const lost = ctx.fleet.timeouts.lostMs;
      await ctx.inject(() => ctx.fleet.killAgent(ctx.target!));
      measureLost(ctx);
      // Past the lost timeout in any case, so the hub's handling of a Lost cluster is exercised.
      await ctx.hold(lost + 2000, 3 * lost + 10_000, () => ctx.displacedRunAgain());
      await restartAgent(ctx);
    },
  },
  {
    name: 'agent SIGKILL, API server SIGSTOPped',
    targetsCluster: true,
    async run(ctx) {
      const lost = ctx.fleet.timeouts.lostMs;
      let stoppedAt = 0;
      await ctx.inject(async () => {
        ctx.stopApiServer(ctx.target!);
        stoppedAt = Date.now();
        await ctx.fleet.killAgent(ctx.target!);
      });
      measureLost(ctx);
      // Nothing can confirm the gangs gone meanwhile: they must stay where they are.
      await ctx.hold(lost + 8000, lost + 8000);
      ctx.contApiServer(ctx.target!);
      ctx.limit(`${ctx.target!} API server unreachable`, Date.now() - stoppedAt);
      await restartAgent(ctx);
    },
  },
  {
    name: 'blackhole between agent and hub',
    targetsCluster: true,
    async run(ctx) {
      const lost = ctx.fleet.timeouts.lostMs;
      const proxy = ctx.fleet.proxies.get(ctx.target!)!;
      await ctx.inject(() => proxy.blackhole());
      measureLost(ctx);
      await ctx.hold(lost + 8000, lost + 8000);
      proxy.heal();
      await ctx.fleet.allConnected();
    },
  },
  {
    name: 'Postgres restart (immediate)',
    targetsCluster: false,
    async run(ctx) {
      await ctx.inject(() => ctx.fleet.pg.restart('immediate'));
      ctx.measure('hub answers from Postgres again', async () => {
        await ctx.fleet
          .api()
          .jobs.listJobs({ queue: QUEUE, states: [], pageSize: 1, pageToken: '' });
        return true;
      });
      await ctx.hold(5000, 5000);
      await ctx.fleet.allConnected();
    },
  },
  {
    name: 'Redis FLUSHALL',
    targetsCluster: false,
    async run(ctx) {
      await ctx.inject(() => ctx.fleet.redis.flushAll());
      await ctx.hold(5000, 5000);
      await ctx.fleet.allConnected();
    },
  },
  {
    name: 'leader hub SIGKILL while placing',
    targetsCluster: false,
    async run(ctx) {
      const leader = await eventually('a scheduling leader', () => ctx.fleet.leader(), 60_000);
      const burst = await ctx.workload.burst(20);
      // Killed as soon as the burst is being placed: its first gang has left Queued.
      await eventually(
        'the burst being placed',
        async () => {
          const states = await Promise.all(
            burst.slice(0, 6).map((g) => ctx.fleet.api().jobs.getJob({ jobId: g.jobId })),
          );
          return states.some((s) => s.job!.state !== JobState.JOB_STATE_QUEUED) || undefined;
        },
        30_000,
      );
      await ctx.inject(() => ctx.fleet.killHub(leader));
      ctx.measure('another replica leads', async () => {
        const now = await ctx.fleet.leader();
        return now !== undefined && now !== leader;
      });
      await ctx.hold(3000, 3000);
      await ctx.fleet.startHub(leader);
      await ctx.fleet.allConnected();
    },
  },
  {
    name: 'hub clocks +30 s and -30 s',
    targetsCluster: false,
    async run(ctx) {
      // A rolling restart into the skewed clocks, and one back out of them.
      await ctx.inject(async () => {
        await ctx.fleet.stopHub(0);
        await ctx.fleet.startHub(0, '+30s');
        await ctx.fleet.stopHub(1);
        await ctx.fleet.startHub(1, '-30s');
      });
      await ctx.fleet.allConnected();
      await sleep(20_000); // both replicas skewed, serving agents and scheduling
      for (const i of [0, 1]) {
        await ctx.fleet.stopHub(i);
        await ctx.fleet.startHub(i);
      }
      await ctx.fleet.allConnected();
    },
  },
];

/** The cluster running the most `requeue` gangs right now (by the sampler's latest reads). */
function busiestCluster(observer: ClusterObserver, requeue: ReadonlySet<string>): string {
  const n = new Map<string, number>(WORKERS.map((w) => [w, 0]));
  for (const [gang, copy] of liveCopies(observer))
    if (requeue.has(gang)) n.set(copy.cluster, n.get(copy.cluster)! + 1);
  return [...n].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]![0];
}

export async function runFaultScenario(
  fleet: FaultFleet,
  options: ScenarioOptions,
): Promise<ScenarioReport> {
  const log = options.log;
  const startedAt = Date.now();
  const workload = new Workload(fleet, options.seed);
  const observer = new ClusterObserver(
    WORKERS.map((w) => fleet.cluster(w)),
    workload.sizes,
    { keepLastRead: true, readWaitMs: Math.min(400, options.sampleIntervalMs) },
  );
  const stops: { cluster: string; from: number; to: number }[] = [];
  /** Per fault (by index), what ran where just before it was injected. */
  const liveAtInjection = new Map<number, Map<string, LiveCopy>>();
  const records: FaultRecord[] = [];
  const probes: Promise<void>[] = [];
  let ending = false;
  let jobs = new Map<string, Job>();

  observer.start(options.sampleIntervalMs);
  workload.startStream(options.perSecond);
  try {
    await sleep(5000); // gangs already running everywhere when the first fault strikes
    for (const fault of FAULTS) {
      await fleet.allConnected();
      let target: string | undefined;
      let longs: string[] = [];
      if (fault.targetsCluster) {
        longs = (await workload.submitLong(options.longPerFault, options.longRun)).map(
          (g) => g.jobId,
        );
        // Until most long gangs run whole, so there is something to move.
        await eventually(
          'long gangs running',
          () =>
            longs.filter((g) => observer.ledger.firstWhole.has(g)).length >=
              Math.ceil(longs.length / 2) || undefined,
          90_000,
        );
        target = busiestCluster(observer, workload.requeueGangs);
      }
      const record: FaultRecord = {
        fault: fault.name,
        target,
        injectedAt: 0,
        recoveredAt: 0,
        limits: [],
        displaced: [],
        movedWait: [],
        notRunAgain: {},
      };
      let live = new Map<string, LiveCopy>();
      let stopMeasuring = false;
      const ctx: FaultContext = {
        fleet,
        workload,
        observer,
        target,
        async inject(fn) {
          live = liveCopies(observer);
          record.injectedAt = Date.now();
          log(`${new Date().toISOString()} inject: ${fault.name}${target ? ` on ${target}` : ''}`);
          await fn();
        },
        async hold(minMs, maxMs, done) {
          for (;;) {
            const elapsed = Date.now() - record.injectedAt;
            if (elapsed >= maxMs || (elapsed >= minMs && (done ? await done() : true))) return;
            await sleep(250);
          }
        },
        async displacedRunAgain() {
          for (const [gang, from] of live) {
            if (from.cluster !== target || !workload.requeueGangs.has(gang)) continue;
            if (firstNewerCopy(observer.ledger.firstWhole.get(gang), from, record.injectedAt))
              continue;
            // Or it ended (in place, say), and will not run again.
            const j = await fleet.withHub((api) => api.jobs.getJob({ jobId: gang }));
            if (FINAL.has(j.job!.state)) continue;
            return false;
          }
          return true;
        },
        measure(what, probe) {
          const entry: FaultRecord['limits'][number] = { what, ms: undefined };
          record.limits.push(entry);
          probes.push(
            (async () => {
              while (!stopMeasuring && !ending) {
                const ok = await probe().catch(() => false);
                if (ok) {
                  entry.ms = Date.now() - record.injectedAt;
                  return;
                }
                await sleep(200);
              }
            })(),
          );
        },
        limit(what, ms) {
          record.limits.push({ what, ms });
        },
        stopApiServer(cluster) {
          fleet.stopApiServer(cluster);
          stops.push({ cluster, from: Date.now(), to: Infinity });
        },
        contApiServer(cluster) {
          fleet.contApiServer(cluster);
          const open = stops.find((s) => s.cluster === cluster && s.to === Infinity);
          if (open) open.to = Date.now();
        },
        log,
      };
      await fault.run(ctx);
      record.recoveredAt = Date.now();
      log(`${new Date().toISOString()} recovered: ${fault.name}`);
      // The displaced gangs get their chance to run again before the next fault.
      await ctx.hold(0, record.recoveredAt - record.injectedAt + options.recoveryWaitMs, () =>
        ctx.displacedRunAgain(),
      );
      stopMeasuring = true;
      liveAtInjection.set(records.length, live);
      records.push(record);
    }
    while (workload.submitted < options.gangs)
      await workload.burst(Math.min(20, options.gangs - workload.submitted));
    await workload.stopStream();
    await Promise.all(probes);

    // Drain: every acknowledged gang ends, or stays Queued for a reason the hub can tell.
    log(`${new Date().toISOString()} draining ${workload.acked.length} gangs`);
    jobs = await hubJobs(fleet);
    const drainUntil = Date.now() + options.drainMs;
    while (Date.now() < drainUntil) {
      const open = workload.acked.filter((a) => {
        const j = jobs.get(a.jobId);
        return j !== undefined && !FINAL.has(j.state);
      });
      if (open.length === 0) break;
      await sleep(1000);
      jobs = await hubJobs(fleet);
    }
  } catch (err) {
    // Nothing of the run may outlive it: the caller stops the fleet next.
    ending = true;
    await Promise.allSettled([workload.stopStream(), observer.stop(), ...probes]);
    throw err;
  }
  await observer.stop();
  const endedAt = Date.now();

  // Figures.
  const windows = records.map((r) => ({ fault: r.fault, injectedAt: r.injectedAt }));
  records.forEach((r, i) => {
    const window = {
      injectedAt: r.injectedAt,
      windowEnd: records[i + 1]?.injectedAt ?? endedAt,
      liveAtInjection: liveAtInjection.get(i)!,
      requeueGangs: workload.requeueGangs,
      firstWhole: observer.ledger.firstWhole,
    };
    r.displaced = displacedBy({ ...window, target: r.target });
    r.movedWait = movedWaitGangs(window);
  });
  // Missing from the listing, then confirmed one by one: NOT_FOUND is what lost means.
  const missing = lostJobs(workload.acked, new Set(jobs.keys()));
  const lostIds = new Set(await unknownToHub(fleet, missing));
  const lost = workload.acked.filter((a) => lostIds.has(a.jobId));
  const { total, perWindow } = countInvariants(windows, observer.violations, lost);
  for (const r of records)
    for (const d of r.displaced) {
      if (d.recoveredAfterMs !== undefined) continue;
      const j = jobs.get(d.gang);
      const how = j
        ? `${JobState[j.state].replace('JOB_STATE_', '')} on ${j.cluster || '-'}, token ${j.dispatchGeneration}` +
          (j.cluster === d.from.cluster && String(j.dispatchGeneration) === d.from.token
            ? ' (where the fault found it)'
            : '')
        : 'unknown to the hub';
      r.notRunAgain[how] = (r.notRunAgain[how] ?? 0) + 1;
    }
  const states: Record<string, number> = {};
  const failedReasons: Record<string, number> = {};
  const stuck: string[] = [];
  const untrue: string[] = [];
  const agentStates = await fleet.agentStates();
  for (const a of workload.acked) {
    const j = jobs.get(a.jobId);
    if (!j) continue;
    const name = JobState[j.state].replace('JOB_STATE_', '');
    states[name] = (states[name] ?? 0) + 1;
    if (j.state === JobState.JOB_STATE_FAILED)
      failedReasons[j.reason] = (failedReasons[j.reason] ?? 0) + 1;
    if (j.state === JobState.JOB_STATE_QUEUED) {
      const ex = await fleet.withHub((api) => api.jobs.explainJob({ jobId: a.jobId }));
      const wrong = [
        ...(ex.summary.trim() === '' ? ['no summary'] : []),
        ...ex.clusters
          .filter((c) => c.fits)
          .map((c) => `says it fits ${c.cluster} yet stayed Queued through the drain`),
        ...ex.clusters
          .filter(
            (c) =>
              c.reasonCode === 'ClusterNotReady' &&
              agentStates.get(c.cluster) === AgentState.AGENT_STATE_CONNECTED,
          )
          .map((c) => `says ${c.cluster} is not ready, but its agent is connected`),
      ];
      if (wrong.length > 0) untrue.push(`${a.jobId}: ${ex.summary} (${wrong.join('; ')})`);
    } else if (!FINAL.has(j.state)) {
      stuck.push(`${a.jobId} ${name} on ${j.cluster || '-'} (${j.reason}: ${j.message})`);
    }
  }

  const inStop = (cluster: string, at: number, slackMs: number) =>
    stops.some((s) => s.cluster === cluster && at >= s.from && at <= s.to + slackMs);
  const stale: Record<string, { stopped: number; otherwise: number }> = {};
  const readErrors: string[] = [];
  for (const [cluster, st] of observer.readStats) {
    const stopped = st.staleAt.filter((t) => inStop(cluster, t, 0)).length;
    stale[cluster] = { stopped, otherwise: st.staleSamples - stopped };
    for (const f of st.failures)
      if (!inStop(cluster, f.at, 10_000))
        readErrors.push(`${cluster} at ${new Date(f.at).toISOString()}: ${f.error}`);
  }
  // Every cluster read at least once in every window: otherwise part of the run went unchecked.
  const unread: string[] = [];
  for (let i = 0; i < records.length; i++) {
    const from = records[i]!.injectedAt;
    const to = records[i + 1]?.injectedAt ?? endedAt;
    for (const cluster of WORKERS) {
      const st = observer.readStats.get(cluster)!;
      if (!st.readAt.some((t) => t >= from && t < to))
        unread.push(`${cluster} during "${records[i]!.fault}"`);
    }
  }
  const violationEpisodes = episodes(observer.violations);
  const firstViolations = violationEpisodes
    .filter((e) => e.kind !== 'partial-gang-abandoned')
    .slice(0, 20)
    .map(
      (e) =>
        `${seconds(e.from - startedAt)} s +${seconds(e.to - e.from)} s ${e.kind} ` +
        `(${records[windowOf(windows, e.from)]?.fault ?? 'before the first fault'}): ${e.detail}`,
    );
  const longestOverlapMs = new Map<number, number>();
  for (const e of violationEpisodes) {
    if (e.kind !== 'gang-in-two-clusters') continue;
    const w = windowOf(windows, e.from);
    longestOverlapMs.set(w, Math.max(longestOverlapMs.get(w) ?? 0, e.to - e.from));
  }
  const abandoned = new Set(
    observer.violations.filter((v) => v.kind === 'partial-gang-abandoned').map((v) => v.subject),
  ).size;

  const report: ScenarioReport = {
    seed: options.seed,
    startedAt,
    endedAt,
    faults: records,
    counts: total,
    abandoned,
    gangs: {
      submitted: workload.submitted,
      acknowledged: workload.acked.length,
      unanswered: workload.unanswered,
      states,
      failedReasons,
      lost: lost.map((l) => l.jobId),
      stuck,
      untrueExplanations: untrue,
    },
    sampler: {
      samples: observer.samples + observer.failedSamples,
      failed: observer.failedSamples,
      stale,
      readErrorsOutsideStops: readErrors,
      unreadWindows: unread,
      maxSampleMs: observer.maxSampleMs,
    },
    unexpectedExits: [...fleet.unexpectedExits],
    firstViolations,
    longestOverlapMs,
    limits: {
      lostMs: fleet.timeouts.lostMs,
      selfFenceMs: fleet.timeouts.selfFenceMs,
      heartbeatMs: fleet.timeouts.heartbeatMs,
      fenceDeleteGraceS: fleet.timeouts.fenceDeleteGraceS,
    },
    table: '',
  };
  report.table = renderReport(report, perWindow);
  return report;
}

const COUNT_HEADERS: Record<(typeof INVARIANTS)[number], string> = {
  gangsInTwoClusters: 'in 2 clusters',
  gangsWithTwoLiveTokens: '2 live tokens',
  gangsPartlyUngated: 'partly ungated',
  nodesOverCommitted: 'nodes over',
  acknowledgedJobsLost: 'jobs lost',
};

/** The table: one row per fault (and the time before the first), then the run's totals. */
export function renderReport(
  r: ScenarioReport,
  perWindow: ReadonlyMap<number, InvariantCounts>,
): string {
  const counts = (c: InvariantCounts | undefined) => INVARIANTS.map((k) => String(c?.[k] ?? 0));
  const floor = (f: FaultRecord) => {
    const known = f.limits.map((l) => l.ms).filter((ms): ms is number => ms !== undefined);
    return known.length ? seconds(Math.max(...known)) : '-';
  };
  const times = (d: readonly Displaced[]) =>
    d.map((x) => x.recoveredAfterMs).filter((ms): ms is number => ms !== undefined);
  const rows: string[][] = [
    [
      'fault',
      'at s',
      'target',
      'affected',
      'recovered',
      'p50 s',
      'p95 s',
      'floor s',
      ...INVARIANTS.map((k) => COUNT_HEADERS[k]),
      'overlap s',
    ],
    [
      '(before the first fault)',
      '0.0',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      ...counts(perWindow.get(-1)),
      seconds(r.longestOverlapMs.get(-1)),
    ],
  ];
  r.faults.forEach((f, i) => {
    const t = times(f.displaced);
    rows.push([
      `${i + 1}. ${f.fault}`,
      seconds(f.injectedAt - r.startedAt),
      f.target ?? '-',
      String(f.displaced.length),
      String(t.length),
      seconds(percentile(t, 50)),
      seconds(percentile(t, 95)),
      floor(f),
      ...counts(perWindow.get(i)),
      seconds(r.longestOverlapMs.get(i)),
    ]);
  });
  const all = r.faults.flatMap((f) => f.displaced);
  rows.push([
    'whole run (distinct)',
    seconds(r.endedAt - r.startedAt),
    '-',
    String(all.length),
    String(times(all).length),
    seconds(percentile(times(all), 50)),
    seconds(percentile(times(all), 95)),
    '-',
    ...counts(r.counts),
    seconds(Math.max(0, ...r.longestOverlapMs.values()) || undefined),
  ]);
  const g = r.gangs;
  const s = r.sampler;
  const lines = [
    table(rows),
    '',
    `limits: worker-lost timeout ${r.limits.lostMs} ms, self-fence ${r.limits.selfFenceMs} ms, ` +
      `fence delete grace ${r.limits.fenceDeleteGraceS} s, heartbeat ${r.limits.heartbeatMs} ms; ` +
      `measured floors: ${
        r.faults
          .flatMap((f) => f.limits.map((l) => `${l.what} after ${seconds(l.ms)} s`))
          .join('; ') || 'none'
      }`,
    `sampler: ${s.samples} samples, ${s.failed} judged on a stale read (` +
      Object.entries(s.stale)
        .map(([c, n]) => `${c}: ${n.stopped} while SIGSTOPped, ${n.otherwise} otherwise`)
        .join('; ') +
      `); read errors outside SIGSTOP ${s.readErrorsOutsideStops.length}; longest sample ${s.maxSampleMs} ms` +
      (s.unreadWindows.length ? `; UNREAD: ${s.unreadWindows.join(', ')}` : ''),
    `gangs: ${g.submitted} submitted, ${g.acknowledged} acknowledged, ${g.unanswered} never answered; ` +
      `final ${Object.entries(g.states)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}` +
      (Object.keys(g.failedReasons).length
        ? ` (Failed: ${Object.entries(g.failedReasons)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')})`
        : '') +
      `; stuck ${g.stuck.length}; Queued with an untrue explanation ${g.untrueExplanations.length}`,
    `partly bound, then deleted before binding whole (shown, not an invariant): ${r.abandoned} gangs; seed ${r.seed}`,
    ...r.faults
      .filter((f) => Object.keys(f.notRunAgain).length > 0)
      .map(
        (f) =>
          `not seen running again after "${f.fault}": ` +
          Object.entries(f.notRunAgain)
            .map(([how, n]) => `${n} ended ${how}`)
            .join('; '),
      ),
    ...r.faults
      .filter((f) => f.movedWait.length > 0)
      .map(
        (f) =>
          `wait gangs moved during "${f.fault}": ${f.movedWait.length} (${f.movedWait.slice(0, 3).join(', ')})`,
      ),
    '"overlap s": the longest a gang was seen in two clusters at once (a SIGSTOPped cluster counts with its last read)',
    ...(r.firstViolations.length
      ? ['violations (at s, +lasting s, kind, fault):', ...r.firstViolations.map((v) => `  ${v}`)]
      : []),
    ...(g.stuck.length ? ['stuck:', ...g.stuck.slice(0, 10).map((v) => `  ${v}`)] : []),
    ...(r.unexpectedExits.length
      ? ['unexpected exits:', ...r.unexpectedExits.map((v) => `  ${v}`)]
      : []),
  ];
  return lines.join('\n');
}
