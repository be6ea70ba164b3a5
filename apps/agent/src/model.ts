// The agent's live model of its cluster: nodes, what the pods bound to them request, and the
// Muster gangs present. Pure bookkeeping (no I/O): the informers feed it, the reporter reads it.
//
// Free capacity of a node = allocatable − Σ effective requests (pod slots included) of the
// non-terminal pods charged to it, as the kube-scheduler counts: terminating pods still count until
// gone. A pod is charged to a node when it is bound there (spec.nodeName) or, not yet bound, when a
// required node affinity pins it to that one node (`matchFields metadata.name In [node]` in every
// term; how Muster pins members, and anyone else's pod pinned that way counts the same): it can go
// nowhere else, so its slot is taken from the moment it exists, gated or not, and the hub never
// books that slot twice. A gang is reflected (the report's capacity accounts for it) once every
// member is charged to a node, bound or pinned.
import { gangRefKey } from '@muster/common';
import {
  MemberPhase,
  type DeviceClass,
  type GangRef,
  type MemberState,
  type NodeState,
} from '@muster/api';
import { formatQuantity, quantityOf, type ResourceList } from '@muster/placement';
import { DeviceInventory } from './devices';
import type { MemberMeta, NodeRecord, PodRecord } from './objects';

/** One (gang, fencing token) present in the cluster. */
export interface GangEntry {
  gangId: string;
  jobId: string;
  token: number;
  /** Members of the whole gang (from the gang-size annotation; at least the members seen). */
  size: number;
  onClusterLost: MemberMeta['onClusterLost'];
  /** The fence terms its pods recorded at creation (empty for pods of older agents). */
  recordedTerms: { selfFenceTimeoutMs?: number; deleteGraceSeconds?: number };
  members: Map<string, PodRecord>;
  /** Members with spec.nodeName set. */
  bound: number;
  /** Members charged to a node: bound, or pinned to one node by required node affinity. */
  charged: number;
  /** Every member has been seen bound at once (sticky). */
  fullyBound: boolean;
  /** Every member has been seen charged to a node at once: the capacity accounts for the gang. */
  reflected: boolean;
}

export interface CapacityDeltaView {
  upsertedNodes: NodeState[];
  removedNodes: string[];
  reflectedDispatches: GangRef[];
  /** The whole current set, like reflectedDispatches. */
  deviceClasses: DeviceClass[];
}

export interface CapacitySnapshotView {
  nodes: NodeState[];
  reflectedDispatches: GangRef[];
  heldGangs: GangRef[];
  deviceClasses: DeviceClass[];
}

function sameList(a: ResourceList, b: ResourceList): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => quantityOf(a, k) === quantityOf(b, k));
}

function sameNode(a: NodeRecord, b: NodeRecord): boolean {
  return (
    a.unschedulable === b.unschedulable &&
    a.ready === b.ready &&
    sameList(a.allocatable, b.allocatable) &&
    JSON.stringify(a.taints) === JSON.stringify(b.taints) &&
    JSON.stringify(Object.entries(a.labels).sort()) ===
      JSON.stringify(Object.entries(b.labels).sort())
  );
}

/** The node a pod's requests are charged to: where it is bound, else where it is pinned. */
function chargedNode(p: PodRecord): string {
  return p.nodeName || p.pinnedNode;
}

function memberPhase(p: PodRecord): MemberPhase {
  switch (p.phase) {
    case 'Running':
      return MemberPhase.MEMBER_PHASE_RUNNING;
    case 'Succeeded':
      return MemberPhase.MEMBER_PHASE_SUCCEEDED;
    case 'Failed':
      return MemberPhase.MEMBER_PHASE_FAILED;
    default:
      return MemberPhase.MEMBER_PHASE_PENDING;
  }
}

/** The member state a pod record stands for (undefined for non-member pods). */
export function memberStateOf(p: PodRecord): MemberState | undefined {
  if (!p.member) return undefined;
  return {
    gangId: p.member.gangId,
    fencingToken: p.member.token,
    podSet: p.member.podSet,
    index: p.member.index,
    phase: memberPhase(p),
    reason: p.reason,
    exitCode: p.exitCode,
    nodeName: p.nodeName,
    podName: p.name,
  };
}

function stateFingerprint(s: MemberState): string {
  return `${s.phase}|${s.reason}|${s.exitCode}|${s.nodeName}`;
}

