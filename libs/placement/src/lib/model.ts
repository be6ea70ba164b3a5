/**
 * The placement model: what Muster knows about each worker cluster (a {@link ClusterSnapshot})
 * and what a batch job needs (a {@link Gang}). Plain data, no behaviour: snapshots come from
 * cluster agents, gangs from the job API, and both must be cheap to serialise and compare.
 */
import {
  attributeNameProblem,
  claimsProblem,
  CounterSet,
  Device,
  DeviceClaim,
  DeviceClass,
} from './devices';
import { isValidResourceName, parseResourceList, QuantityMap, ResourceList } from './resources';
import { err, ok, Result } from './result';

/** Kubernetes taint effects. Only `NoSchedule` and `NoExecute` keep pods off a node. */
export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

/** A node taint, as in `node.spec.taints`. */
export interface Taint {
  readonly key: string;
  /** Defaults to `""`. */
  readonly value?: string;
  readonly effect: TaintEffect;
}

/** Toleration operators. `Exists` ignores the value. */
export type TolerationOperator = 'Equal' | 'Exists';

/**
 * A pod toleration, with Kubernetes semantics: an empty `key` with `Exists` tolerates every
 * taint; an empty `effect` matches every effect; `operator` defaults to `Equal`.
 */
export interface Toleration {
  /** Empty or missing matches every key (use with `operator: 'Exists'`). */
  readonly key?: string;
  /** Default `'Equal'`. */
  readonly operator?: TolerationOperator;
  /** Compared with the taint value for `Equal`; default `""`. */
  readonly value?: string;
  /** Missing matches every effect. */
  readonly effect?: TaintEffect;
}

/** Operators of a node selector requirement, as in core/v1 `NodeSelectorRequirement`. */
export type NodeSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

/** One requirement of a node selector term, with Kubernetes semantics. */
export interface NodeSelectorRequirement {
  /** A label key (matchExpressions) or `metadata.name` (matchFields). */
  readonly key: string;
  readonly operator: NodeSelectorOperator;
  /** One or more for In/NotIn, none for Exists/DoesNotExist, one integer for Gt/Lt. */
  readonly values?: readonly string[];
}

/** Requirements that must all hold (AND). An empty term matches no node, as in Kubernetes. */
export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  /** Only `metadata.name` with `In`/`NotIn`, as Kubernetes allows. */
  readonly matchFields?: readonly NodeSelectorRequirement[];
}

/**
 * `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution` of a pod: a node must
 * match at least one term (OR). Preferred terms only score, so placement ignores them.
 */
export interface RequiredNodeAffinity {
  readonly nodeSelectorTerms: readonly NodeSelectorTerm[];
}

/** One worker node as last reported by its cluster. */
export interface NodeSnapshot {
  /** Node name, unique within its cluster. */
  readonly name: string;
  /** Node labels; topology levels and node selectors are read from here. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Node allocatable (capacity minus system reservations). Used by the `spread` score. */
  readonly allocatable: ResourceList;
  /**
   * What can still be requested on the node: allocatable minus requests of pods already bound
   * (and of placements Muster has made but the cluster has not yet reported). Negative amounts
   * are treated as zero.
   */
  readonly free: ResourceList;
  /** Node taints. Default none. */
  readonly taints?: readonly Taint[];
  /** `spec.unschedulable` (cordoned node). Default `false`; such nodes are never used. */
  readonly unschedulable?: boolean;
  /** Node `Ready` condition. Default `true`; not-ready nodes are never used. */
  readonly ready?: boolean;
  /** DRA devices the node's ResourceSlices publish. Default none. */
  readonly devices?: readonly Device[];
  /** The shared counters of those devices' pools (partitionable devices). Default none. */
  readonly counterSets?: readonly CounterSet[];
}

/** What Muster knows about one worker cluster at decision time. */
export interface ClusterSnapshot {
  /** Cluster name, unique across the snapshot; also the final tie-breaker between clusters. */
  readonly name: string;
  /**
   * Node label keys describing the network topology, broadest first, e.g.
   * `["topology.kubernetes.io/zone", "cloud.provider.com/topology-block",
   *   "cloud.provider.com/topology-rack", "kubernetes.io/hostname"]`.
   * A node belongs to a domain of level i only if it carries the labels of levels 0..i; a node
   * missing a label is still usable, but not for constraints at or below that level.
   */
  readonly topologyLevels: readonly string[];
  readonly nodes: readonly NodeSnapshot[];
  /** Whether the cluster's agent reports it healthy. Default `true`; not-ready clusters are skipped. */
  readonly ready?: boolean;
  /** Operator cordon of the whole cluster. Default `false`; cordoned clusters are skipped. */
  readonly cordoned?: boolean;
  /** The cluster's DRA DeviceClasses; a claim naming a class the cluster lacks cannot go there. */
  readonly deviceClasses?: readonly DeviceClass[];
}

