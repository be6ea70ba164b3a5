/**
 * One batch's view of DRA devices (see ./devices for the idea): the shape resources added to
 * the snapshot and to the gangs, the devices each placement takes, and explanations in device
 * terms. Internal to the placement engine.
 */
import {
  attributeDomainLabel,
  attributeOf,
  attributeValueText,
  claimsKey,
  DeviceClaim,
  DeviceClass,
  deviceKey,
  deviceShortfall,
  NodeDevices,
  shapeResource,
} from './devices';
import { ClusterSnapshot, Gang, NodeSnapshot, PodSet } from './model';

/** Most members of one shape counted on one node. */
const MAX_MEMBERS_PER_NODE = 64;

interface Shape {
  readonly resource: string;
  readonly claims: readonly DeviceClaim[];
}

/** The devices one placement took: per node, device keys (driver/pool/name). */
export interface NodeDeviceList {
  readonly node: string;
  readonly devices: readonly string[];
}

/**
 * Each node's free and allocatable amount of every shape it was asked about, by classes and
 * shape: a queue that brings a new kind of claim costs each node that one shape, not all again.
 */
const shapeAmounts = new WeakMap<
  NodeSnapshot,
  Map<string, { free: bigint; allocatable: bigint }>
>();

/** Each gang's view with shape requests, once per gang object (gangs never change once offered). */
const gangViews = new WeakMap<Gang, Gang>();
/** Each node's view with shape amounts, for the batch's shapes and its cluster's classes. */
const nodeViews = new WeakMap<NodeSnapshot, { key: string; node: NodeSnapshot }>();

function hasClaims(ps: PodSet): boolean {
  return Array.isArray(ps?.claims) && ps.claims.length > 0 && ps.count > 0;
}

/** Whether any gang of the batch claims devices. */
export function claimsDevices(gangs: readonly Gang[]): boolean {
  return gangs.some((g) => Array.isArray(g?.podSets) && g.podSets.some(hasClaims));
}

/** A gang with a shape resource (one per member) added to each pod set that claims devices. */
export function withShapes(gang: Gang): Gang {
  if (!Array.isArray(gang?.podSets) || !gang.podSets.some(hasClaims)) return gang;
  let view = gangViews.get(gang);
  if (!view) {
    view = {
      ...gang,
      podSets: gang.podSets.map((ps) =>
        hasClaims(ps)
          ? {
              ...ps,
              requests: { ...ps.requests, [shapeResource(claimsKey(ps.claims!))]: 1000n },
            }
          : ps,
      ),
    };
    gangViews.set(gang, view);
  }
  return view;
}

export class DeviceLayer {
  private readonly shapes: Shape[];
  private readonly shapesKey: string;
  private readonly classes = new Map<string, ReadonlyMap<string, DeviceClass>>();
  private readonly classKeys = new Map<string, string>();
  /** Node devices as this batch changed them, by cluster and node name (made on first use). */
  private readonly live = new Map<string, Map<string, NodeDevices>>();
  private readonly sources = new Map<string, Map<string, NodeSnapshot>>();
  private readonly shortfalls = new Map<string, string>();
  /** The attributes some gang's devices must share a value of (Gang.matchDeviceAttribute). */
  private readonly attributes: string[];
  /** By cluster and attribute: each value all of some node's devices share → its nodes. */
  private readonly domainValues = new Map<string, Map<string, Map<string, number>>>();

  constructor(gangs: readonly Gang[]) {
    const byKey = new Map<string, Shape>();
    const attributes = new Set<string>();
    for (const g of gangs) {
      if (!Array.isArray(g?.podSets)) continue;
      if (typeof g.matchDeviceAttribute === 'string') attributes.add(g.matchDeviceAttribute);
      for (const ps of g.podSets) {
        if (!hasClaims(ps)) continue;
        const key = claimsKey(ps.claims!);
        if (!byKey.has(key)) byKey.set(key, { resource: shapeResource(key), claims: ps.claims! });
      }
    }
    this.shapes = [...byKey.values()].sort((a, b) => (a.resource < b.resource ? -1 : 1));
    this.attributes = [...attributes].sort();
    this.shapesKey = [...this.shapes.map((s) => s.resource), ...this.attributes].join(',');
  }