export class ClusterModel {
  private readonly nodes = new Map<string, NodeRecord>();
  /** DRA devices, counter sets, allocations and DeviceClasses; a node whose devices change is re-sent. */
  readonly devices = new DeviceInventory((node) => {
    if (this.nodes.has(node)) this.dirtyNodes.add(node);
  });
  private readonly pods = new Map<string, PodRecord>();
  /** Node name → Σ requests of the non-terminal pods charged to it (mutable sums). */
  private readonly used = new Map<string, Map<string, bigint>>();
  private readonly gangs = new Map<string, GangEntry>();
  /** Gang id → tokens present. */
  private readonly tokens = new Map<string, Set<number>>();

  private readonly dirtyNodes = new Set<string>();
  private readonly removedNodes = new Set<string>();
  /** The set of reflected gangs changed since the last report. */
  private reflectedChanged = false;
  /** Member state changes since the last take, by pod key (latest wins). */
  private readonly memberChanges = new Map<string, MemberState>();
  private readonly lastMemberState = new Map<string, string>();
  /** Why the agent itself deleted a pod, reported as the LOST reason. */
  private readonly deletionReasons = new Map<string, string>();
  /** LOST states, kept for a while and resent on every new stream (a stream may die unread). */
  private readonly lost = new Map<string, { state: MemberState; at: number }>();

  // ---- nodes ----

  upsertNode(node: NodeRecord): void {
    const old = this.nodes.get(node.name);
    this.nodes.set(node.name, node);
    this.removedNodes.delete(node.name);
    if (!old || !sameNode(old, node)) this.dirtyNodes.add(node.name);
  }

  removeNode(name: string): void {
    if (!this.nodes.delete(name)) return;
    this.dirtyNodes.delete(name);
    this.removedNodes.add(name);
  }

  node(name: string): NodeRecord | undefined {
    return this.nodes.get(name);
  }

  nodeNames(): string[] {
    return [...this.nodes.keys()].sort();
  }

  /** Allocatable minus the requests of non-terminal pods charged to the node, never below zero. */
  free(name: string): ResourceList {
    const node = this.nodes.get(name);
    if (!node) return {};
    const used = this.used.get(name);
    const out: Record<string, bigint> = {};
    for (const [r, amount] of Object.entries(node.allocatable)) {
      const left = amount - (used?.get(r) ?? 0n);
      out[r] = left > 0n ? left : 0n;
    }
    return out;
  }

  nodeState(name: string): NodeState | undefined {
    const node = this.nodes.get(name);
    if (!node) return undefined;
    const fmt = (list: ResourceList) => ({
      quantities: Object.fromEntries(
        Object.keys(list)
          .sort()
          .map((r) => [r, formatQuantity(quantityOf(list, r), r)]),
      ),
    });
    return {
      name: node.name,
      labels: { ...node.labels },
      taints: node.taints.map((t) => ({ ...t })),
      allocatable: fmt(node.allocatable),
      free: fmt(this.free(name)),
      unschedulable: node.unschedulable,
      ready: node.ready,
      devices: this.devices.devicesOf(name),
      counterSets: this.devices.counterSetsOf(name),
    };
  }

  // ---- pods ----

  upsertPod(pod: PodRecord): void {
    this.lost.delete(pod.key);
    const old = this.pods.get(pod.key);
    if (old) this.detach(old);
    this.pods.set(pod.key, pod);
    this.attach(pod);
    const state = memberStateOf(pod);
    if (state) {
      const fp = stateFingerprint(state);
      if (this.lastMemberState.get(pod.key) !== fp) {
        this.lastMemberState.set(pod.key, fp);
        this.memberChanges.set(pod.key, state);
      }
    } else if (old?.member) {
      this.lastMemberState.delete(pod.key);
    }
  }

  /** Forgets a pod; a member that had not ended is reported LOST. Returns the record. */
  removePod(key: string, now = performance.now()): PodRecord | undefined {
    const old = this.pods.get(key);
    if (!old) return undefined;
    this.detach(old);
    this.pods.delete(key);
    this.lastMemberState.delete(key);
    const reason = this.deletionReasons.get(key);
    this.deletionReasons.delete(key);
    const state = memberStateOf(old);
    if (state && !old.terminal) {
      const lost = {
        ...state,
        phase: MemberPhase.MEMBER_PHASE_LOST,
        reason: reason ?? (old.disruption || 'Deleted'),
      };
      this.memberChanges.set(key, lost);
      this.lost.set(key, { state: lost, at: now });
    }
    return old;
  }

