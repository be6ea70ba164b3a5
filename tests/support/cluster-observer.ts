// Reads every pod and node straight from the worker clusters' API servers and checks the
// invariants a user would check with kubectl:
// - a gang lives in one cluster, with one fencing token, counting terminating copies too;
// - no member is ungated before the whole gang exists;
// - a gang whose members are all ungated does not stay partly bound (some Running or bound,
//   others Pending and unbound) — the kube-scheduler leaving members Pending means the hub
//   booked a place the worker cannot give;
// - no node is booked past its allocatable (cpu, memory, pods, any requested resource),
//   charging every non-terminal pod to its node — `spec.nodeName`, or the node of the
//   `matchFields metadata.name In [node]` pin Muster's agent writes — bound or Pending.
// The judging part (GangLedger) is pure: it takes pod and node lists and a time, so it can be
// fed hand-made lists (cluster-observer.spec.ts). ClusterObserver only lists and feeds it; with
// keepLastRead it judges a cluster that does not answer (a SIGSTOPped API server) on its last
// read, its pods still live, and counts the sample as failed.
import { LABEL_FENCING_TOKEN, LABEL_GANG_ID } from '@muster/k8s';
import { CoreV1Api, KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { kubeRequest, type KubeEndpoint } from '@muster/testbed';

export const GANG_LABEL = LABEL_GANG_ID;
export const TOKEN_LABEL = LABEL_FENCING_TOKEN;
export const MUSTER_GATE = 'muster.dev/gang';

export type ViolationKind =
  | 'gang-in-two-clusters'
  | 'two-live-tokens'
  | 'partial-gang-ungated'
  | 'partial-gang-abandoned'
  | 'node-over-committed';

export interface Violation {
  at: string;
  kind: ViolationKind;
  detail: string;
  /** What it is about, for counting distinct gangs or nodes: a gang id, or "cluster/node". */
  subject?: string;
}

/** A gang copy (cluster, token) seen with every member Running, or every member bound and none finished. */
export interface WholeSighting {
  cluster: string;
  token: string;
  /** The first sample that saw it so (ms since the epoch). */
  at: number;
}

/** What one sample read from one cluster. */
export interface ClusterState {
  pods: V1Pod[];
  nodes: V1Node[];
}

// ---- quantities ----------------------------------------------------------------------------

const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity in thousandths of its unit ("100m" → 100, "1Gi" → 1073741824000). */
export function milli(q: string | number | undefined): number {
  if (q === undefined || q === '') return 0;
  if (typeof q === 'number') return Math.ceil(q * 1000);
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m || SUFFIX[m[2]!] === undefined) throw new Error(`not a quantity: ${JSON.stringify(q)}`);
  return Math.ceil(Number(m[1]) * SUFFIX[m[2]!]! * 1000 - 1e-6);
}

type Amounts = Map<string, number>;

function amounts(list: Record<string, unknown> | undefined): Amounts {
  const out: Amounts = new Map();
  for (const [k, v] of Object.entries(list ?? {})) out.set(k, milli(v as string | number));
  return out;
}

function add(into: Amounts, a: Amounts): void {
  for (const [k, v] of a) into.set(k, (into.get(k) ?? 0) + v);
}

function maxInto(into: Amounts, a: Amounts): void {
  for (const [k, v] of a) if (v > (into.get(k) ?? 0)) into.set(k, v);
}

/**
 * What the kube-scheduler charges a pod, written here independently of Muster's own code:
 * max(containers + sidecars, each init container + the sidecars started before it), pod-level
 * requests for cpu/memory when set, plus overhead, plus one pod slot.
 */
export function podCharge(p: V1Pod): Amounts {
  const spec = p.spec;
  const total: Amounts = new Map();
  for (const c of spec?.containers ?? []) add(total, amounts(c.resources?.requests));
  const sidecars: Amounts = new Map();
  const initPeak: Amounts = new Map();
  for (const c of spec?.initContainers ?? []) {
    const r = amounts(c.resources?.requests);
    if (c.restartPolicy === 'Always') {
      add(sidecars, r);
      maxInto(initPeak, sidecars);
    } else {
      const during = new Map(sidecars);
      add(during, r);
      maxInto(initPeak, during);
    }
  }
  add(total, sidecars);
  maxInto(total, initPeak);
  const podLevel = amounts(
    (spec as { resources?: { requests?: Record<string, unknown> } } | undefined)?.resources
      ?.requests,
  );
  for (const k of ['cpu', 'memory']) if (podLevel.has(k)) total.set(k, podLevel.get(k)!);
  add(total, amounts(spec?.overhead));
  total.set('pods', 1000);
  return total;
}