  /**
   * The values of `attribute` that all of some node's devices share in `cluster`, each with its
   * number of nodes, most nodes first (then by value).
   */
  domains(cluster: string, attribute: string): string[] {
    const m = this.domainValues.get(cluster)?.get(attribute);
    if (!m) return [];
    return [...m]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([v]) => v);
  }

  /** The node's labels with, per attribute of the batch, the one value its devices share. */
  private labelled(n: NodeSnapshot): NodeSnapshot['labels'] {
    if (this.attributes.length === 0) return n.labels;
    let labels: Record<string, string> | undefined;
    for (const a of this.attributes) {
      let value: string | undefined;
      let mixed = false;
      for (const d of n.devices ?? []) {
        const v = attributeOf(d, a);
        if (v === undefined) continue;
        const text = attributeValueText(v);
        if (value === undefined) value = text;
        else if (value !== text) mixed = true;
      }
      if (value === undefined || mixed) continue;
      labels ??= { ...n.labels };
      labels[attributeDomainLabel(a)] = value;
    }
    return labels ?? n.labels;
  }

  /** Counts the node view's domain labels (see {@link domains}). */
  private countDomains(cluster: string, view: NodeSnapshot): void {
    for (const a of this.attributes) {
      const value = view.labels?.[attributeDomainLabel(a)];
      if (value === undefined) continue;
      let byAttr = this.domainValues.get(cluster);
      if (!byAttr) this.domainValues.set(cluster, (byAttr = new Map()));
      let counts = byAttr.get(a);
      if (!counts) byAttr.set(a, (counts = new Map()));
      counts.set(value, (counts.get(value) ?? 0) + 1);
    }
  }

  /** The cluster with each device node's free and allocatable amount of every shape. */
  cluster(c: ClusterSnapshot): ClusterSnapshot {
    if (!c || !Array.isArray(c.nodes) || typeof c.name !== 'string') return c;
    const classes = new Map((c.deviceClasses ?? []).map((k) => [k.name, k] as const));
    this.classes.set(c.name, classes);
    const classKey = JSON.stringify(c.deviceClasses ?? []);
    this.classKeys.set(c.name, classKey);
    const key = `${this.shapesKey}\n${classKey}`;
    const sources = new Map<string, NodeSnapshot>();
    this.sources.set(c.name, sources);
    let changed = false;
    const nodes = c.nodes.map((n) => {
      if (!n || !Array.isArray(n.devices) || n.devices.length === 0) return n;
      sources.set(n.name, n);
      const hit = nodeViews.get(n);
      if (hit?.key === key) {
        changed = true;
        this.countDomains(c.name, hit.node);
        return hit.node;
      }
      let known = shapeAmounts.get(n);
      if (!known) shapeAmounts.set(n, (known = new Map()));
      let live: NodeDevices | undefined;
      let whole: NodeDevices | undefined;
      const free: Record<string, bigint> = { ...n.free };
      const allocatable: Record<string, bigint> = { ...n.allocatable };
      for (const s of this.shapes) {
        const sk = `${classKey}\n${s.resource}`;
        let amounts = known.get(sk);
        if (!amounts) {
          if (!live) {
            live = new NodeDevices(n.devices, n.counterSets ?? [], classes);
            whole = live.asWhole(n.counterSets ?? []);
            this.liveOf(c.name).set(n.name, live);
          }
          amounts = {
            free: BigInt(live.capacity(s.claims, MAX_MEMBERS_PER_NODE)) * 1000n,
            allocatable: BigInt(whole!.capacity(s.claims, MAX_MEMBERS_PER_NODE)) * 1000n,
          };
          known.set(sk, amounts);
        }
        free[s.resource] = amounts.free;
        allocatable[s.resource] = amounts.allocatable;
      }
      const node: NodeSnapshot = { ...n, labels: this.labelled(n), free, allocatable };
      nodeViews.set(n, { key, node });
      this.countDomains(c.name, node);
      changed = true;
      return node;
    });
    return changed ? { ...c, nodes } : c;
  }

  private liveOf(cluster: string): Map<string, NodeDevices> {
    let m = this.live.get(cluster);
    if (!m) this.live.set(cluster, (m = new Map()));
    return m;
  }

  private nodeDevices(cluster: string, node: string): NodeDevices | undefined {
    const m = this.liveOf(cluster);
    let nd = m.get(node);
    if (!nd) {
      const src = this.sources.get(cluster)?.get(node);
      if (!src?.devices) return undefined;
      nd = new NodeDevices(
        src.devices,
        src.counterSets ?? [],
        this.classes.get(cluster) ?? new Map(),
      );
      m.set(node, nd);
    }
    return nd;
  }

  /**
   * Takes the devices of every member of a placed gang on its nodes. On success, the devices
   * per node and each touched node's new free amount of every shape; on failure (the pod sets'
   * claims compete for the same devices of a node) nothing is taken.
   */
  take(
    cluster: string,
    gang: Gang,
    podSets: ReadonlyArray<{ readonly podSet: string; readonly nodes: readonly string[] }>,
  ):
    | {
        ok: true;
        devices: NodeDeviceList[];
        free: Array<{ node: string; amounts: Record<string, bigint> }>;
      }
    | { ok: false; message: string; node: string; resource: string } {
    const taken: Array<{ nd: NodeDevices; positions: number[] }> = [];
    const perNode = new Map<string, string[]>();
    const undo = () => {
      for (const t of taken) t.nd.free(t.positions);
    };
    for (const psp of podSets) {
      const ps = gang.podSets.find((p) => p.name === psp.podSet);
      if (!ps || !hasClaims(ps)) continue;
      for (const node of psp.nodes) {
        const nd = this.nodeDevices(cluster, node);
        const got = nd?.allocate(ps.claims!);
        if (!nd || !got) {
          undo();
          return {
            ok: false,
            message: `the members' device claims compete for the same devices on node ${node}`,
            node,
            resource: shapeResource(claimsKey(ps.claims!)),
          };
        }
        taken.push({ nd, positions: got });
        const list = perNode.get(node) ?? [];
        for (const i of got) list.push(deviceKey(nd.devices[i]!));
        perNode.set(node, list);
      }
    }
    const free = [...perNode.keys()].map((node) => ({
      node,
      amounts: this.amounts(cluster, node),
    }));
    return {
      ok: true,
      devices: [...perNode].map(([node, devices]) => ({ node, devices: devices.sort() })),
      free,
    };
  }

  /** How many members of each shape a node's devices serve now (as this batch left them). */
  amounts(cluster: string, node: string): Record<string, bigint> {
    const nd = this.nodeDevices(cluster, node);
    const amounts: Record<string, bigint> = {};
    for (const s of this.shapes)
      amounts[s.resource] = nd ? BigInt(nd.capacity(s.claims, MAX_MEMBERS_PER_NODE)) * 1000n : 0n;
    return amounts;
  }

  /** Why the first pod set with claims finds no devices in the cluster, in device terms. */
  explain(cluster: string, gang: Gang): string | undefined {
    const ps = gang.podSets.find(hasClaims);
    if (!ps) return undefined;
    const key = `${cluster}\n${claimsKey(ps.claims!)}`;
    let text = this.shortfalls.get(key);
    if (text === undefined) {
      const nodes = [...(this.sources.get(cluster)?.keys() ?? [])]
        .map((n) => this.nodeDevices(cluster, n))
        .filter((nd): nd is NodeDevices => nd !== undefined);
      text =
        nodes.length === 0
          ? `no node publishes DRA devices (pod set ${ps.name} claims ${ps.claims!.map((c) => c.name).join(', ')})`
          : `pod set ${ps.name}: ${deviceShortfall(nodes, ps.claims!)}`;
      this.shortfalls.set(key, text);
    }
    return text;
  }
}