  pod(key: string): PodRecord | undefined {
    return this.pods.get(key);
  }

  podCount(): number {
    return this.pods.size;
  }

  /** Remembers why the agent deletes a pod, for the LOST member state. */
  noteDeletion(key: string, reason: string): void {
    if (this.pods.has(key) && !this.deletionReasons.has(key)) this.deletionReasons.set(key, reason);
  }

  private attach(pod: PodRecord): void {
    const node = chargedNode(pod);
    if (node && !pod.terminal) this.addUse(node, pod.requests, 1n);
    const m = pod.member;
    if (!m) return;
    const key = gangRefKey(m.gangId, m.token);
    let g = this.gangs.get(key);
    if (!g) {
      g = {
        gangId: m.gangId,
        jobId: m.jobId,
        token: m.token,
        size: 0,
        onClusterLost: m.onClusterLost,
        recordedTerms: {},
        members: new Map(),
        bound: 0,
        charged: 0,
        fullyBound: false,
        reflected: false,
      };
      this.gangs.set(key, g);
      let set = this.tokens.get(m.gangId);
      if (!set) this.tokens.set(m.gangId, (set = new Set()));
      set.add(m.token);
    }
    g.members.set(pod.key, pod);
    if (pod.nodeName) g.bound++;
    if (node) g.charged++;
    g.size = Math.max(g.size, m.gangSize, g.members.size);
    g.onClusterLost = m.onClusterLost;
    if (m.selfFenceTimeoutMs !== undefined)
      g.recordedTerms.selfFenceTimeoutMs = m.selfFenceTimeoutMs;
    if (m.fenceDeleteGraceSeconds !== undefined)
      g.recordedTerms.deleteGraceSeconds = m.fenceDeleteGraceSeconds;
    if (!g.fullyBound && g.bound >= g.size) g.fullyBound = true;
    if (!g.reflected && g.charged >= g.size) {
      g.reflected = true;
      this.reflectedChanged = true;
    }
  }

  private detach(pod: PodRecord): void {
    const node = chargedNode(pod);
    if (node && !pod.terminal) this.addUse(node, pod.requests, -1n);
    const m = pod.member;
    if (!m) return;
    const key = gangRefKey(m.gangId, m.token);
    const g = this.gangs.get(key);
    if (!g || !g.members.delete(pod.key)) return;
    if (pod.nodeName) g.bound--;
    if (node) g.charged--;
    if (g.members.size === 0) {
      this.gangs.delete(key);
      if (g.reflected) this.reflectedChanged = true;
      const set = this.tokens.get(m.gangId);
      set?.delete(m.token);
      if (set?.size === 0) this.tokens.delete(m.gangId);
    }
  }

  private addUse(nodeName: string, requests: ResourceList, sign: bigint): void {
    let sums = this.used.get(nodeName);
    if (!sums) this.used.set(nodeName, (sums = new Map()));
    for (const [r, v] of Object.entries(requests)) {
      const next = (sums.get(r) ?? 0n) + sign * v;
      if (next === 0n) sums.delete(r);
      else sums.set(r, next);
    }
    if (sums.size === 0) this.used.delete(nodeName);
    if (this.nodes.has(nodeName)) this.dirtyNodes.add(nodeName);
  }

  // ---- gangs ----

  gang(gangId: string, token: number): GangEntry | undefined {
    return this.gangs.get(gangRefKey(gangId, token));
  }

  /** Tokens of the gang present in the cluster, ascending. */
  tokensOf(gangId: string): number[] {
    return [...(this.tokens.get(gangId) ?? [])].sort((a, b) => a - b);
  }

  gangEntries(): GangEntry[] {
    return [...this.gangs.values()];
  }

  /** Gangs with at least one member not being deleted. */
  heldGangs(): GangRef[] {
    return this.sortedRefs(
      [...this.gangs.values()].filter((g) => [...g.members.values()].some((p) => !p.deleting)),
    );
  }

  reflectedGangs(): GangRef[] {
    return this.sortedRefs([...this.gangs.values()].filter((g) => g.reflected));
  }