// ---- pod facts -----------------------------------------------------------------------------

function terminal(p: V1Pod): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

function deleting(p: V1Pod): boolean {
  return Boolean(p.metadata?.deletionTimestamp);
}

function gated(p: V1Pod): boolean {
  return (p.spec?.schedulingGates ?? []).length > 0;
}

function bound(p: V1Pod): boolean {
  return Boolean(p.spec?.nodeName);
}

/** The node a required node-affinity `matchFields metadata.name In [node]` pins the pod to. */
export function pinnedNode(p: V1Pod): string | undefined {
  const terms =
    p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms ?? [];
  const nodes = new Set<string>();
  for (const t of terms)
    for (const f of t.matchFields ?? [])
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1)
        nodes.add(f.values[0]!);
  return nodes.size === 1 ? [...nodes][0] : undefined;
}

/** The node whose resources the pod holds or was booked on. */
export function chargedNode(p: V1Pod): string | undefined {
  return p.spec?.nodeName || pinnedNode(p);
}

function fmt(resource: string, m: number): string {
  if (resource === 'cpu') return `${m}m`;
  return String(m / 1000);
}

interface PartialWindow {
  since: number;
  detail: string;
}

/** The pure judge: feed it samples in time order. */
export class GangLedger {
  readonly violations: Violation[] = [];
  /** Clusters each gang was seen in (any pod, any phase). */
  readonly seen = new Map<string, Set<string>>();
  /** Gangs seen with all their members Running in one cluster, one token, in one sample. */
  readonly wholeRunning = new Set<string>();
  /**
   * Gangs seen with all their members bound (spec.nodeName) and none finished, in one cluster,
   * one token, in one sample: the kube-scheduler held them all at once.
   */
  readonly wholeBound = new Set<string>();
  /** Longest time each gang was seen partly bound with every member ungated, in ms. */
  readonly partialMs = new Map<string, number>();
  /** Per gang, each copy's first whole sighting, in the order seen (how long a move took). */
  readonly firstWhole = new Map<string, WholeSighting[]>();
  /** Gang copies (cluster/gang/token) seen with all their members at once. */
  private readonly everWhole = new Set<string>();
  private readonly open = new Map<string, PartialWindow>();
  private lastAt = 0;

  constructor(
    /** Members per gang id, as submitted. */
    private readonly sizes: Map<string, number>,
  ) {}

  /** Longest partial window of any gang, open windows included, in ms. */
  get maxPartialMs(): number {
    let max = 0;
    for (const v of this.partialMs.values()) max = Math.max(max, v);
    for (const w of this.open.values()) max = Math.max(max, this.lastAt - w.since);
    return max;
  }

  /** Gangs partly bound right now (open windows), with how long. */
  openPartials(): string[] {
    return [...this.open].map(([k, w]) => `${k} for ${this.lastAt - w.since} ms: ${w.detail}`);
  }

  private violate(at: number, kind: ViolationKind, detail: string, subject?: string): void {
    this.violations.push({ at: new Date(at).toISOString(), kind, detail, subject });
  }

  private sawWhole(at: number, gang: string, cluster: string, token: string): void {
    const list = this.firstWhole.get(gang) ?? [];
    if (!list.some((w) => w.cluster === cluster && w.token === token))
      list.push({ cluster, token, at });
    this.firstWhole.set(gang, list);
  }

