/**
 * Queues sharing a fleet (a script that prints figures, not a test), on the hub's own decision:
 * every cycle is `planCycle`, the function the Scheduler runs, with its fair order, quotas and
 * kept placement structures.
 *
 * 1. Fairness. Two, then four tenants submit without end (each always has a backlog) to a fleet
 *    of BENCH_FAIR_CLUSTERS × 16 nodes × 8 GPUs; gangs of 1–4 members × 1, 2, 4 or 8 GPUs run
 *    20–120 s. A simulated clock advances one second per cycle for BENCH_FAIR_SECONDS (600: ten
 *    minutes of fleet time; a real hub would need the same ten minutes of wall clock and agents
 *    whose pods end on time, which this replaces with the clock). Each tenant's share of the
 *    GPU-seconds used is printed next to its fair share (weight over the weights' sum), with the
 *    fleet's use of its capacity beside it: the raw limit of what could be shared.
 * 2. Cycle time with BENCH_QUEUED queued gangs (10,000) in BENCH_QUEUES queues (100) of weights
 *    1–4, in 10 cohorts with quotas, on 100 clusters × 100 nodes (the placement benchmark's
 *    fleet). Per phase of the cycle (capacity, fair order, place, verdicts, preempt) over
 *    BENCH_CYCLES cycles with kept structures (a gang explained in one cycle carries its stored
 *    explanation into the next, as after the hub's commit), beside the raw placement of the same
 *    gangs (`placeBatch` alone, no explanations): what queues and explanations add to the cycle.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  formatQuantity,
  PlacementIndex,
  placeBatch,
  PreparedGangs,
  type ClusterSnapshot,
  type Gang,
  type NodeSnapshot,
} from '@muster/placement';
import {
  gangOf,
  planCycle,
  ReservationRequests,
  type CycleCluster,
} from '../../apps/hub/src/scheduling/plan-cycle';
import {
  explanationDigest,
  type QueuedGang,
  type ReservationRow,
} from '../../apps/hub/src/scheduling/cycle.repository';
import type { GangSpec } from '../../apps/hub/src/jobs/job.domain';
import type { QueueQuota } from '../../apps/hub/src/scheduling/quota';
import { fairShares } from '../../apps/hub/src/scheduling/fair-share';
import { makeCluster, makeGang, rng } from '../placement/bench';
import { fig, pct, positiveInteger } from '../support/figures';

const GPU = 'nvidia.com/gpu';
const HOST = 'kubernetes.io/hostname';
const SEED = Number(process.env.BENCH_SEED ?? 7);
const FAIR_SECONDS = positiveInteger('BENCH_FAIR_SECONDS', process.env.BENCH_FAIR_SECONDS, 600);
const FAIR_CLUSTERS = positiveInteger('BENCH_FAIR_CLUSTERS', process.env.BENCH_FAIR_CLUSTERS, 2);
const QUEUED = positiveInteger('BENCH_QUEUED', process.env.BENCH_QUEUED, 10_000);
const QUEUES = positiveInteger('BENCH_QUEUES', process.env.BENCH_QUEUES, 100);
const CYCLES = positiveInteger('BENCH_CYCLES', process.env.BENCH_CYCLES, 5);
/** The hub's default usage half-life (MUSTER_FAIR_SHARE_HALF_LIFE_S). */
const HALF_LIFE_S = 86_400;

/** A gang spec as the hub stores it, from a placement gang (requests as quantity strings). */
function specOf(g: Gang): GangSpec {
  return {
    podSets: g.podSets.map((ps) => ({
      name: ps.name,
      count: ps.count,
      template: { spec: {} },
      requests: Object.fromEntries(
        Object.entries(ps.requests).map(([k, v]) => [k, formatQuantity(v, k)]),
      ),
      ...(ps.topology ? { topology: ps.topology } : {}),
    })),
    groups: [],
  };
}

function queued(id: string, queue: string, gang: GangSpec, at: number): QueuedGang {
  return {
    id,
    queue,
    priority: 0,
    gang,
    createdAt: new Date(at),
    explained: null,
    excludedClusters: {},
  };
}

// ---- 1. fairness ----------------------------------------------------------------------------

interface Running {
  id: string;
  queue: string;
  cluster: string;
  gpus: number;
  until: number;
  nodeRequests: Record<string, Record<string, string>>;
}