/**
 * Keep a pod set inside one topology domain.
 * - `required`: every member of the pod set lands in one domain of `level`, or the gang does not
 *   fit the cluster.
 * - `preferred`: one domain of `level` if possible, else one domain of the next broader level,
 *   and so on, finally anywhere in the cluster.
 */
export interface TopologyConstraint {
  readonly mode: 'required' | 'preferred';
  /** A node label key from {@link ClusterSnapshot.topologyLevels}. */
  readonly level: string;
}

/** A set of identical members of a gang (e.g. the `workers` of a training job). */
export interface PodSet {
  /** Unique within the gang. */
  readonly name: string;
  /** Number of members (pods); a non-negative integer. */
  readonly count: number;
  /**
   * Requests of ONE member, as the worker's scheduler counts them. Every real pod takes one pod
   * slot, so callers include `pods: 1000n` (one pod, in milli-units); Muster's job API always does.
   * A resource that no node reports at all cannot be met.
   */
  readonly requests: ResourceList;
  /** Every label must be present on the node with exactly this value. Default none. */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Required node affinity of the pod template. Default none. */
  readonly nodeAffinity?: RequiredNodeAffinity;
  /** Default none. */
  readonly tolerations?: readonly Toleration[];
  /** Optional topology constraint for this pod set alone. */
  readonly topology?: TopologyConstraint;
  /**
   * DRA claims every member makes (one claim per member from each ResourceClaimTemplate).
   * Allocated from the devices of the member's node. Default none.
   */
  readonly claims?: readonly DeviceClaim[];
}

/**
 * Pod sets that must share one domain of `level` (e.g. the leader next to its workers). Each
 * listed pod set may additionally have its own, narrower {@link TopologyConstraint}.
 */
export interface ColocationGroup {
  /** Names of pod sets of the same gang; at least one. */
  readonly podSets: readonly string[];
  /** A node label key from {@link ClusterSnapshot.topologyLevels}; always required. */
  readonly level: string;
}

/** All pods of one batch job; placed whole on exactly one cluster, or not at all. */
export interface Gang {
  /** Caller's identifier, echoed in the decision. */
  readonly id: string;
  /** At least one member in total. Placement order is explained in {@link placeBatch}. */
  readonly podSets: readonly PodSet[];
  readonly colocation?: ColocationGroup;
  /**
   * Clusters this gang must not go to, each with why (e.g. the worker's scheduler could not bind
   * it there). They are explained with code `ExcludedForGang` and the given text. Default none.
   */
  readonly excludedClusters?: Readonly<Record<string, string>>;
  /**
   * A fully qualified device attribute (`gpu.example.com/interconnect`) whose value every device
   * the members claim shares, across members and nodes (a multi-node NVLink domain, say). The
   * members that claim devices then go only to nodes whose devices all carry one value of it,
   * the same value for the whole gang. Needs a pod set with claims. Default none.
   */
  readonly matchDeviceAttribute?: string;
}

/** {@link PodSet} with raw quantity strings, as it arrives from a job spec. */
export type PodSetSpec = Omit<PodSet, 'requests'> & { readonly requests: QuantityMap };
/** {@link Gang} with raw quantity strings. */
export type GangSpec = Omit<Gang, 'podSets'> & { readonly podSets: readonly PodSetSpec[] };
/** {@link NodeSnapshot} with raw quantity strings. */
export type NodeSpec = Omit<NodeSnapshot, 'free' | 'allocatable'> & {
  readonly free: QuantityMap;
  readonly allocatable: QuantityMap;
};
/** {@link ClusterSnapshot} with raw quantity strings. */
export type ClusterSpec = Omit<ClusterSnapshot, 'nodes'> & { readonly nodes: readonly NodeSpec[] };

/** Largest member count accepted for one pod set; guards against absurd inputs. */
export const MAX_POD_SET_COUNT = 1_000_000;

/** Parses a gang spec with quantity strings into a validated {@link Gang}. */
export function parseGang(spec: GangSpec): Result<Gang> {
  if (!spec || typeof spec !== 'object' || !Array.isArray(spec.podSets)) {
    return err('InvalidGang', 'podSets', 'gang must have a podSets array');
  }
  const podSets: PodSet[] = [];
  for (let i = 0; i < spec.podSets.length; i++) {
    const ps = spec.podSets[i] as PodSetSpec;
    const requests = parseResourceList(ps?.requests ?? {}, `podSets[${i}].requests`);
    if (!requests.ok) return requests;
    podSets.push({ ...ps, requests: requests.value });
  }
  return validateGang({ ...spec, podSets });
}