  private sortedRefs(gangs: GangEntry[]): GangRef[] {
    return gangs
      .map((g) => ({ gangId: g.gangId, fencingToken: g.token }))
      .sort((a, b) => a.gangId.localeCompare(b.gangId) || a.fencingToken - b.fencingToken);
  }

  // ---- reports ----

  /** The full view; resets the delta bookkeeping (the snapshot supersedes it). */
  takeSnapshot(): CapacitySnapshotView {
    this.dirtyNodes.clear();
    this.removedNodes.clear();
    this.reflectedChanged = false;
    this.devices.takeClassesChanged();
    return {
      nodes: this.nodeNames().map((n) => this.nodeState(n)!),
      reflectedDispatches: this.reflectedGangs(),
      heldGangs: this.heldGangs(),
      deviceClasses: this.devices.deviceClasses(),
    };
  }

  /**
   * Changes since the previous snapshot or delta, or undefined when nothing changed. Nodes are
   * incremental; `reflectedDispatches` is the full current set (like the snapshot's), so a hub can
   * replace its set with every report.
   */
  takeDelta(): CapacityDeltaView | undefined {
    const classesChanged = this.devices.takeClassesChanged();
    if (
      this.dirtyNodes.size === 0 &&
      this.removedNodes.size === 0 &&
      !this.reflectedChanged &&
      !classesChanged
    ) {
      return undefined;
    }
    const delta: CapacityDeltaView = {
      upsertedNodes: [...this.dirtyNodes].sort().map((n) => this.nodeState(n)!),
      removedNodes: [...this.removedNodes].sort(),
      reflectedDispatches: this.reflectedGangs(),
      deviceClasses: this.devices.deviceClasses(),
    };
    this.dirtyNodes.clear();
    this.removedNodes.clear();
    this.reflectedChanged = false;
    return delta;
  }

  hasMemberChanges(): boolean {
    return this.memberChanges.size > 0;
  }

  /** Member states that changed since the last take (LOST ones included). */
  takeMemberChanges(): MemberState[] {
    const out = [...this.memberChanges.values()];
    this.memberChanges.clear();
    return out;
  }

  /**
   * Every member's current state, the LOST states of the retention window, and the pending change
   * of every member whose pod has gone since (the only record left of how it ended: a member that
   * succeeds and is deleted between two report ticks); used on every new stream so the hub starts
   * from the full picture. One state per pod, the latest. Clears the pending changes.
   */
  takeAllMemberStates(): MemberState[] {
    const byPod = new Map<string, MemberState>();
    for (const [key, l] of this.lost) byPod.set(key, l.state);
    for (const [key, state] of this.memberChanges) byPod.set(key, state);
    this.memberChanges.clear();
    for (const g of this.gangs.values()) {
      for (const p of g.members.values()) byPod.set(p.key, memberStateOf(p)!);
    }
    return [...byPod.values()];
  }

  /** Forgets LOST states older than `retentionMs`. */
  pruneLost(retentionMs: number, now = performance.now()): void {
    for (const [key, l] of this.lost) if (now - l.at > retentionMs) this.lost.delete(key);
  }
}

/** The scheduler's own FitError shape, e.g. "0/4 nodes are available: 4 Too many pods.". */
const FIT_ERROR = /^\d+\/\d+ nodes are available/;

/**
 * Why the worker's scheduler left members unbound, from their PodScheduled conditions: the most
 * common message among unbound members marked False, preferring the scheduler's FitError (which
 * names the resources) over a gang plugin's "waiting for minCount" of the members that did fit.
 */
export function schedulerReason(g: GangEntry | undefined): string {
  const counts = new Map<string, number>();
  let unbound = 0;
  for (const p of g?.members.values() ?? []) {
    if (p.nodeName || p.terminal) continue;
    unbound++;
    const c = p.scheduled;
    if (!c || c.status !== 'False') continue;
    const text = c.message || c.reason;
    if (text) counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  const ranked = [...counts.entries()].sort(
    (a, b) => Number(FIT_ERROR.test(b[0])) - Number(FIT_ERROR.test(a[0])) || b[1] - a[1],
  );
  if (ranked.length > 0) return ranked[0]![0];
  return unbound === 0
    ? 'no member left unbound'
    : `no reason given (${unbound} unbound member(s) without a PodScheduled=False condition)`;
}