  observe(at: number, clusters: Map<string, ClusterState>): void {
    this.lastAt = at;
    const liveClusters = new Map<string, Set<string>>();
    const liveTokens = new Map<string, Set<string>>();
    const partialNow = new Map<string, string>();
    for (const [cluster, { pods, nodes }] of clusters) {
      this.checkNodes(at, cluster, pods, nodes);
      const copies = new Map<string, V1Pod[]>();
      for (const p of pods) {
        const gang = p.metadata?.labels?.[GANG_LABEL];
        if (!gang) continue;
        if (!this.seen.has(gang)) this.seen.set(gang, new Set());
        this.seen.get(gang)!.add(cluster);
        const token = p.metadata?.labels?.[TOKEN_LABEL] ?? '?';
        if (!terminal(p)) {
          // Terminating pods still run through their grace period: they count as live.
          const cs = liveClusters.get(gang) ?? new Set<string>();
          cs.add(cluster);
          liveClusters.set(gang, cs);
          const ts = liveTokens.get(gang) ?? new Set<string>();
          ts.add(token);
          liveTokens.set(gang, ts);
        }
        const key = `${cluster}/${gang}/${token}`;
        const list = copies.get(key) ?? [];
        list.push(p);
        copies.set(key, list);
      }
      for (const [key, copy] of copies) {
        const gang = copy[0]!.metadata!.labels![GANG_LABEL]!;
        const size = this.sizes.get(gang);
        if (size === undefined) continue;
        if (copy.some(deleting)) continue; // being deleted: its pods go one by one
        const ungated = copy.filter((p) => !gated(p));
        if (copy.length < size) {
          // A copy seen whole before is shrinking (deleted after it finished); one never seen
          // whole has members ungated before the gang exists.
          if (ungated.length > 0 && !this.everWhole.has(key) && !copy.some(terminal))
            this.violate(
              at,
              'partial-gang-ungated',
              `${cluster}: gang ${gang} has ${copy.length} of ${size} members, ${ungated.length} ungated`,
              gang,
            );
          continue;
        }
        this.everWhole.add(key);
        const token = key.split('/')[2]!;
        if (copy.length === size && copy.every((p) => p.status?.phase === 'Running')) {
          this.wholeRunning.add(gang);
          this.sawWhole(at, gang, cluster, token);
        }
        if (copy.length === size && copy.every((p) => bound(p) && !terminal(p))) {
          this.wholeBound.add(gang);
          this.sawWhole(at, gang, cluster, token);
        }
        if (ungated.length < copy.length) continue;
        const started = copy.filter(
          (p) => bound(p) || p.status?.phase === 'Running' || p.status?.phase === 'Succeeded',
        );
        const waiting = copy.filter(
          (p) => !bound(p) && (p.status?.phase ?? 'Pending') === 'Pending',
        );
        if (started.length > 0 && waiting.length > 0)
          partialNow.set(
            key,
            `${cluster}: gang ${gang} has ${started.length} of ${size} members bound or running and ${waiting.length} Pending unbound`,
          );
      }
    }
    for (const [gang, cs] of liveClusters)
      if (cs.size > 1)
        this.violate(
          at,
          'gang-in-two-clusters',
          `gang ${gang} in ${[...cs].sort().join(', ')}`,
          gang,
        );
    for (const [gang, ts] of liveTokens)
      if (ts.size > 1)
        this.violate(
          at,
          'two-live-tokens',
          `gang ${gang} has live pods of tokens ${[...ts].sort().join(', ')}`,
          gang,
        );
    for (const [key, w] of this.open) {
      if (partialNow.has(key)) continue;
      this.open.delete(key);
      const gang = key.split('/')[1]!;
      const ms = at - w.since;
      this.partialMs.set(gang, Math.max(this.partialMs.get(gang) ?? 0, ms));
      // Left partly bound until it went away: the scheduler never bound the rest.
      if (!this.isWholeBound(key, clusters))
        this.violate(
          at,
          'partial-gang-abandoned',
          `${w.detail}; then deleted after ${ms} ms`,
          gang,
        );
    }
    for (const [key, detail] of partialNow)
      if (!this.open.has(key)) this.open.set(key, { since: at, detail });
  }

  private isWholeBound(key: string, clusters: Map<string, ClusterState>): boolean {
    const [cluster, gang, token] = key.split('/');
    const copy = (clusters.get(cluster!)?.pods ?? []).filter(
      (p) =>
        p.metadata?.labels?.[GANG_LABEL] === gang &&
        (p.metadata?.labels?.[TOKEN_LABEL] ?? '?') === token,
    );
    return (
      copy.length === this.sizes.get(gang!) &&
      !copy.some(deleting) &&
      copy.every((p) => bound(p) || terminal(p))
    );
  }

