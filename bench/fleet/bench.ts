// Fleet benchmark (not a test): prints figures. One hub process against many simulated clusters:
// each is a scripted agent in this process on the real agent protocol (gRPC), reporting nodes
// with 8 GPUs each in a block / rack / host topology, accepting every dispatch without an API
// server, reporting every member Running and, BENCH_RUN_MS later, Succeeded. Gangs of 1–256
// members come from many queues. It prints scheduling cycle times, decisions (reservations) and
// dispatches per second, the hub's peak RSS, the database size, and how long a cluster that
// joins a busy fleet waits for its first dispatch. Every gang must end Succeeded, placed once.
//   BENCH_CLUSTERS (default 100), BENCH_NODES per cluster (1,000), BENCH_GANGS (100,000),
//   BENCH_QUEUES (100), BENCH_RUN_MS (20,000), BENCH_TIMEOUT_S (3,600), BENCH_HUB_HEAP_MB (1,024:
//   the hub's V8 heap limit, as a deployment sizes it to its container; without one V8 lets the
//   heap grow far past what is live before it collects)
import { randomUUID } from 'node:crypto';
import { MemberPhase, type HubClients } from '@muster/api';
import {
  connectFakeCluster,
  type FakeCluster,
  type FakeNode,
} from '../../tests/support/fake-agent';
import { jobSpec, podSet } from '../../tests/support/fixtures';
import { HubProcess, type HubEnd } from '../../tests/support/hub-process';
import { createTestDatabase, createTestRedis } from '../../tests/support/services';
import { fig, pct, positiveInteger, printTable, runBench, timedPool } from '../support/figures';

class BenchFailure extends Error {}

const CLUSTERS = positiveInteger('BENCH_CLUSTERS', process.env.BENCH_CLUSTERS, 100);
const NODES = positiveInteger('BENCH_NODES', process.env.BENCH_NODES, 1000);
const GANGS = positiveInteger('BENCH_GANGS', process.env.BENCH_GANGS, 100_000);
const QUEUES = positiveInteger('BENCH_QUEUES', process.env.BENCH_QUEUES, 100);
const RUN_MS = positiveInteger('BENCH_RUN_MS', process.env.BENCH_RUN_MS, 20_000);
const TIMEOUT_S = positiveInteger('BENCH_TIMEOUT_S', process.env.BENCH_TIMEOUT_S, 3600);
const HUB_HEAP_MB = positiveInteger('BENCH_HUB_HEAP_MB', process.env.BENCH_HUB_HEAP_MB, 1024);
const LEVELS = ['example.com/block', 'example.com/rack', 'kubernetes.io/hostname'];
const GPUS = 8;

/** Nodes of one cluster: 16 racks of up to 64 hosts per block, 8 GPUs each. */
function nodesOf(cluster: string): FakeNode[] {
  return Array.from({ length: NODES }, (_, n) => ({
    name: `${cluster}-n${n}`,
    labels: {
      [LEVELS[0]!]: `${cluster}-b${Math.floor(n / 1024)}`,
      [LEVELS[1]!]: `${cluster}-r${Math.floor(n / 64)}`,
    },
    allocatable: { cpu: '128', memory: '1Ti', 'nvidia.com/gpu': String(GPUS), pods: '110' },
  }));
}

/** Members of gang i: mostly small, a few large (1, 2, 4 … 256), 8-GPU members from 16 up. */
function shape(i: number): { members: number; gpus: number } {
  const x = (i * 2654435761) >>> 0;
  // At most half a cluster, so that every gang fits somewhere in a small run too.
  const members = Math.min(
    2 ** [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8][x % 14]!,
    Math.max(1, Math.floor(NODES / 2)),
  );
  return { members, gpus: members >= 16 ? GPUS : 1 + ((x >>> 8) % GPUS) };
}

/** Scripted agents that run every gang they are given for RUN_MS. */
class Responder {
  private readonly answered = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly tick: NodeJS.Timeout;
  dispatches = 0;
  readonly firstDispatchAt = new Map<string, number>();

  constructor(private readonly fleet: FakeCluster[]) {
    this.tick = setInterval(() => this.respond(), 50);
  }