/** Parses a cluster spec with quantity strings into a validated {@link ClusterSnapshot}. */
export function parseClusterSnapshot(spec: ClusterSpec): Result<ClusterSnapshot> {
  if (!spec || typeof spec !== 'object' || !Array.isArray(spec.nodes)) {
    return err('InvalidCluster', 'nodes', 'cluster must have a nodes array');
  }
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < spec.nodes.length; i++) {
    const n = spec.nodes[i] as NodeSpec;
    const free = parseResourceList(n?.free ?? {}, `nodes[${i}].free`);
    if (!free.ok) return free;
    const allocatable = parseResourceList(n?.allocatable ?? {}, `nodes[${i}].allocatable`);
    if (!allocatable.ok) return allocatable;
    nodes.push({ ...n, free: free.value, allocatable: allocatable.value });
  }
  const cluster: ClusterSnapshot = { ...spec, nodes };
  const problem = clusterProblem(cluster);
  return problem ? { ok: false, error: problem } : ok(cluster);
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.values(v as object).every((x) => typeof x === 'string')
  );
}

/**
 * Problem with a resource list, or `undefined`. `field` is only evaluated on failure and
 * `validNames` remembers names already checked: snapshots repeat the same few names on every node.
 */
function resourceListProblem(
  list: unknown,
  field: () => string,
  validNames: Set<string> = new Set(),
): string | undefined {
  if (list === null || typeof list !== 'object' || Array.isArray(list)) {
    return `${field()} must be a resource list`;
  }
  for (const name in list) {
    if (!Object.prototype.hasOwnProperty.call(list, name)) continue;
    if (!validNames.has(name)) {
      if (!isValidResourceName(name)) return `${field()}: "${name}" is not a valid resource name`;
      validNames.add(name);
    }
    if (typeof (list as Record<string, unknown>)[name] !== 'bigint') {
      return `${field()}[${JSON.stringify(name)}] must be a bigint amount in milli-units`;
    }
  }
  return undefined;
}

const EFFECTS = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']);
const INTEGER = /^-?\d{1,18}$/;

/** What is wrong with a required node affinity, with the path below it, or `undefined`. */
export function nodeAffinityProblem(
  affinity: RequiredNodeAffinity,
): { field: string; message: string } | undefined {
  if (!affinity || typeof affinity !== 'object' || !Array.isArray(affinity.nodeSelectorTerms)) {
    return { field: '.nodeSelectorTerms', message: 'node affinity needs a list of terms' };
  }
  for (let t = 0; t < affinity.nodeSelectorTerms.length; t++) {
    const term = affinity.nodeSelectorTerms[t] as NodeSelectorTerm;
    const tf = `.nodeSelectorTerms[${t}]`;
    if (!term || typeof term !== 'object')
      return { field: tf, message: 'a term must be an object' };
    for (const list of ['matchExpressions', 'matchFields'] as const) {
      const reqs = term[list];
      if (reqs === undefined) continue;
      if (!Array.isArray(reqs))
        return { field: `${tf}.${list}`, message: `${list} must be a list` };
      for (let i = 0; i < reqs.length; i++) {
        const r = reqs[i] as NodeSelectorRequirement;
        const rf = `${tf}.${list}[${i}]`;
        if (!r || typeof r.key !== 'string' || r.key === '') {
          return { field: `${rf}.key`, message: 'a requirement needs a key' };
        }
        if (!OPERATORS.has(r.operator)) {
          return { field: `${rf}.operator`, message: `unknown operator ${String(r.operator)}` };
        }
        const values = r.values ?? [];
        if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
          return { field: `${rf}.values`, message: 'values must be strings' };
        }
        const op = r.operator;
        if ((op === 'In' || op === 'NotIn') && values.length === 0) {
          return { field: `${rf}.values`, message: `${op} needs at least one value` };
        }
        if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
          return { field: `${rf}.values`, message: `${op} takes no values` };
        }
        if ((op === 'Gt' || op === 'Lt') && (values.length !== 1 || !INTEGER.test(values[0]!))) {
          return { field: `${rf}.values`, message: `${op} needs exactly one integer value` };
        }
        if (
          list === 'matchFields' &&
          (r.key !== 'metadata.name' || (op !== 'In' && op !== 'NotIn'))
        ) {
          return { field: rf, message: 'matchFields supports only metadata.name with In or NotIn' };
        }
      }
    }
  }
  return undefined;
}

