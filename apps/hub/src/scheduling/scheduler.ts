import { CoalescedRunner } from '@muster/common';
import {
  formatQuantity,
  parseResourceList,
  placeBatch,
  type ClusterSnapshot,
  type Gang,
  type NodeSnapshot,
} from '@muster/placement';
import { requiredNodeAffinityOf } from '@muster/k8s';
import type { Log } from '@muster/log';
import type { StoredExplanation } from '../jobs/job.domain';
import type { InventoryRepository } from '../inventory/inventory.repository';
import type { AgentRegistry } from '../agents/agent-session';
import { nodeSnapshotOf, type ReportedNode } from '../agents/capacity.mapper';
import {
  explanationKey,
  type DispatchRepository,
  type NewReservation,
  type NodeRequests,
  type QueuedGang,
  type ReservationRow,
  LeadershipLost,
} from '../dispatch/dispatch.repository';
import type { Dispatcher } from '../dispatch/dispatcher';
import { orderForCycle } from './queue-order';
import { activeExclusions } from '../dispatch/cluster-exclusion';

export interface SchedulerSettings {
  /** Most queued gangs considered in one cycle. */
  maxGangsPerCycle: number;
  /** A cycle runs at least this often while leading, in ms (requeue backoffs end, missed wake-ups). */
  periodMs: number;
  /** Wake-ups within this window are folded into one cycle, in ms. */
  coalesceMs: number;
  policy: 'pack' | 'spread';
}

export interface CycleReport {
  considered: number;
  placed: number;
  unplaced: number;
  invalid: number;
  clusters: number;
  durationMs: number;
}

/**
 * The scheduling cycle, on the leader only: load → snapshot → place → commit → enqueue.
 * Triggered by submits, capacity changes and a timer; never a busy loop.
 */
export class Scheduler {
  private leader = false;
  /** The leader epoch this replica raised; every commit checks it is still the current one. */
  private epoch = 0;
  private readonly cycles = new CoalescedRunner({
    run: async () => {
      const report = await this.cycle();
      this.lastReport = report;
      // A full batch placed something: more may be waiting behind it.
      return report.considered === this.settings.maxGangsPerCycle && report.placed > 0;
    },
    onError: (err) => {
      if (err instanceof LeadershipLost) this.log.warn('cycle discarded', { reason: err.message });
      else this.log.error('scheduling cycle failed', { err });
    },
    enabled: () => this.leader,
  });
  private wake: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  lastReport: CycleReport | undefined;

  constructor(
    private readonly repo: DispatchRepository,
    private readonly inventory: InventoryRepository,
    private readonly agents: AgentRegistry,
    private readonly dispatcher: Dispatcher,
    private readonly settings: SchedulerSettings,
    private readonly onChange: () => void,
    private readonly log: Log,
  ) {}

  setLeader(leader: boolean, epoch = 0): void {
    this.leader = leader;
    this.epoch = epoch;
    if (leader) {
      this.periodic = setInterval(() => this.requestCycle('timer'), this.settings.periodMs);
      this.requestCycle('became leader');
    } else if (this.periodic) {
      clearInterval(this.periodic);
      this.periodic = undefined;
    }
  }

