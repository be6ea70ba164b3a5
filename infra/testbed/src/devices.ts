// Simulated DRA devices of a node pool (the `devices:` block of the topology YAML): the domain types
// and their validating parser. src/resource-slices.ts turns them into the objects a DRA driver
// would publish.
import { asRecord, fail, optPositiveInt, positiveInt } from './topology-parse';

/** The driver a `devices:` block gets when it names none; also its DeviceClass name. */
export const DRA_DRIVER = 'gpu.example.com';

/**
 * Attribute names the testbed sets on every device itself (a `devices:` block may not set them):
 * `index` (int, the physical device's index on its node), `interconnect` (string, its interconnect
 * domain) and `profile` (string: `full` for a whole device, else the partition's name). Every
 * device has all three, so one selector such as `profile == "full"` evaluates on any cluster.
 */
export const DEVICE_ATTRIBUTES = {
  index: 'index',
  interconnect: 'interconnect',
  profile: 'profile',
} as const;

/** The `profile` attribute of the whole device in a partitionable block. */
export const FULL_PROFILE = 'full';

/** One typed device attribute value, as resource.k8s.io/v1 spells it. */
export type DeviceAttributeValue =
  { string: string } | { int: number } | { bool: boolean } | { version: string };

export interface InterconnectSpec {
  /** Node i of the pool is in domain floor(i / nodesPerDomain) (e.g. a multi-node NVLink domain). */
  nodesPerDomain?: number;
  /** Device j of a node is in the node's domain floor(j / devicesPerDomain) (islands inside a node). */
  devicesPerDomain?: number;
}

/** A MIG-style partition profile of a partitionable device. */
export interface PartitionSpec {
  /** DNS label; the `profile` attribute and part of the device names (`gpu-0-<name>-<k>`). */
  name: string;
  /** Partitions of this profile per physical device. */
  count: number;
  /**
   * The partition's capacity, which is also what it takes from its physical device's counters
   * while allocated; every key must be one of the device's capacity names.
   */
  capacity: Record<string, string>;
  /** Extra attributes of this profile (added to the device's). */
  attributes?: Record<string, DeviceAttributeValue>;
}

/**
 * The DRA devices every node of a pool has. normalizeDevices fills in every default; attribute
 * values may be given typed ({ int: 3 }) or, in YAML, plain (3).
 */
export interface DeviceSpec {
  /** DRA driver name (DNS subdomain, at most 63 characters); default DRA_DRIVER. */
  driver?: string;
  /** Physical devices per node. */
  count: number;
  /** Device names are `<namePrefix>-0` .. `<namePrefix>-<count-1>`; default `gpu`. */
  namePrefix?: string;
  /** Unqualified (the driver's domain applies) or `domain/name` attribute names to typed values. */
  attributes?: Record<string, DeviceAttributeValue>;
  /** Capacity name to quantity string, e.g. { memory: '80Gi' }; default none. */
  capacity?: Record<string, string>;
  /** Interconnect domains; default: one domain per node. */
  interconnect?: InterconnectSpec;
  /**
   * Partition profiles. When set, each physical device is published with a counter set of its
   * own capacity (named like the device), consumed fully by the whole device and in part by
   * each partition, so the scheduler never hands out more than the device has.
   */
  partitions?: PartitionSpec[];
}

const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const C_IDENTIFIER_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const QUANTITY_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/;
const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

// resource.k8s.io/v1 limits (k8s.io/api resource/v1 types.go).
const MAX_ATTRIBUTES_AND_CAPACITIES = 32;
const MAX_ID_LENGTH = 32;
const MAX_STRING_VALUE_LENGTH = 64;
const MAX_DRIVER_LENGTH = 63;

/** A qualified name as DRA accepts it: a C identifier of at most 32 characters, optionally `domain/`-prefixed. */
function checkQualifiedName(name: string, where: string): void {
  const parts = name.split('/');
  const id = parts[parts.length - 1];
  const domainOk =
    parts.length === 1 || (parts.length === 2 && DNS_SUBDOMAIN_RE.test(parts[0] ?? ''));
  if (!domainOk || !C_IDENTIFIER_RE.test(id) || id.length > MAX_ID_LENGTH)
    fail(
      `${where}: ${JSON.stringify(name)} is not a DRA name (a C identifier of at most 32 characters, optionally prefixed with "domain/")`,
    );
}