/**
 * Structural checks on a gang: non-empty unique pod set names, integer counts, non-negative bigint
 * requests, known colocation members, well-formed tolerations. Placement runs this on every gang
 * and reports failures as `invalid` decisions.
 */
export function validateGang(gang: Gang): Result<Gang> {
  if (!gang || typeof gang !== 'object') return err('InvalidGang', '', 'gang must be an object');
  if (typeof gang.id !== 'string') return err('InvalidGang', 'id', 'gang id must be a string');
  if (!Array.isArray(gang.podSets) || gang.podSets.length === 0) {
    return err('InvalidGang', 'podSets', `gang ${gang.id} has no pod sets`);
  }
  const names = new Set<string>();
  let members = 0;
  for (let i = 0; i < gang.podSets.length; i++) {
    const ps = gang.podSets[i] as PodSet;
    const f = `podSets[${i}]`;
    if (!ps || typeof ps.name !== 'string' || ps.name === '') {
      return err('InvalidGang', `${f}.name`, `${f} needs a non-empty name`);
    }
    if (names.has(ps.name)) {
      return err('InvalidGang', `${f}.name`, `pod set name ${ps.name} is used twice`);
    }
    names.add(ps.name);
    if (!Number.isSafeInteger(ps.count) || ps.count < 0 || ps.count > MAX_POD_SET_COUNT) {
      return err(
        'InvalidGang',
        `${f}.count`,
        `pod set ${ps.name}: count must be an integer between 0 and ${MAX_POD_SET_COUNT}`,
      );
    }
    members += ps.count;
    const rp = resourceListProblem(ps.requests, () => `${f}.requests`);
    if (rp) return err('InvalidGang', `${f}.requests`, rp);
    for (const [name, amount] of Object.entries(ps.requests)) {
      if (amount < 0n) {
        return err(
          'NegativeQuantity',
          `${f}.requests[${JSON.stringify(name)}]`,
          `pod set ${ps.name} requests a negative amount of ${name}`,
        );
      }
    }
    if (ps.nodeSelector !== undefined && !isStringRecord(ps.nodeSelector)) {
      return err('InvalidGang', `${f}.nodeSelector`, `pod set ${ps.name}: bad node selector`);
    }
    if (ps.nodeAffinity !== undefined) {
      const problem = nodeAffinityProblem(ps.nodeAffinity);
      if (problem) {
        return err(
          'InvalidGang',
          `${f}.nodeAffinity${problem.field}`,
          `pod set ${ps.name}: ${problem.message}`,
        );
      }
    }
    if (ps.tolerations !== undefined) {
      if (!Array.isArray(ps.tolerations)) {
        return err('InvalidGang', `${f}.tolerations`, `pod set ${ps.name}: bad tolerations`);
      }
      for (let t = 0; t < ps.tolerations.length; t++) {
        const tol = ps.tolerations[t] as Toleration;
        const op = tol?.operator ?? 'Equal';
        if (!tol || (op !== 'Equal' && op !== 'Exists')) {
          return err('InvalidGang', `${f}.tolerations[${t}]`, `pod set ${ps.name}: bad toleration`);
        }
        if (tol.effect !== undefined && !EFFECTS.has(tol.effect)) {
          return err(
            'InvalidGang',
            `${f}.tolerations[${t}].effect`,
            `pod set ${ps.name}: unknown toleration effect ${String(tol.effect)}`,
          );
        }
      }
    }
    if (ps.claims !== undefined) {
      const problem = claimsProblem(ps.claims);
      if (problem)
        return err(
          'InvalidGang',
          `${f}.claims${problem.field}`,
          `pod set ${ps.name}: ${problem.message}`,
        );
    }
    if (ps.topology !== undefined) {
      const t = ps.topology;
      if (!t || (t.mode !== 'required' && t.mode !== 'preferred') || !t.level) {
        return err(
          'InvalidGang',
          `${f}.topology`,
          `pod set ${ps.name}: topology needs mode required|preferred and a level`,
        );
      }
    }
  }
  if (members === 0) return err('InvalidGang', 'podSets', `gang ${gang.id} has no members`);
  if (gang.excludedClusters !== undefined && !isStringRecord(gang.excludedClusters)) {
    return err(
      'InvalidGang',
      'excludedClusters',
      'excludedClusters must map cluster names to reasons',
    );
  }
  if (gang.matchDeviceAttribute !== undefined) {
    const problem = attributeNameProblem(gang.matchDeviceAttribute);
    if (problem) return err('InvalidGang', 'matchDeviceAttribute', problem);
    if (!gang.podSets.some((ps) => Array.isArray(ps.claims) && ps.claims.length > 0))
      return err(
        'InvalidGang',
        'matchDeviceAttribute',
        `gang ${gang.id}: matchDeviceAttribute needs a pod set that claims devices`,
      );
  }
  if (gang.colocation !== undefined) {
    const c = gang.colocation;
    if (!c || !Array.isArray(c.podSets) || c.podSets.length === 0 || !c.level) {
      return err('InvalidGang', 'colocation', 'colocation needs pod set names and a level');
    }
    const seen = new Set<string>();
    for (const name of c.podSets) {
      if (!names.has(name)) {
        return err('InvalidGang', 'colocation.podSets', `colocation names unknown pod set ${name}`);
      }
      if (seen.has(name)) {
        return err('InvalidGang', 'colocation.podSets', `colocation lists ${name} twice`);
      }
      seen.add(name);
    }
  }
  return ok(gang);
}