  stop(): void {
    this.leader = false;
    if (this.periodic) clearInterval(this.periodic);
    if (this.wake) clearTimeout(this.wake);
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

  /** One cycle. Public for tests and benchmarks. */
  async cycle(): Promise<CycleReport> {
    const started = performance.now();
    const queued = await this.repo.queuedGangs(this.settings.maxGangsPerCycle);
    if (queued.length === 0)
      return {
        considered: 0,
        placed: 0,
        unplaced: 0,
        invalid: 0,
        clusters: 0,
        durationMs: performance.now() - started,
      };
    const [{ clusters, excluded }, weights, reservations] = await Promise.all([
      this.snapshot(),
      this.repo.queueWeights(),
      this.repo.reservations(),
    ]);
    const usable = deductReservations(clusters, reservations);
    const ordered = orderForCycle(queued, weights);
    const now = new Date();
    const gangs = ordered.map((q) => gangOf(q, now));
    const result = placeBatch(usable, gangs, { policy: this.settings.policy, explain: true });
    const placed: NewReservation[] = [];
    const explained: { jobId: string; explanation: StoredExplanation }[] = [];
    const evaluatedAt = new Date().toISOString();
    result.decisions.forEach((d, i) => {
      const q = ordered[i]!;
      if (d.status === 'placed') {
        const where = d.placement.domain ? ` in ${d.placement.domain.path.join('/')}` : '';
        placed.push({
          jobId: q.id,
          cluster: d.placement.cluster,
          placement: d.placement,
          nodeRequests: nodeRequestsOf(q, d.placement.podSets),
          message: `placed on ${d.placement.cluster}${where}`,
        });
        return;
      }
      const explanation: StoredExplanation =
        d.status === 'invalid'
          ? { evaluatedAt, summary: `gang cannot be placed: ${d.error.message}`, clusters: [] }
          : {
              evaluatedAt,
              summary:
                usable.length === 0
                  ? 'no cluster is ready: no agent is connected, or every cluster is cordoned'
                  : d.explanations.every((e) => e.code === 'ExcludedForGang')
                    ? `every ready cluster failed to run all ${memberCount(q)} members; waiting until an exclusion ends`
                    : `no cluster can hold all ${memberCount(q)} members now`,
              clusters: [
                ...d.explanations.map((e) => ({
                  cluster: e.cluster,
                  fits: false,
                  reasonCode: e.code,
                  message: e.message,
                })),
                ...excluded.map((e) => ({ ...e, fits: false })),
              ].sort((a, b) => (a.cluster < b.cluster ? -1 : 1)),
            };
      // Store only when the verdict changed, so a long queue does not rewrite every row each cycle.
      if (q.explanationKey !== explanationKey(explanation))
        explained.push({ jobId: q.id, explanation });
    });
    const reserved = await this.repo.commitCycle(placed, explained, this.epoch);
    if (reserved.length > 0) {
      this.onChange();
      await this.dispatcher.enqueueDispatches(reserved);
    }
    const report = {
      considered: queued.length,
      placed: reserved.length,
      unplaced: result.unplaced,
      invalid: result.invalid,
      clusters: usable.length,
      durationMs: performance.now() - started,
    };
    if (reserved.length > 0 || result.invalid > 0) this.log.info('scheduling cycle', { ...report });
    return report;
  }

  /** Ready clusters with their reported nodes: from this replica's streams, else from Postgres. */
  private async snapshot(): Promise<{ clusters: ClusterSnapshot[]; excluded: ExcludedCluster[] }> {
    const all = await this.inventory.listClusters();
    const excluded: ExcludedCluster[] = [];
    for (const c of all) {
      if (c.cordoned)
        excluded.push({
          cluster: c.name,
          reasonCode: 'ClusterCordoned',
          message: 'cluster is cordoned',
        });
      else if (c.agentState === 'NeverConnected')
        excluded.push({
          cluster: c.name,
          reasonCode: 'ClusterNotReady',
          message: 'no agent has connected yet',
        });
      else if (c.agentState === 'Lost')
        excluded.push({
          cluster: c.name,
          reasonCode: 'ClusterNotReady',
          message: 'agent lost; cluster is NotReady',
        });
    }
    const clusters = all.filter((c) => c.agentState === 'Connected' && !c.cordoned && !c.readOnly);
    const remote = clusters.filter((c) => !this.agents.get(c.name)).map((c) => c.name);
    const stored = new Map((await this.repo.loadCapacity(remote)).map((r) => [r.cluster, r]));
    const out: ClusterSnapshot[] = [];
    for (const c of clusters) {
      const session = this.agents.get(c.name);
      let nodes: ReportedNode[];
      let reflected: Set<string>;
      if (session) {
        nodes = [...session.nodes.values()];
        reflected = session.reflected;
      } else {
        const row = stored.get(c.name);
        if (!row) continue;
        nodes = row.nodes as ReportedNode[];
        reflected = new Set(row.reflected);
      }
      out.push({
        name: c.name,
        topologyLevels: c.topologyLevels,
        nodes: nodes.map(nodeSnapshotOf),
        reflected,
      } as ClusterSnapshot & {
        reflected: Set<string>;
      });
    }
    return { clusters: out, excluded };
  }
}

/** A registered cluster the cycle did not consider, and why. */
interface ExcludedCluster {
  cluster: string;
  reasonCode: string;
  message: string;
}

/**
 * The placement view of a queued gang. Stored requests were checked at submit with the same
 * parser, so a failure here means a corrupt row: it is passed on unparsed so that placement
 * reports the gang invalid (never as a gang that requests nothing).
 */
function gangOf(q: QueuedGang, now: Date): Gang {
  const group = q.gang.groups[0];
  const excluded = activeExclusions(q.excludedClusters, now);
  return {
    id: q.id,
    ...(Object.keys(excluded).length > 0 ? { excludedClusters: excluded } : {}),
    podSets: q.gang.podSets.map((ps) => {
      const parsed = parseResourceList(ps.requests);
      const spec = (ps.template.spec ?? {}) as {
        nodeSelector?: Record<string, string>;
        tolerations?: Gang['podSets'][number]['tolerations'];
      };
      return {
        name: ps.name,
        count: ps.count,
        requests: parsed.ok ? parsed.value : (ps.requests as unknown as Record<string, bigint>),
        nodeSelector: spec.nodeSelector,
        nodeAffinity: requiredNodeAffinityOf(spec),
        tolerations: spec.tolerations,
        topology: ps.topology,
      };
    }),
    colocation: group ? { podSets: group.podSets, level: group.level } : undefined,
  };
}

function memberCount(q: QueuedGang): number {
  return q.gang.podSets.reduce((n, p) => n + p.count, 0);
}

function nodeRequestsOf(
  q: QueuedGang,
  podSets: readonly { podSet: string; nodes: readonly string[] }[],
): NodeRequests {
  const perNode = new Map<string, Map<string, bigint>>();
  for (const psp of podSets) {
    const ps = q.gang.podSets.find((p) => p.name === psp.podSet);
    const parsed = ps ? parseResourceList(ps.requests) : undefined;
    const requests: Record<string, bigint> = parsed?.ok ? { ...parsed.value } : {};
    for (const node of psp.nodes) {
      const acc = perNode.get(node) ?? new Map<string, bigint>();
      for (const [k, v] of Object.entries(requests)) acc.set(k, (acc.get(k) ?? 0n) + v);
      perNode.set(node, acc);
    }
  }
  const out: NodeRequests = {};
  for (const [node, m] of perNode)
    out[node] = Object.fromEntries([...m].map(([k, v]) => [k, formatQuantity(v, k)]));
  return out;
}

/**
 * The snapshot the cycle places against: each cluster's reported free capacity minus the
 * reservations its report does not reflect yet. Never more than the cluster shows free.
 */
export function deductReservations(
  clusters: (ClusterSnapshot & { reflected?: Set<string> })[],
  reservations: ReservationRow[],
): ClusterSnapshot[] {
  const byCluster = new Map<string, ReservationRow[]>();
  for (const r of reservations) {
    const list = byCluster.get(r.cluster) ?? [];
    list.push(r);
    byCluster.set(r.cluster, list);
  }
  return clusters.map(({ reflected, ...cluster }) => {
    const pending = (byCluster.get(cluster.name) ?? []).filter(
      (r) => !reflected?.has(`${r.jobId}:${r.fencingToken}`),
    );
    if (pending.length === 0) return cluster;
    const used = new Map<string, Map<string, bigint>>();
    for (const r of pending) {
      for (const [node, requests] of Object.entries(r.nodeRequests)) {
        const acc = used.get(node) ?? new Map<string, bigint>();
        const parsed = parseResourceList(requests);
        if (parsed.ok)
          for (const [k, v] of Object.entries(parsed.value)) acc.set(k, (acc.get(k) ?? 0n) + v);
        used.set(node, acc);
      }
    }
    const nodes: NodeSnapshot[] = cluster.nodes.map((n) => {
      const u = used.get(n.name);
      if (!u) return n;
      const free: Record<string, bigint> = { ...n.free };
      for (const [k, v] of u) free[k] = (free[k] ?? 0n) - v;
      return { ...n, free };
    });
    return { ...cluster, nodes };
  });
}
