// Topology: the small YAML description of a testbed (clusters, node pools, resources, topology labels)
// and the fake Node objects generated from it.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { type DeviceSpec, normalizeDevices } from './devices';
import { interconnectDomain } from './resource-slices';
import { asRecord, fail, optStringMap, positiveInt } from './topology-parse';

/** Label keys the testbed puts on every fake node. */
export const LABELS = {
  zone: 'topology.kubernetes.io/zone',
  region: 'topology.kubernetes.io/region',
  block: 'cloud.provider.com/topology-block',
  rack: 'cloud.provider.com/topology-rack',
  hostname: 'kubernetes.io/hostname',
  pool: 'testbed.muster.dev/pool',
  cluster: 'testbed.muster.dev/cluster',
} as const;

/** kwok manages nodes carrying this annotation (the in-process kwok controller selects on it). */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/** Pod annotations understood by the testbed's kwok stages (value: a Go duration such as "5s" or "0s"). */
export const POD_ANNOTATIONS = {
  /** A Running pod with this annotation becomes Succeeded (exit code 0) after the given delay. */
  succeedAfter: 'testbed.muster.dev/succeed-after',
  /** A Running pod with this annotation becomes Failed (exit code 1) after the given delay. */
  failAfter: 'testbed.muster.dev/fail-after',
} as const;

export type ClusterRole = 'management' | 'worker';