  private respond(): void {
    for (const { agent } of this.fleet) {
      for (const d of agent.dispatches()) {
        const key = `${d.gangId}/${d.fencingToken}`;
        if (this.answered.has(key)) continue;
        this.answered.add(key);
        this.dispatches++;
        if (!this.firstDispatchAt.has(agent.cluster))
          this.firstDispatchAt.set(agent.cluster, Date.now());
        agent.answer(d, true);
        agent.members(d, MemberPhase.MEMBER_PHASE_RUNNING);
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!agent.ended) agent.members(d, MemberPhase.MEMBER_PHASE_SUCCEEDED);
        }, RUN_MS);
        this.timers.add(t);
      }
      // What was answered is not needed again: keep the scripted agent's memory flat.
      agent.received.length = 0;
    }
  }

  stop(): void {
    clearInterval(this.tick);
    for (const t of this.timers) clearTimeout(t);
  }
}

async function main(): Promise<void> {
  process.stdout.write(
    `fleet benchmark: ${CLUSTERS} clusters × ${NODES} nodes × ${GPUS} GPUs, ${GANGS} gangs from ${QUEUES} queues, ${RUN_MS} ms each\n`,
  );
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  let hub: HubProcess | undefined;
  let api: HubClients | undefined;
  let hubEnd: HubEnd | undefined;
  const fleet: FakeCluster[] = [];
  let responder: Responder | undefined;
  let rssTimer: NodeJS.Timeout | undefined;
  try {
    hub = await HubProcess.start({
      databaseUrl: db.url,
      redisPrefix: redis.prefix,
      env: { MUSTER_LOG_LEVEL: 'info' },
      nodeArgs: [`--max-old-space-size=${HUB_HEAP_MB}`],
    });
    api = hub.connect();
    const client = api;
    for (let q = 0; q < QUEUES; q++)
      await client.inventory.createQueue({
        queue: { name: `q${q}`, description: '', weight: 1, allowedNamespaces: [] },
      });
    const joined = Date.now();
    for (let c = 0; c < CLUSTERS; c++) {
      const name = `c${c}`;
      fleet.push(
        await connectFakeCluster(client, hub.grpcAddress, name, nodesOf(name), 1000, LEVELS),
      );
    }
    const joinSeconds = (Date.now() - joined) / 1000;
    responder = new Responder(fleet);
    let peakRss = 0;
    const metricsUrl = `${hub.httpUrl}/metrics`;
    const sampleRss = async () => {
      const text = await (await fetch(metricsUrl)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('muster_hub_process_resident_memory_bytes '));
      if (line) peakRss = Math.max(peakRss, Number(line.split(' ')[1]));
    };
    rssTimer = setInterval(() => void sampleRss().catch(() => undefined), 2000);

    const started = Date.now();
    const submit = await timedPool(GANGS, 50, async (i) => {
      const { members, gpus } = shape(i);
      await client.jobs.submitJob({
        clientRequestId: randomUUID(),
        spec: jobSpec(`q${i % QUEUES}`, {
          name: `fleet-${i}`,
          podSets: [
            podSet('w', members, { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': String(gpus) }),
          ],
        }),
      });
    });

    // A cluster joining the busy fleet: how long until its first dispatch.
    const late = 'late';
    const lateJoined = Date.now();
    fleet.push(
      await connectFakeCluster(client, hub.grpcAddress, late, nodesOf(late), 1000, LEVELS),
    );
    const deadline = Date.now() + TIMEOUT_S * 1000;
    const count = async (state: string) =>
      (
        await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE state = $1`, [
          state,
        ])
      )[0]!.n;
    for (;;) {
      const done = await count('Succeeded');
      if (done === GANGS) break;
      if (Date.now() > deadline) {
        const states = await db.query<{ state: string; n: number }>(
          'SELECT state, count(*)::int AS n FROM jobs GROUP BY state ORDER BY state',
        );
        throw new BenchFailure(
          `${done} of ${GANGS} gangs Succeeded after ${TIMEOUT_S} s (${states.map((r) => `${r.state} ${r.n}`).join(', ')})`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const total = (Date.now() - started) / 1000;
    await sampleRss();
    const lateWait = responder.firstDispatchAt.has(late)
      ? (responder.firstDispatchAt.get(late)! - lateJoined) / 1000
      : NaN;

    const [{ reserved, once }] = await db.query<{ reserved: number; once: number }>(
      `SELECT count(*)::int AS reserved, count(DISTINCT job_id)::int AS once FROM job_events WHERE state = 'Reserved'`,
    );
    const [{ size }] = await db.query<{ size: string }>(
      'SELECT pg_size_pretty(pg_database_size(current_database())) AS size',
    );
    const largest = await db.query<{ name: string; size: string }>(
      `SELECT relname AS name, pg_size_pretty(pg_total_relation_size(relid)) AS size
         FROM pg_statio_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 3`,
    );
    const cycles = hub.logs
      .filter((l) => l.includes('"msg":"scheduling cycle"'))
      .map(
        (l) =>
          JSON.parse(l) as {
            durationMs: number;
            placed: number;
            considered: number;
            clustersIndexed?: number;
          } & Record<string, number>,
      );
    // Where a cycle's time goes: the mean of each phase the hub logs (loadMs, placeMs, ...).
    const phaseNames = Object.keys(cycles[0] ?? {}).filter(
      (k) => k.endsWith('Ms') && k !== 'durationMs',
    );
    const phaseMeans = phaseNames
      .map(
        (k) =>
          `${k.slice(0, -2)} ${fig(cycles.reduce((n, c) => n + (c[k] ?? 0), 0) / cycles.length, 0)}`,
      )
      .join(', ');
    const indexed = cycles.reduce((n, c) => n + (c.clustersIndexed ?? 0), 0);
    const durations = cycles.map((c) => c.durationMs).sort((a, b) => a - b);
    const decided = cycles.reduce((n, c) => n + c.considered, 0);
    const cycleSeconds = durations.reduce((a, b) => a + b, 0) / 1000;
    printTable(`fleet bench: ${CLUSTERS} × ${NODES} nodes, ${GANGS} gangs`, [
      ['gangs Succeeded, each reserved once', `${once} of ${GANGS} (${reserved} reservations)`],
      ['clusters joined (register + snapshot + Connected)', `${fig(joinSeconds)} s`],
      ['submits/s (50 clients)', fig(GANGS / submit.seconds, 0)],
      ['first submit to last gang Succeeded', `${fig(total)} s`],
      ['reservations/s over the run', fig(reserved / total)],
      ['dispatches/s over the run', fig(responder.dispatches / total)],
      [
        'scheduling cycles that placed: count, p50 / p99 / max ms',
        `${durations.length}, ${fig(pct(durations, 50), 0)} / ${fig(pct(durations, 99), 0)} / ${fig(durations[durations.length - 1] ?? NaN, 0)}`,
      ],
      ['cycle phases, mean ms', phaseMeans || 'n/a'],
      ['cluster indexes built anew in those cycles (the rest kept)', String(indexed)],
      ['gangs considered per second of cycle time', fig(decided / cycleSeconds, 0)],
      [`hub peak RSS (V8 heap limit ${HUB_HEAP_MB} MiB)`, `${fig(peakRss / 2 ** 20, 0)} MiB`],
      [
        'Postgres database size (largest tables)',
        `${size} (${largest.map((t) => `${t.name} ${t.size}`).join(', ')})`,
      ],
      ['a cluster joining the busy fleet: first dispatch after', `${fig(lateWait)} s`],
    ]);
    if (once !== GANGS || reserved !== GANGS)
      throw new BenchFailure(`${once} gangs reserved, ${reserved} reservations: not once each`);
  } finally {
    if (rssTimer) clearInterval(rssTimer);
    responder?.stop();
    for (const f of fleet) f.close();
    api?.close();
    hubEnd = await hub?.stop();
    await redis.cleanup();
    await db.drop();
  }
  if (hubEnd !== undefined && hubEnd !== 0)
    throw new BenchFailure(`the hub did not stop cleanly: ${hubEnd}`);
}

runBench(main);