function attributeValue(v: unknown, where: string): DeviceAttributeValue {
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v))
      fail(`${where} must be an integer (floats are not DRA attributes)`);
    return { int: v };
  }
  if (typeof v === 'string') {
    if (v.length > MAX_STRING_VALUE_LENGTH)
      fail(`${where} is longer than ${MAX_STRING_VALUE_LENGTH} characters`);
    return { string: v };
  }
  const shape = `${where} must be a string, integer, boolean or { version: x.y.z }`;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(shape);
  const r = v as Record<string, unknown>;
  const keys = Object.keys(r);
  // The typed forms ({ string: .. }, { int: .. }, { bool: .. }) keep normalizing idempotent.
  if (keys.length === 1 && keys[0] !== 'version') {
    const [key, inner] = [keys[0], r[keys[0]]];
    if (key === 'string' && typeof inner === 'string') return attributeValue(inner, where);
    if (key === 'int' && typeof inner === 'number') return attributeValue(inner, where);
    if (key === 'bool' && typeof inner === 'boolean') return { bool: inner };
  }
  if (keys.length !== 1 || keys[0] !== 'version') fail(shape);
  if (typeof r.version !== 'string')
    fail(`${where}.version must be a string such as 1.2.3 (quote a number like "1.2" in YAML)`);
  if (!SEMVER_RE.test(r.version))
    fail(`${where}.version ${JSON.stringify(r.version)} is not a semantic version`);
  return { version: r.version };
}

function attributes(v: unknown, where: string): Record<string, DeviceAttributeValue> {
  const out: Record<string, DeviceAttributeValue> = {};
  if (v === undefined || v === null) return out;
  const reserved: string[] = Object.values(DEVICE_ATTRIBUTES);
  for (const [k, val] of Object.entries(asRecord(v, where))) {
    checkQualifiedName(k, `${where}.${k}`);
    if (reserved.includes(k)) fail(`${where}.${k} is set by the testbed itself`);
    out[k] = attributeValue(val, `${where}.${k}`);
  }
  return out;
}

function capacity(v: unknown, where: string, counters: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  for (const [k, val] of Object.entries(asRecord(v, where))) {
    if (counters) {
      // The capacity of a partitionable device doubles as its counters, whose names are DNS labels.
      if (!DNS_LABEL_RE.test(k))
        fail(
          `${where}.${k}: capacity names of a partitionable device must be DNS labels (they name counters)`,
        );
    } else {
      checkQualifiedName(k, `${where}.${k}`);
    }
    const q = typeof val === 'number' ? String(val) : val;
    if (typeof q !== 'string' || !QUANTITY_RE.test(q))
      fail(`${where}.${k} must be a quantity such as 80Gi`);
    out[k] = q;
  }
  return out;
}

function partitions(
  v: unknown,
  where: string,
  deviceCapacity: Record<string, string>,
  namePrefix: string,
  count: number,
): PartitionSpec[] {
  if (!Array.isArray(v) || v.length === 0) fail(`${where} must be a non-empty list`);
  if (Object.keys(deviceCapacity).length === 0)
    fail(`${where} needs the device's capacity (it becomes the counters partitions consume)`);
  const names = new Set<string>();
  return v.map((p: unknown, i: number): PartitionSpec => {
    const pw = `${where}[${i}]`;
    const pr = asRecord(p, pw);
    for (const k of Object.keys(pr)) {
      if (!['name', 'count', 'capacity', 'attributes'].includes(k))
        fail(`${pw}.${k} is not a field (expected name, count, capacity, attributes)`);
    }
    const name = String(pr.name ?? '');
    if (!DNS_LABEL_RE.test(name) || name === FULL_PROFILE)
      fail(`${pw}.name ${JSON.stringify(name)} must be a DNS label other than "${FULL_PROFILE}"`);
    if (names.has(name)) fail(`${pw}.name: duplicate partition ${name}`);
    names.add(name);
    const pcount = positiveInt(pr.count, `${pw}.count`);
    // Longest device name: <prefix>-<count-1>-<name>-<pcount-1>, a DNS label.
    if (`${namePrefix}-${count - 1}-${name}-${pcount - 1}`.length > 63)
      fail(`${pw}.name: device names <namePrefix>-<i>-${name}-<k> would exceed 63 characters`);
    const cap = capacity(pr.capacity, `${pw}.capacity`, true);
    if (Object.keys(cap).length === 0) fail(`${pw}.capacity must name what the partition consumes`);
    for (const k of Object.keys(cap)) {
      if (deviceCapacity[k] === undefined)
        fail(`${pw}.capacity.${k} is not a capacity (counter) of the device`);
    }
    return {
      name,
      count: pcount,
      capacity: cap,
      attributes: attributes(pr.attributes, `${pw}.attributes`),
    };
  });
}