export interface TaintSpec {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface NodePoolSpec {
  /** Pool name; node names are `<pool>-<index>`. */
  name: string;
  /** Number of nodes. */
  count: number;
  /** Allocatable (= capacity) resources per node, e.g. { cpu: 32, memory: '256Gi', pods: 110, 'nvidia.com/gpu': 8 }. */
  resources: Record<string, string | number>;
  /** topology.kubernetes.io/zone value; default `<cluster>-zone-a`. */
  zone?: string;
  /** Nodes per rack (cloud.provider.com/topology-rack); default: all nodes in one rack. */
  nodesPerRack?: number;
  /** Racks per block (cloud.provider.com/topology-block); default: all racks in one block. */
  racksPerBlock?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  taints?: TaintSpec[];
  /** Simulated DRA devices per node, published as ResourceSlices (see src/devices.ts). */
  devices?: DeviceSpec;
}

export interface ClusterSpec {
  name: string;
  role: ClusterRole;
  /** topology.kubernetes.io/region for all nodes; default `<cluster>-region`. */
  region?: string;
  nodePools: NodePoolSpec[];
  /** Kubernetes feature gates for this cluster's components, e.g. { GenericWorkload: true }. */
  featureGates?: Record<string, boolean>;
  /** kube-apiserver --runtime-config entries, e.g. { 'scheduling.k8s.io/v1alpha2': true }. */
  runtimeConfig?: Record<string, boolean>;
  /**
   * The upstream Workload/PodGroup API (scheduling.k8s.io/v1alpha2) with the scheduler's gang
   * plugin: feature gates GenericWorkload and GangScheduling plus the v1alpha2 runtime config
   * (see WORKLOAD_API). Default true; false starts the cluster without them (explicit
   * featureGates / runtimeConfig entries still win either way).
   */
  workloadAPI?: boolean;
}

/** What `workloadAPI: true` (the default) adds to a cluster's components. */
export const WORKLOAD_API = {
  featureGates: { GenericWorkload: true, GangScheduling: true },
  runtimeConfig: { 'scheduling.k8s.io/v1alpha2': true },
} as const;

/**
 * What a cluster with partitionable devices (a pool with `devices.partitions`) adds: the gate for
 * ResourceSlice `sharedCounters` and devices' `consumesCounters`. Beta and on by default in 1.36;
 * set explicitly so such a cluster does not depend on the default.
 */
export const DRA_PARTITIONS = {
  featureGates: { DRAPartitionableDevices: true },
} as const;

/** The feature gates and runtime config a cluster's processes get (workloadAPI applied). */
export function effectiveGates(cluster: ClusterSpec): {
  featureGates: Record<string, boolean>;
  runtimeConfig: Record<string, boolean>;
} {
  const on = cluster.workloadAPI !== false;
  const partitions = cluster.nodePools.some((p) => p.devices?.partitions !== undefined);
  return {
    featureGates: {
      ...(on ? WORKLOAD_API.featureGates : {}),
      ...(partitions ? DRA_PARTITIONS.featureGates : {}),
      ...cluster.featureGates,
    },
    runtimeConfig: { ...(on ? WORKLOAD_API.runtimeConfig : {}), ...cluster.runtimeConfig },
  };
}

export interface TopologySpec {
  clusters: ClusterSpec[];
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Validates a parsed topology document (e.g. from YAML) and fills in defaults. */
export function normalizeTopology(doc: unknown): TopologySpec {
  const root = asRecord(doc, 'document');
  if (!Array.isArray(root.clusters) || root.clusters.length === 0)
    fail('clusters must be a non-empty list');
  const names = new Set<string>();
  const clusters = root.clusters.map((c: unknown, ci: number): ClusterSpec => {
    const cr = asRecord(c, `clusters[${ci}]`);
    const name = String(cr.name ?? '');
    if (!NAME_RE.test(name) || name.length > 40)
      fail(`clusters[${ci}].name ${JSON.stringify(name)} is not a DNS label`);
    if (names.has(name)) fail(`duplicate cluster name ${name}`);
    names.add(name);
    const role = (cr.role ?? (ci === 0 ? 'management' : 'worker')) as ClusterRole;
    if (role !== 'management' && role !== 'worker')
      fail(`clusters[${ci}].role must be management or worker`);
    const poolsRaw = cr.nodePools ?? [];
    if (!Array.isArray(poolsRaw)) fail(`clusters[${ci}].nodePools must be a list`);
    const poolNames = new Set<string>();
    const nodePools = poolsRaw.map((p: unknown, pi: number): NodePoolSpec => {
      const where = `clusters[${ci}].nodePools[${pi}]`;
      const pr = asRecord(p, where);
      const pname = String(pr.name ?? '');
      if (!NAME_RE.test(pname)) fail(`${where}.name ${JSON.stringify(pname)} is not a DNS label`);
      if (poolNames.has(pname)) fail(`duplicate pool ${pname} in cluster ${name}`);
      poolNames.add(pname);
      const resources = asRecord(pr.resources, `${where}.resources`);
      const res: Record<string, string | number> = {};
      for (const [k, v] of Object.entries(resources)) {
        if (typeof v !== 'string' && typeof v !== 'number')
          fail(`${where}.resources.${k} must be a quantity`);
        res[k] = v;
      }
      if (res.cpu === undefined || res.memory === undefined)
        fail(`${where}.resources needs cpu and memory`);
      const taints = pr.taints === undefined ? undefined : (pr.taints as TaintSpec[]);
      if (taints !== undefined && !Array.isArray(taints)) fail(`${where}.taints must be a list`);
      const pool: NodePoolSpec = {
        name: pname,
        count: positiveInt(pr.count, `${where}.count`),
        resources: res,
        zone: pr.zone === undefined ? undefined : String(pr.zone),
        nodesPerRack:
          pr.nodesPerRack === undefined
            ? undefined
            : positiveInt(pr.nodesPerRack, `${where}.nodesPerRack`),
        racksPerBlock:
          pr.racksPerBlock === undefined
            ? undefined
            : positiveInt(pr.racksPerBlock, `${where}.racksPerBlock`),
        labels: optStringMap(pr.labels, `${where}.labels`),
        annotations: optStringMap(pr.annotations, `${where}.annotations`),
        taints,
        devices: normalizeDevices(pr.devices, `${where}.devices`),
      };
      if (pool.devices) {
        const last = interconnectDomain(name, pool, pool.count - 1, pool.devices.count - 1);
        if (last.length > 64)
          fail(`${where}.devices: interconnect values such as ${last} exceed 64 characters`);
      }
      return pool;
    });
    const boolMap = (
      key: 'featureGates' | 'runtimeConfig',
    ): Record<string, boolean> | undefined => {
      if (cr[key] === undefined) return undefined;
      const out: Record<string, boolean> = {};
      for (const [k, v] of Object.entries(asRecord(cr[key], `clusters[${ci}].${key}`))) {
        out[k] = v === true || v === 'true';
      }
      return out;
    };
    const workloadAPI = cr.workloadAPI;
    if (workloadAPI !== undefined && typeof workloadAPI !== 'boolean')
      fail(`clusters[${ci}].workloadAPI must be true or false`);
    return {
      name,
      role,
      region: cr.region === undefined ? undefined : String(cr.region),
      nodePools,
      featureGates: boolMap('featureGates'),
      runtimeConfig: boolMap('runtimeConfig'),
      workloadAPI: workloadAPI !== false,
    };
  });
  return { clusters };
}

/** Parses a topology from YAML text. */
export function parseTopology(yamlText: string): TopologySpec {
  return normalizeTopology(parse(yamlText));
}

/** Reads a topology YAML file. */
export function loadTopology(file: string): TopologySpec {
  return parseTopology(readFileSync(file, 'utf8'));
}

/** A fake Node object as sent to the apiserver (plain JSON, no client library types). */
export interface FakeNode {
  apiVersion: 'v1';
  kind: 'Node';
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: { taints?: TaintSpec[] };
  status: {
    allocatable: Record<string, string>;
    capacity: Record<string, string>;
    addresses: { type: string; address: string }[];
    nodeInfo: Record<string, string>;
  };
}

/**
 * Generates the fake nodes of one cluster. Node i of a pool sits in rack floor(i / nodesPerRack) and
 * block floor(rack / racksPerBlock); label values are prefixed with the cluster and pool name so they are
 * unique across the whole testbed (e.g. `gpu-b0`, `gpu-b0-r1` under cluster `worker-a` become
 * `worker-a-gpu-b0`, `worker-a-gpu-b0-r1`).
 */
export function buildNodes(cluster: ClusterSpec, clusterIndex = 0): FakeNode[] {
  const nodes: FakeNode[] = [];
  let n = 0;
  for (const pool of cluster.nodePools) {
    const perRack = pool.nodesPerRack ?? pool.count;
    const racksPerBlock = pool.racksPerBlock ?? Math.ceil(pool.count / perRack);
    const zone = pool.zone ?? `${cluster.name}-zone-a`;
    const quantities: Record<string, string> = {};
    for (const [k, v] of Object.entries(pool.resources)) quantities[k] = String(v);
    if (quantities.pods === undefined) quantities.pods = '110';
    for (let i = 0; i < pool.count; i++) {
      n++;
      const name = `${pool.name}-${i}`;
      const rack = Math.floor(i / perRack);
      const block = Math.floor(rack / racksPerBlock);
      const blockName = `${cluster.name}-${pool.name}-b${block}`;
      nodes.push({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          labels: {
            'kubernetes.io/arch': 'amd64',
            'kubernetes.io/os': 'linux',
            type: 'kwok',
            ...pool.labels,
            [LABELS.hostname]: name,
            [LABELS.zone]: zone,
            [LABELS.region]: cluster.region ?? `${cluster.name}-region`,
            [LABELS.block]: blockName,
            [LABELS.rack]: `${blockName}-r${rack}`,
            [LABELS.pool]: pool.name,
            [LABELS.cluster]: cluster.name,
          },
          annotations: {
            ...pool.annotations,
            [KWOK_NODE_ANNOTATION]: 'fake',
            'node.alpha.kubernetes.io/ttl': '0',
          },
        },
        spec: pool.taints && pool.taints.length > 0 ? { taints: pool.taints } : {},
        status: {
          allocatable: { ...quantities },
          capacity: { ...quantities },
          addresses: [
            {
              type: 'InternalIP',
              address: `10.${64 + (clusterIndex % 64)}.${Math.floor(n / 256)}.${n % 256}`,
            },
            { type: 'Hostname', address: name },
          ],
          nodeInfo: {
            architecture: 'amd64',
            operatingSystem: 'linux',
            kubeletVersion: 'v1.36.1-kwok',
            containerRuntimeVersion: 'kwok',
            kernelVersion: 'kwok',
            osImage: 'kwok',
            machineID: '',
            bootID: '',
            systemUUID: '',
            kubeProxyVersion: '',
          },
        },
      });
    }
  }
  return nodes;
}