  private checkNodes(at: number, cluster: string, pods: V1Pod[], nodes: V1Node[]): void {
    const booked = new Map<string, Amounts>();
    for (const p of pods) {
      if (terminal(p)) continue;
      const node = chargedNode(p);
      if (!node) continue;
      const sum = booked.get(node) ?? new Map<string, number>();
      add(sum, podCharge(p));
      booked.set(node, sum);
    }
    const allocatable = new Map(
      nodes.map((n) => [n.metadata?.name ?? '', amounts(n.status?.allocatable)]),
    );
    for (const [node, sum] of booked) {
      const alloc = allocatable.get(node);
      if (!alloc) {
        this.violate(
          at,
          'node-over-committed',
          `${cluster}/${node}: pods booked on a node that does not exist`,
          `${cluster}/${node}`,
        );
        continue;
      }
      const over = [...sum]
        .filter(([r, v]) => v > 0 && v > (alloc.get(r) ?? 0))
        .map(([r, v]) => `${r} ${fmt(r, v)} of ${fmt(r, alloc.get(r) ?? 0)}`);
      if (over.length > 0)
        this.violate(
          at,
          'node-over-committed',
          `${cluster}/${node}: ${over.join(', ')} booked`,
          `${cluster}/${node}`,
        );
    }
  }
}

/** Reads one cluster's pods and nodes (the observer's only I/O; tests pass their own). */
export interface ClusterReader {
  pods(): Promise<V1Pod[]>;
  nodes(): Promise<V1Node[]>;
}

export interface ObserverOptions {
  /**
   * Keep judging when a cluster does not answer (its API server stopped or too slow): its last
   * read stands in for it, its pods still live, and the sample counts as failed but is judged.
   * Default false: a sample that could not read every cluster is dropped (and counted).
   */
  keepLastRead?: boolean;
  /** With keepLastRead, how long a sample waits for a cluster's read, in ms; default 400. */
  readWaitMs?: number;
  /** Longest time one list call may take before it counts as failed, in ms; default 10000. */
  readTimeoutMs?: number;
}

/** How the reads of one cluster went over the run (keepLastRead mode). */
export interface ClusterReadStats {
  /** Reads that returned. */
  reads: number;
  /** When they returned (ms since the epoch); the first 100000 are kept. */
  readAt: number[];
  /** Samples that judged this cluster on an earlier read, because this one had not returned. */
  staleSamples: number;
  /** When those samples began (ms since the epoch); the first 10000 are kept. */
  staleAt: number[];
  /** Reads that threw or timed out, with when (ms since the epoch); the first 1000 are kept. */
  failures: { at: number; error: string }[];
  failedReads: number;
}

function noReads(): ClusterReadStats {
  return { reads: 0, readAt: [], staleSamples: 0, staleAt: [], failures: [], failedReads: 0 };
}

interface LastRead {
  state: ClusterState;
  /** When the read returned (ms since the epoch). */
  at: number;
}

/** Lists pods and nodes of every worker cluster and feeds the ledger; counts failed samples. */
export class ClusterObserver {
  private readonly readers = new Map<string, ClusterReader>();
  readonly ledger: GangLedger;
  /** Samples that read every cluster. */
  samples = 0;
  /**
   * Samples that failed (a list call threw; with keepLastRead, a cluster not read in time,
   * judged on its last read); never dropped silently.
   */
  failedSamples = 0;
  readonly errors: string[] = [];
  /** Per cluster, how its reads went (keepLastRead mode). */
  readonly readStats = new Map<string, ClusterReadStats>();
  private loop: Promise<void> | undefined;
  private sampling = false;
  private readonly options: Required<ObserverOptions>;
  private readonly last = new Map<string, LastRead>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly freshReads = new Map<string, number>();

