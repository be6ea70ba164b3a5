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
// fed hand-made lists (cluster-observer.spec.ts). ClusterObserver only lists and feeds it.
import { CoreV1Api, KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { kubeJSON, type KubeEndpoint } from '@muster/testbed';

export const GANG_LABEL = 'muster.dev/gang-id';
export const TOKEN_LABEL = 'muster.dev/fencing-token';
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

  private violate(at: number, kind: ViolationKind, detail: string): void {
    this.violations.push({ at: new Date(at).toISOString(), kind, detail });
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
            );
          continue;
        }
        this.everWhole.add(key);
        if (copy.length === size && copy.every((p) => p.status?.phase === 'Running'))
          this.wholeRunning.add(gang);
        if (copy.length === size && copy.every((p) => bound(p) && !terminal(p)))
          this.wholeBound.add(gang);
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
        this.violate(at, 'gang-in-two-clusters', `gang ${gang} in ${[...cs].sort().join(', ')}`);
    for (const [gang, ts] of liveTokens)
      if (ts.size > 1)
        this.violate(
          at,
          'two-live-tokens',
          `gang ${gang} has live pods of tokens ${[...ts].sort().join(', ')}`,
        );
    for (const [key, w] of this.open) {
      if (partialNow.has(key)) continue;
      this.open.delete(key);
      const gang = key.split('/')[1]!;
      const ms = at - w.since;
      this.partialMs.set(gang, Math.max(this.partialMs.get(gang) ?? 0, ms));
      // Left partly bound until it went away: the scheduler never bound the rest.
      if (!this.isWholeBound(key, clusters))
        this.violate(at, 'partial-gang-abandoned', `${w.detail}; then deleted after ${ms} ms`);
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
        );
        continue;
      }
      const over = [...sum]
        .filter(([r, v]) => v > 0 && v > (alloc.get(r) ?? 0))
        .map(([r, v]) => `${r} ${fmt(r, v)} of ${fmt(r, alloc.get(r) ?? 0)}`);
      if (over.length > 0)
        this.violate(at, 'node-over-committed', `${cluster}/${node}: ${over.join(', ')} booked`);
    }
  }
}

interface ClusterReader {
  pods(): Promise<V1Pod[]>;
  nodes(): Promise<V1Node[]>;
}

/** Lists pods and nodes of every worker cluster and feeds the ledger; counts failed samples. */
export class ClusterObserver {
  private readonly readers = new Map<string, ClusterReader>();
  readonly ledger: GangLedger;
  /** Samples that read every cluster. */
  samples = 0;
  /** Samples that failed (a list call threw); never dropped silently. */
  failedSamples = 0;
  readonly errors: string[] = [];
  private loop: Promise<void> | undefined;
  private sampling = false;

  constructor(
    /**
     * The worker clusters. With `server`, `token` and `ca` (a testbed cluster has them) lists
     * are read as plain JSON, several times cheaper than client-node's typed decoding.
     */
    clusters: ({ name: string; kubeconfig: string } & Partial<KubeEndpoint>)[],
    /** Members per gang id, as submitted. */
    sizes: Map<string, number>,
  ) {
    this.ledger = new GangLedger(sizes);
    for (const c of clusters) {
      if (c.server && c.token && c.ca) {
        const ep: KubeEndpoint = { server: c.server, token: c.token, ca: c.ca };
        this.readers.set(c.name, {
          pods: async () => (await kubeJSON<{ items: V1Pod[] }>(ep, 'GET', '/api/v1/pods')).items,
          nodes: async () =>
            (await kubeJSON<{ items: V1Node[] }>(ep, 'GET', '/api/v1/nodes')).items,
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
  }

  get violations(): Violation[] {
    return this.ledger.violations;
  }

  get seen(): Map<string, Set<string>> {
    return this.ledger.seen;
  }

  /** Longest and total time spent in successful samples, in ms. */
  maxSampleMs = 0;
  totalSampleMs = 0;
  private nodes = new Map<string, V1Node[]>();

  /**
   * One sample: every pod of every cluster (all namespaces, Muster's or not: they all take
   * node resources), and the nodes — re-read every 10th sample (allocatable rarely changes).
   */
  async sample(): Promise<void> {
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

  async stop(): Promise<void> {
    this.sampling = false;
    await this.loop;
    this.stoppedAt = Date.now();
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