/**
 * Structural problem with a cluster snapshot, or `undefined`. Placement skips a cluster with a
 * problem and reports it in every explanation instead of failing the whole batch.
 */
export function clusterProblem(cluster: ClusterSnapshot):
  | {
      code: 'InvalidCluster';
      field: string;
      message: string;
    }
  | undefined {
  const bad = (field: string, message: string) => ({
    code: 'InvalidCluster' as const,
    field,
    message,
  });
  if (!cluster || typeof cluster !== 'object') return bad('', 'cluster must be an object');
  if (typeof cluster.name !== 'string' || cluster.name === '') {
    return bad('name', 'cluster needs a non-empty name');
  }
  if (!Array.isArray(cluster.topologyLevels)) {
    return bad('topologyLevels', 'topologyLevels must be an array');
  }
  const levels = new Set<string>();
  for (let i = 0; i < cluster.topologyLevels.length; i++) {
    const level = cluster.topologyLevels[i];
    if (typeof level !== 'string' || level === '' || levels.has(level)) {
      return bad(`topologyLevels[${i}]`, `topology level ${String(level)} is empty or repeated`);
    }
    levels.add(level);
  }
  if (!Array.isArray(cluster.nodes)) return bad('nodes', 'nodes must be an array');
  const names = new Set<string>();
  const resourceNames = new Set<string>();
  for (let i = 0; i < cluster.nodes.length; i++) {
    const n = cluster.nodes[i] as NodeSnapshot;
    const f = `nodes[${i}]`;
    if (!n || typeof n.name !== 'string' || n.name === '')
      return bad(`${f}.name`, `${f} needs a name`);
    if (names.has(n.name)) return bad(`${f}.name`, `node name ${n.name} is used twice`);
    names.add(n.name);
    const problem = nodeProblem(n, i, resourceNames);
    if (problem) return problem;
  }
  return undefined;
}

/** What is wrong with a node's `free` list, or `undefined`. */
export function freeProblem(n: NodeSnapshot, resourceNames?: Set<string>): string | undefined {
  return resourceListProblem(n.free, () => `node ${n.name} free`, resourceNames);
}

/**
 * What is wrong with node `n` at position `i` of a snapshot, apart from a name used twice (a
 * question about the whole list). `resourceNames` holds the names already found valid.
 */
export function nodeProblem(
  n: NodeSnapshot,
  i: number,
  resourceNames: Set<string> = new Set(),
): { code: 'InvalidCluster'; field: string; message: string } | undefined {
  const f = `nodes[${i}]`;
  const bad = (field: string, message: string) => ({
    code: 'InvalidCluster' as const,
    field: `${f}${field}`,
    message,
  });
  if (!n || typeof n.name !== 'string' || n.name === '') return bad('.name', `${f} needs a name`);
  const fp = freeProblem(n, resourceNames);
  if (fp) return bad('.free', fp);
  const ap = resourceListProblem(n.allocatable, () => `node ${n.name} allocatable`, resourceNames);
  if (ap) return bad('.allocatable', ap);
  if (n.labels !== undefined && !isStringRecord(n.labels))
    return bad('.labels', `node ${n.name} labels must be strings`);
  if (n.taints !== undefined) {
    if (!Array.isArray(n.taints)) return bad('.taints', `node ${n.name} taints must be an array`);
    for (const t of n.taints) {
      if (!t || typeof t.key !== 'string' || !EFFECTS.has(t.effect))
        return bad('.taints', `node ${n.name} has a malformed taint`);
    }
  }
  return undefined;
}