/**
 * Validates a node pool's `devices:` block (where: its path, e.g. `clusters[1].nodePools[0].devices`)
 * and fills in defaults.
 */
export function normalizeDevices(v: unknown, where: string): DeviceSpec | undefined {
  if (v === undefined || v === null) return undefined;
  const r = asRecord(v, where);
  const known = [
    'driver',
    'count',
    'namePrefix',
    'attributes',
    'capacity',
    'interconnect',
    'partitions',
  ];
  for (const k of Object.keys(r)) {
    if (!known.includes(k))
      fail(`${where}.${k} is not a field (expected one of ${known.join(', ')})`);
  }
  const driver = r.driver === undefined ? DRA_DRIVER : String(r.driver);
  if (!DNS_SUBDOMAIN_RE.test(driver) || driver.length > MAX_DRIVER_LENGTH)
    fail(
      `${where}.driver ${JSON.stringify(driver)} must be a lower-case DNS subdomain of at most 63 characters`,
    );
  const count = positiveInt(r.count, `${where}.count`);
  const namePrefix = r.namePrefix === undefined ? 'gpu' : String(r.namePrefix);
  if (!DNS_LABEL_RE.test(namePrefix) || `${namePrefix}-${count - 1}`.length > 63)
    fail(`${where}.namePrefix ${JSON.stringify(namePrefix)} must be a short DNS label`);
  const partitioned = r.partitions !== undefined;
  const attrs = attributes(r.attributes, `${where}.attributes`);
  const cap = capacity(r.capacity, `${where}.capacity`, partitioned);
  const own = Object.keys(DEVICE_ATTRIBUTES).length;
  if (Object.keys(attrs).length + Object.keys(cap).length + own > MAX_ATTRIBUTES_AND_CAPACITIES)
    fail(
      `${where}: at most ${MAX_ATTRIBUTES_AND_CAPACITIES - own} attributes and capacities together (the testbed adds ${own})`,
    );
  const ic = r.interconnect === undefined ? {} : asRecord(r.interconnect, `${where}.interconnect`);
  for (const k of Object.keys(ic)) {
    if (k !== 'nodesPerDomain' && k !== 'devicesPerDomain')
      fail(
        `${where}.interconnect.${k} is not a field (expected nodesPerDomain or devicesPerDomain)`,
      );
  }
  const nodesPerDomain = optPositiveInt(ic.nodesPerDomain, `${where}.interconnect.nodesPerDomain`);
  const devicesPerDomain = optPositiveInt(
    ic.devicesPerDomain,
    `${where}.interconnect.devicesPerDomain`,
  );
  const interconnect: InterconnectSpec = {
    ...(nodesPerDomain !== undefined ? { nodesPerDomain } : {}),
    ...(devicesPerDomain !== undefined ? { devicesPerDomain } : {}),
  };
  if (interconnect.nodesPerDomain !== undefined && interconnect.devicesPerDomain !== undefined)
    fail(`${where}.interconnect: set nodesPerDomain or devicesPerDomain, not both`);
  const parts = partitioned
    ? partitions(r.partitions, `${where}.partitions`, cap, namePrefix, count)
    : undefined;
  for (const p of parts ?? []) {
    const extra = Object.keys(p.attributes ?? {}).filter((k) => attrs[k] === undefined).length;
    const total = Object.keys(attrs).length + extra + Object.keys(p.capacity).length + own;
    if (total > MAX_ATTRIBUTES_AND_CAPACITIES)
      fail(
        `${where}.partitions: ${p.name} has more than ${MAX_ATTRIBUTES_AND_CAPACITIES} attributes and capacities`,
      );
  }
  return {
    driver,
    count,
    namePrefix,
    attributes: attrs,
    capacity: cap,
    interconnect,
    partitions: parts,
  };
}

/** Devices a node of this pool publishes (whole devices plus partitions). */
export function devicesPerNode(spec: DeviceSpec): number {
  const parts = (spec.partitions ?? []).reduce((a, p) => a + p.count, 0);
  return spec.count * (1 + parts);
}