function fairnessRun(weights: readonly number[]): {
  rows: string[][];
  busy: number;
  worst: number;
} {
  const rand = rng(SEED);
  const tenants = weights.map((w, i) => ({ name: `tenant-${i + 1}`, weight: w }));
  const clusters: ClusterSnapshot[] = Array.from({ length: FAIR_CLUSTERS }, (_, c) => ({
    name: `c${c}`,
    topologyLevels: [HOST],
    nodes: Array.from({ length: 16 }, (_, n) => ({
      name: `c${c}-n${n}`,
      labels: { [HOST]: `c${c}-n${n}` },
      allocatable: { [GPU]: 8000n, cpu: 96_000n },
      free: { [GPU]: 8000n, cpu: 96_000n },
    })),
  }));
  const capacity = FAIR_CLUSTERS * 16 * 8;
  const backlog = new Map<string, QueuedGang[]>(tenants.map((t) => [t.name, []]));
  let serial = 0;
  const durations = new Map<string, number>();
  const topUp = (now: number) => {
    for (const t of tenants) {
      const list = backlog.get(t.name)!;
      while (list.length < 40) {
        const members = 1 + Math.floor(rand() * 4);
        const g = [1, 2, 4, 8][Math.floor(rand() * 4)]!;
        const id = `${t.name}-${serial++}`;
        durations.set(id, 20 + Math.floor(rand() * 101));
        list.push(
          queued(
            id,
            t.name,
            {
              podSets: [
                {
                  name: 'w',
                  count: members,
                  template: { spec: {} },
                  requests: { [GPU]: String(g), cpu: String(g * 4) },
                },
              ],
              groups: [],
            },
            now * 1000 + serial,
          ),
        );
      }
    }
  };
  const running: Running[] = [];
  const used = new Map<string, number>(tenants.map((t) => [t.name, 0]));
  const history = new Map<string, Record<string, number>>();
  const settings = {
    policy: 'pack' as const,
    prepared: new PreparedGangs(),
    index: new PlacementIndex(),
  };
  for (let now = 0; now < FAIR_SECONDS; now++) {
    // Gangs that ran their time end; their nodes are free again.
    for (let i = running.length - 1; i >= 0; i--)
      if (running[i]!.until <= now) running.splice(i, 1);
    topUp(now);
    const held = new Map<string, Map<string, bigint>>();
    for (const r of running)
      for (const [node, req] of Object.entries(r.nodeRequests)) {
        const acc = held.get(node) ?? new Map<string, bigint>();
        for (const [k, v] of Object.entries(req))
          acc.set(k, (acc.get(k) ?? 0n) + BigInt(Number(v)) * 1000n);
        held.set(node, acc);
      }
    const snapshot: CycleCluster[] = clusters.map((c) => ({
      ...c,
      nodes: c.nodes.map((n): NodeSnapshot => {
        const h = held.get(n.name);
        if (!h) return n;
        const free = { ...n.free };
        for (const [k, v] of h) free[k] = (free[k] ?? 0n) - v;
        return { ...n, free };
      }),
      // Every running gang is in the report already.
      reflected: new Set(running.map((r) => `${r.id}#1`)),
    }));
    const reservations: ReservationRow[] = running.map((r) => ({
      jobId: r.id,
      queue: r.queue,
      cluster: r.cluster,
      fencingToken: 1,
      nodeRequests: r.nodeRequests,
    }));
    const plan = planCycle(
      {
        clusters: snapshot,
        unavailable: [],
        reservations,
        weights: new Map(tenants.map((t) => [t.name, t.weight])),
        history: { usage: history, halfLifeSeconds: HALF_LIFE_S },
        now: new Date(now * 1000),
      },
      [...backlog.values()].flat(),
      { ...settings, reservations: new ReservationRequests() },
    );
    for (const r of plan.reservations) {
      const tenant = r.jobId.slice(0, r.jobId.lastIndexOf('-'));
      const list = backlog.get(tenant)!;
      list.splice(
        list.findIndex((q) => q.id === r.jobId),
        1,
      );
      let gpus = 0;
      for (const req of Object.values(r.nodeRequests)) gpus += Number(req[GPU] ?? 0);
      running.push({
        id: r.jobId,
        queue: tenant,
        cluster: r.cluster,
        gpus,
        until: now + durations.get(r.jobId)!,
        nodeRequests: r.nodeRequests,
      });
    }
    // One second of what runs: the GPU-time each tenant gets, and its decayed history.
    const decay = Math.pow(0.5, 1 / HALF_LIFE_S);
    for (const h of history.values()) h[GPU] = (h[GPU] ?? 0) * decay;
    for (const r of running) {
      used.set(r.queue, used.get(r.queue)! + r.gpus);
      const h = history.get(r.queue) ?? {};
      h[GPU] = (h[GPU] ?? 0) + r.gpus * 1000;
      history.set(r.queue, h);
    }
  }
  const total = [...used.values()].reduce((a, b) => a + b, 0);
  const shares = fairShares(tenants, new Set(tenants.map((t) => t.name)));
  let worst = 0;
  const rows = tenants.map((t) => {
    const got = (used.get(t.name)! / total) * 100;
    const fair = shares.get(t.name)! * 100;
    worst = Math.max(worst, Math.abs(got - fair));
    return [t.name, String(t.weight), `${fig(fair)} %`, `${fig(got)} %`, `${fig(got - fair)} pp`];
  });
  return { rows, busy: (total / (capacity * FAIR_SECONDS)) * 100, worst };
}

// ---- 2. cycle time --------------------------------------------------------------------------