  constructor(
    /**
     * The worker clusters. With `server`, `token` and `ca` (a testbed cluster has them) lists
     * are read as plain JSON, several times cheaper than client-node's typed decoding.
     */
    clusters: ({ name: string; kubeconfig: string } & Partial<KubeEndpoint>)[],
    /** Members per gang id, as submitted. */
    sizes: Map<string, number>,
    options: ObserverOptions = {},
  ) {
    this.ledger = new GangLedger(sizes);
    this.options = {
      keepLastRead: options.keepLastRead ?? false,
      readWaitMs: options.readWaitMs ?? 400,
      readTimeoutMs: options.readTimeoutMs ?? 10_000,
    };
    for (const c of clusters) {
      if (c.server && c.token && c.ca) {
        const ep: KubeEndpoint = { server: c.server, token: c.token, ca: c.ca };
        const list = async <T>(path: string): Promise<T[]> => {
          const res = await kubeRequest(ep, 'GET', path, undefined, this.options.readTimeoutMs);
          if (res.status !== 200)
            throw new Error(`GET ${path} -> ${res.status}: ${res.body.slice(0, 500)}`);
          return (JSON.parse(res.body) as { items: T[] }).items;
        };
        this.readers.set(c.name, {
          pods: () => list<V1Pod>('/api/v1/pods'),
          nodes: () => list<V1Node>('/api/v1/nodes'),
        });
      } else {
        const kc = new KubeConfig();
        kc.loadFromString(c.kubeconfig);
        const api = kc.makeApiClient(CoreV1Api);
        this.readers.set(c.name, {
          pods: async () => (await api.listPodForAllNamespaces()).items,
          nodes: async () => (await api.listNode()).items,
        });
      }
    }
    for (const name of this.readers.keys()) this.readStats.set(name, noReads());
  }

  /** An observer over readers the caller made (hand-made lists, stalls, failures). */
  static withReaders(
    readers: Map<string, ClusterReader>,
    sizes: Map<string, number>,
    options: ObserverOptions = {},
  ): ClusterObserver {
    const o = new ClusterObserver([], sizes, options);
    for (const [name, r] of readers) {
      o.readers.set(name, r);
      o.readStats.set(name, noReads());
    }
    return o;
  }

  get violations(): Violation[] {
    return this.ledger.violations;
  }

  get seen(): Map<string, Set<string>> {
    return this.ledger.seen;
  }

  /** The last state read from each cluster (keepLastRead mode), and when it was read. */
  lastRead(cluster: string): { state: ClusterState; at: number } | undefined {
    return this.last.get(cluster);
  }

  /** Longest and total time spent in successful samples, in ms. */
  maxSampleMs = 0;
  totalSampleMs = 0;
  private nodes = new Map<string, V1Node[]>();

  private waiters: { since: number; resolve: () => void }[] = [];

  /**
   * Resolves once a sample that began after this call has been judged: a test that saw a state
   * through its own reads (a gang whole, say) waits for the sampler to have seen it too before it
   * changes it, so the sampler does not judge a change it could not have seen the start of.
   */
  caughtUp(): Promise<void> {
    if (!this.sampling) return Promise.resolve();
    const since = Date.now();
    return new Promise((resolve) => this.waiters.push({ since, resolve }));
  }