function cycleRun(): void {
  const rand = rng(SEED);
  const clusters: CycleCluster[] = Array.from({ length: 100 }, (_, i) => ({
    ...makeCluster(`c${i}`, 100, rand),
    reflected: new Set<string>(),
  }));
  const queues = Array.from({ length: QUEUES }, (_, i) => ({
    name: `q${String(i).padStart(3, '0')}`,
    weight: 1 + (i % 4),
  }));
  // 10 cohorts; each queue a nominal quota of 1/QUEUES of the fleet's GPUs, twice over.
  const fleetGpus = clusters.reduce(
    (n, c) => n + c.nodes.reduce((m, x) => m + Number(x.allocatable[GPU] ?? 0n), 0),
    0,
  );
  const quotas: QueueQuota[] = queues.map((q, i) => ({
    name: q.name,
    cohort: `cohort-${i % 10}`,
    nominal: { [GPU]: BigInt(Math.floor((2 * fleetGpus) / QUEUES)) },
  }));
  const gangs: QueuedGang[] = Array.from({ length: QUEUED }, (_, i) => {
    const g = makeGang(`g${i}`, rand);
    return queued(g.id, queues[i % QUEUES]!.name, specOf(g), i);
  });
  const settings = {
    policy: 'pack' as const,
    prepared: new PreparedGangs(),
    index: new PlacementIndex(),
    reservations: new ReservationRequests(),
    explainedAt: new Map<string, number>(),
  };
  const phases = new Map<string, number[]>();
  const totals: number[] = [];
  let placed = 0;
  for (let c = 0; c < CYCLES; c++) {
    const started = performance.now();
    const plan = planCycle(
      {
        clusters,
        unavailable: [],
        reservations: [],
        weights: new Map(queues.map((q) => [q.name, q.weight])),
        quotas,
        now: new Date(Date.UTC(2026, 11, 6, 12, 0, c)),
      },
      gangs,
      settings,
    );
    totals.push(performance.now() - started);
    placed = plan.reservations.length;
    // What the hub's commit does: a gang explained now carries its stored explanation next cycle.
    const byId = new Map(gangs.map((g, i) => [g.id, i]));
    for (const e of plan.explanations) {
      const i = byId.get(e.jobId)!;
      gangs[i] = { ...gangs[i]!, explained: explanationDigest(e.explanation) };
    }
    for (const [k, v] of Object.entries(plan.phases)) phases.set(k, [...(phases.get(k) ?? []), v]);
  }
  // The raw placement of the same gangs, in the order the cycle offered them, with its own kept
  // structures: what the cycle would cost without queues.
  const views = gangs.flatMap((q) => {
    const v = gangOf(q, new Date());
    return v.ok ? [v.gang] : [];
  });
  const raw = { prepared: new PreparedGangs(), index: new PlacementIndex() };
  const rawTimes: number[] = [];
  for (let c = 0; c < CYCLES; c++) {
    const started = performance.now();
    placeBatch(clusters, views, { policy: 'pack', explain: false, ...raw });
    rawTimes.push(performance.now() - started);
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  process.stdout.write(
    `\nCycle time, ${QUEUED.toLocaleString('en')} queued gangs in ${QUEUES} queues (10 cohorts with quotas) on 100 clusters × 100 nodes, ${CYCLES} cycles (the first builds the kept structures); ${placed} placed per cycle\n`,
  );
  process.stdout.write('phase       p50 ms    max ms\n');
  for (const [k, v] of phases) {
    const s = sorted(v);
    process.stdout.write(
      `${k.padEnd(10)}  ${fig(pct(s, 50)).padStart(8)}  ${fig(s[s.length - 1]!).padStart(8)}\n`,
    );
  }
  const t = sorted(totals);
  const r = sorted(rawTimes);
  process.stdout.write(
    `${'cycle'.padEnd(10)}  ${fig(pct(t, 50)).padStart(8)}  ${fig(t[t.length - 1]!).padStart(8)}\n` +
      `${'raw place'.padEnd(10)}  ${fig(pct(r, 50)).padStart(8)}  ${fig(r[r.length - 1]!).padStart(8)}   (placeBatch alone, same gangs, no explanations)\n`,
  );
}

function main(): void {
  process.stdout.write(
    `Queues benchmark (seed ${SEED}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})\n`,
  );
  for (const weights of [
    [3, 1],
    [4, 2, 1, 1],
  ]) {
    const started = performance.now();
    const { rows, busy, worst } = fairnessRun(weights);
    process.stdout.write(
      `\nFair share, ${weights.length} tenants submitting without end, weights ${weights.join(':')}, ${FAIR_SECONDS} s of fleet time on ${FAIR_CLUSTERS * 16 * 8} GPUs (${fig((performance.now() - started) / 1000)} s to run)\n`,
    );
    process.stdout.write('tenant     weight  fair share  GPU-time share  difference\n');
    for (const [name, w, fair, got, diff] of rows)
      process.stdout.write(
        `${name!.padEnd(9)}  ${w!.padStart(6)}  ${fair!.padStart(10)}  ${got!.padStart(14)}  ${diff!.padStart(10)}\n`,
      );
    process.stdout.write(
      `fleet busy ${fig(busy)} % of its GPU-time (the raw limit of what is shared); largest difference ${fig(worst)} pp (goal: within 5)\n`,
    );
  }
  cycleRun();
}

main();