  private wake(sampleStartedAt: number): void {
    const ready = this.waiters.filter((w) => w.since <= sampleStartedAt);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.since > sampleStartedAt);
    for (const w of ready) w.resolve();
  }

  /**
   * One sample: every pod of every cluster (all namespaces, Muster's or not: they all take
   * node resources), and the nodes — re-read every 10th sample (allocatable rarely changes).
   */
  async sample(): Promise<void> {
    if (this.options.keepLastRead) return this.sampleKeepingLast();
    const t0 = Date.now();
    const readNodes = this.samples % 10 === 0 || this.nodes.size < this.readers.size;
    let read: Map<string, ClusterState>;
    try {
      read = new Map(
        await Promise.all(
          [...this.readers].map(async ([name, read]): Promise<[string, ClusterState]> => {
            const [pods, nodes] = await Promise.all([
              read.pods(),
              readNodes ? read.nodes() : this.nodes.get(name)!,
            ]);
            return [name, { pods, nodes }];
          }),
        ),
      );
    } catch (err) {
      this.failedSamples++;
      if (this.errors.length < 20) this.errors.push((err as Error).message ?? String(err));
      return;
    }
    for (const [name, s] of read) this.nodes.set(name, s.nodes);
    this.samples++;
    this.ledger.observe(Date.now(), read);
    this.wake(t0);
    const ms = Date.now() - t0;
    this.maxSampleMs = Math.max(this.maxSampleMs, ms);
    this.totalSampleMs += ms;
  }

  /** Starts a read of this cluster unless one is still running; it updates `last` when it returns. */
  private readCluster(name: string, reader: ClusterReader): Promise<void> {
    const running = this.inflight.get(name);
    if (running) return running;
    const n = this.freshReads.get(name) ?? 0;
    const cachedNodes = this.last.get(name)?.state.nodes;
    const stats = this.readStats.get(name)!;
    const read = (async () => {
      try {
        const [pods, nodes] = await Promise.all([
          reader.pods(),
          n % 10 === 0 || !cachedNodes ? reader.nodes() : cachedNodes,
        ]);
        this.last.set(name, { state: { pods, nodes }, at: Date.now() });
        this.freshReads.set(name, n + 1);
        stats.reads++;
        if (stats.readAt.length < 100_000) stats.readAt.push(Date.now());
      } catch (err) {
        const error = (err as Error).message ?? String(err);
        stats.failedReads++;
        if (stats.failures.length < 1000) stats.failures.push({ at: Date.now(), error });
        if (this.errors.length < 20) this.errors.push(`${name}: ${error}`);
      } finally {
        this.inflight.delete(name);
      }
    })();
    this.inflight.set(name, read);
    return read;
  }

  private async sampleKeepingLast(): Promise<void> {
    const t0 = Date.now();
    // A cluster is fresh in this sample when a read of it returned since the sample began.
    const before = new Map([...this.readers.keys()].map((n) => [n, this.last.get(n)]));
    const reads = [...this.readers].map(([name, r]) => this.readCluster(name, r));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(reads),
      new Promise((r) => (timer = setTimeout(r, this.options.readWaitMs))),
    ]);
    clearTimeout(timer);
    const state = new Map<string, ClusterState>();
    let stale = false;
    for (const name of this.readers.keys()) {
      const last = this.last.get(name);
      if (!last || last === before.get(name)) {
        stale = true;
        const stats = this.readStats.get(name)!;
        stats.staleSamples++;
        if (stats.staleAt.length < 10_000) stats.staleAt.push(t0);
      }
      // Never read yet: nothing is known to be there, so nothing can be judged for it either.
      state.set(name, last?.state ?? { pods: [], nodes: [] });
    }
    if (stale) this.failedSamples++;
    else this.samples++;
    this.ledger.observe(Date.now(), state);
    this.wake(t0);
    const ms = Date.now() - t0;
    this.maxSampleMs = Math.max(this.maxSampleMs, ms);
    this.totalSampleMs += ms;
  }

  /** When start() began sampling and stop() ended it (ms since the epoch). */
  startedAt = 0;
  stoppedAt = 0;

  /**
   * Starts a sample every `intervalMs` (a fixed rate; a sample that overruns delays the next),
   * until stop(). Each started sample ends as a success or a counted failure.
   */
  start(intervalMs: number): void {
    this.sampling = true;
    this.startedAt = Date.now();
    this.loop = (async () => {
      let next = Date.now();
      while (this.sampling) {
        await this.sample();
        next += intervalMs;
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else next = Date.now();
      }
    })();
  }

  /** Samples a run of `durationMs` at `intervalMs` should at least have made (80 %). */
  static floor(durationMs: number, intervalMs: number): number {
    return Math.floor((0.8 * durationMs) / intervalMs);
  }

  /** Ends sampling; in keepLastRead mode also waits for the reads still running. */
  async stop(): Promise<void> {
    this.sampling = false;
    await this.loop;
    await Promise.all(this.inflight.values());
    this.stoppedAt = Date.now();
    this.wake(Infinity);
  }

  /** A one-line account of the run, for failure messages. */
  summary(): string {
    return (
      `${this.samples} samples, ${this.failedSamples} failed in ${this.stoppedAt - this.startedAt} ms ` +
      `(sample mean ${Math.round(this.totalSampleMs / Math.max(1, this.samples))} ms, max ${this.maxSampleMs} ms)` +
      (this.errors.length ? `; errors: ${this.errors.slice(0, 3).join(' | ')}` : '') +
      `; longest partial gang ${this.ledger.maxPartialMs} ms` +
      (this.ledger.openPartials().length
        ? `; still partial: ${this.ledger.openPartials().slice(0, 3).join(' | ')}`
        : '')
    );
  }
}
