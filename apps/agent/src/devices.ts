// The cluster's DRA devices (resource.k8s.io/v1) as the agent reports them: ResourceSlices,
// DeviceClasses and ResourceClaim allocations turned into small records, and the inventory that
// answers "which devices and counter sets does node N have, and which are allocated" without a
// scan of the whole fleet. Pure bookkeeping (no I/O): the informers feed it, the model reads it.
//
// DRA's rules kept here: only the slices of the newest `spec.pool.generation` of a pool count
// (older ones are being replaced by the driver); a pool is a driver plus a pool name; an
// unqualified attribute or capacity name belongs to the slice's driver; a device is allocated
// while some ResourceClaim's `status.allocation.devices.results[]` names it.
import type { CounterSet, Device, DeviceAttribute, DeviceClass } from '@muster/api';
import { LABEL_FENCING_TOKEN, LABEL_GANG_ID } from './constants';

/** The parts of a resource.k8s.io/v1 ResourceSlice the agent reads. */
export interface ResourceSliceLike {
  metadata?: { name?: string } | null;
  spec?: {
    driver?: string;
    pool?: { name?: string; generation?: number | string } | null;
    nodeName?: string | null;
    allNodes?: boolean | null;
    nodeSelector?: unknown;
    perDeviceNodeSelection?: boolean | null;
    devices?: DeviceLike[] | null;
    sharedCounters?: Array<{
      name?: string;
      counters?: Record<string, { value?: string } | null> | null;
    }> | null;
  } | null;
}

interface DeviceLike {
  name?: string;
  attributes?: Record<string, AttributeLike | null> | null;
  capacity?: Record<string, { value?: string } | string | null> | null;
  consumesCounters?: Array<{
    counterSet?: string;
    counters?: Record<string, { value?: string } | null> | null;
  }> | null;
}

interface AttributeLike {
  string?: string | null;
  int?: number | string | null;
  bool?: boolean | null;
  version?: string | null;
}

/** The parts of a resource.k8s.io/v1 ResourceClaim the agent reads. */
export interface ResourceClaimLike {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string> | null;
  } | null;
  status?: {
    allocation?: {
      devices?: {
        results?: Array<{ driver?: string; pool?: string; device?: string }> | null;
      } | null;
    } | null;
  } | null;
}

/** The parts of a resource.k8s.io/v1 DeviceClass the agent reads. */
export interface DeviceClassLike {
  metadata?: { name?: string } | null;
  spec?: { selectors?: Array<{ cel?: { expression?: string } | null }> | null } | null;
}

/** A ResourceSlice as the inventory keeps it. */
export interface SliceRecord {
  name: string;
  driver: string;
  pool: string;
  generation: number;
  /** spec.nodeName; '' for slices that are not local to one node. */
  nodeName: string;
  /** The node-local devices (allocated false: allocation is the claims' to tell). */
  devices: Device[];
  /** Devices the slice publishes for no single node (allNodes / nodeSelector): not reported. */
  skippedDevices: number;
  counterSets: CounterSet[];
}

/** `name` as DRA qualifies it: an unqualified name gets the driver as its domain. */
export function qualifiedName(name: string, driver: string): string {
  return name.includes('/') ? name : `${driver}/${name}`;
}

function attributeOf(a: AttributeLike | null | undefined): DeviceAttribute | undefined {
  if (!a) return undefined;
  if (typeof a.string === 'string')
    return { value: { $case: 'stringValue', stringValue: a.string } };
  if (typeof a.bool === 'boolean') return { value: { $case: 'boolValue', boolValue: a.bool } };
  if (typeof a.version === 'string')
    return { value: { $case: 'versionValue', versionValue: a.version } };
  const n = typeof a.int === 'string' && /^-?\d+$/.test(a.int) ? Number(a.int) : a.int;
  if (typeof n === 'number' && Number.isSafeInteger(n))
    return { value: { $case: 'intValue', intValue: n } };
  return undefined;
}

function counters(
  raw: Record<string, { value?: string } | null> | null | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw ?? {}))
    if (typeof v?.value === 'string') out[k] = v.value;
  return out;
}

/** One device of a slice of `driver`/`pool`, normalised (names qualified, values typed). */
export function deviceOf(d: DeviceLike, driver: string, pool: string): Device | undefined {
  if (!d.name) return undefined;
  const attributes: Record<string, DeviceAttribute> = {};
  for (const [k, v] of Object.entries(d.attributes ?? {})) {
    const a = attributeOf(v);
    if (a) attributes[qualifiedName(k, driver)] = a;
  }
  const capacity: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.capacity ?? {})) {
    const q = typeof v === 'string' ? v : v?.value;
    if (typeof q === 'string') capacity[qualifiedName(k, driver)] = q;
  }
  return {
    driver,
    pool,
    name: d.name,
    attributes,
    capacity,
    allocated: false,
    allocatedGangId: '',
    allocatedFencingToken: 0,
    consumesCounters: (d.consumesCounters ?? [])
      .filter((c) => !!c.counterSet)
      .map((c) => ({ counterSet: c.counterSet!, counters: counters(c.counters) })),
  };
}

/** The slice as the inventory keeps it, or undefined when it names no driver or pool. */
export function sliceRecord(s: ResourceSliceLike): SliceRecord | undefined {
  const name = s.metadata?.name;
  const driver = s.spec?.driver;
  const pool = s.spec?.pool?.name;
  if (!name || !driver || !pool) return undefined;
  const gen = Number(s.spec?.pool?.generation ?? 0);
  const nodeName = s.spec?.nodeName ?? '';
  const raw = s.spec?.devices ?? [];
  const devices: Device[] = [];
  if (nodeName !== '') {
    for (const d of raw) {
      const dev = deviceOf(d, driver, pool);
      if (dev) devices.push(dev);
    }
  }
  return {
    name,
    driver,
    pool,
    generation: Number.isSafeInteger(gen) ? gen : 0,
    nodeName,
    devices,
    skippedDevices: nodeName === '' ? raw.length : 0,
    counterSets: (s.spec?.sharedCounters ?? [])
      .filter((c) => !!c.name)
      .map((c) => ({ name: c.name!, counters: counters(c.counters), driver, pool })),
  };
}

export function deviceClassOf(c: DeviceClassLike): DeviceClass | undefined {
  const name = c.metadata?.name;
  if (!name) return undefined;
  return {
    name,
    selectors: (c.spec?.selectors ?? [])
      .map((s) => s.cel?.expression)
      .filter((e): e is string => typeof e === 'string' && e !== ''),
  };
}

export function deviceKey(driver: string, pool: string, device: string): string {
  return `${driver}\u0000${pool}\u0000${device}`;
}

function poolKey(driver: string, pool: string): string {
  return `${driver}\u0000${pool}`;
}

/** The devices a claim's allocation names, as device keys. */
export function allocatedDevices(c: ResourceClaimLike): string[] {
  const out: string[] = [];
  for (const r of c.status?.allocation?.devices?.results ?? []) {
    if (r.driver && r.pool && r.device) out.push(deviceKey(r.driver, r.pool, r.device));
  }
  return out;
}

/** The Muster gang a claim belongs to, from the labels its template gave it; else undefined. */
export function claimHolder(c: ResourceClaimLike): { gangId: string; token: number } | undefined {
  const labels = c.metadata?.labels ?? {};
  const gangId = labels[LABEL_GANG_ID];
  const token = Number(labels[LABEL_FENCING_TOKEN]);
  return gangId && Number.isSafeInteger(token) ? { gangId, token } : undefined;
}

/** Drops everything of a ResourceClaim but what allocatedDevices and claimHolder read. */
export function slimClaim(c: ResourceClaimLike): ResourceClaimLike {
  const results = c.status?.allocation?.devices?.results;
  const labels = c.metadata?.labels ?? {};
  const own = Object.fromEntries(
    [LABEL_GANG_ID, LABEL_FENCING_TOKEN].filter((k) => k in labels).map((k) => [k, labels[k]!]),
  );
  return {
    metadata: { name: c.metadata?.name, namespace: c.metadata?.namespace, labels: own },
    status: results
      ? {
          allocation: {
            devices: {
              results: results.map((r) => ({ driver: r.driver, pool: r.pool, device: r.device })),
            },
          },
        }
      : {},
  };
}

interface PoolEntry {
  /** The newest generation among the pool's slices: only its slices count. */
  generation: number;
  slices: Map<string, SliceRecord>;
}

function sliceFingerprint(s: SliceRecord): string {
  return JSON.stringify([s.driver, s.pool, s.generation, s.nodeName, s.devices, s.counterSets]);
}

/**
 * Every device and counter set of the cluster, indexed by pool and node, and which devices are
 * allocated. A change reports the nodes whose devices it may change (`onNodeChange`); the work
 * per event follows the size of the pools it touches, not the fleet.
 */
export class DeviceInventory {
  private readonly slices = new Map<string, SliceRecord>();
  private readonly fingerprints = new Map<string, string>();
  private readonly pools = new Map<string, PoolEntry>();
  /** Node → pool keys with at least one slice local to the node (any generation) → count. */
  private readonly nodePools = new Map<string, Map<string, number>>();
  /** Device key → number of claims whose allocation names it. */
  private readonly allocations = new Map<string, number>();
  /** Claim "namespace/name" → the device keys its allocation names. */
  private readonly claims = new Map<string, string[]>();
  /** Device key → the Muster gang whose claim holds it, when the claim says. */
  private readonly holders = new Map<string, { gangId: string; token: number }>();
  private readonly classes = new Map<string, DeviceClass>();
  private classesChanged = false;

  constructor(private readonly onNodeChange: (node: string) => void = () => undefined) {}

  // ---- slices ----

  upsertSlice(s: SliceRecord): void {
    const fp = sliceFingerprint(s);
    if (this.fingerprints.get(s.name) === fp) return;
    const old = this.slices.get(s.name);
    const touched = new Set<string>();
    if (old) this.collectNodes(poolKey(old.driver, old.pool), touched);
    if (old) this.detachSlice(old);
    this.slices.set(s.name, s);
    this.fingerprints.set(s.name, fp);
    this.attachSlice(s);
    this.collectNodes(poolKey(s.driver, s.pool), touched);
    for (const n of touched) this.onNodeChange(n);
  }

  removeSlice(name: string): void {
    const old = this.slices.get(name);
    if (!old) return;
    const touched = new Set<string>();
    const key = poolKey(old.driver, old.pool);
    this.collectNodes(key, touched);
    this.detachSlice(old);
    this.slices.delete(name);
    this.fingerprints.delete(name);
    for (const n of touched) this.onNodeChange(n);
  }

  private attachSlice(s: SliceRecord): void {
    const key = poolKey(s.driver, s.pool);
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = { generation: s.generation, slices: new Map() }));
    pool.slices.set(s.name, s);
    pool.generation = Math.max(pool.generation, s.generation);
    if (s.nodeName !== '') {
      let m = this.nodePools.get(s.nodeName);
      if (!m) this.nodePools.set(s.nodeName, (m = new Map()));
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }

  private detachSlice(s: SliceRecord): void {
    const key = poolKey(s.driver, s.pool);
    const pool = this.pools.get(key);
    if (pool?.slices.delete(s.name)) {
      if (pool.slices.size === 0) this.pools.delete(key);
      else pool.generation = Math.max(...[...pool.slices.values()].map((x) => x.generation));
    }
    if (s.nodeName !== '') {
      const m = this.nodePools.get(s.nodeName);
      const left = (m?.get(key) ?? 0) - 1;
      if (left > 0) m!.set(key, left);
      else m?.delete(key);
      if (m?.size === 0) this.nodePools.delete(s.nodeName);
    }
  }

  /** The nodes with a slice of the pool (any generation). */
  private collectNodes(key: string, into: Set<string>): void {
    for (const s of this.pools.get(key)?.slices.values() ?? [])
      if (s.nodeName !== '') into.add(s.nodeName);
  }

  /** The slices of the pool's newest generation. */
  private current(key: string): SliceRecord[] {
    const pool = this.pools.get(key);
    if (!pool) return [];
    return [...pool.slices.values()].filter((s) => s.generation === pool.generation);
  }

  // ---- claims ----

  /** Records the devices a claim's allocation names (none when it is not allocated). */
  upsertClaim(
    key: string,
    devices: readonly string[],
    holder?: { gangId: string; token: number },
  ): void {
    const old = this.claims.get(key) ?? [];
    if (old.length === devices.length && old.every((d, i) => d === devices[i])) return;
    if (devices.length > 0) this.claims.set(key, [...devices]);
    else this.claims.delete(key);
    for (const d of old) this.holders.delete(d);
    if (holder) for (const d of devices) this.holders.set(d, holder);
    this.recount(old, devices);
  }

  removeClaim(key: string): void {
    const old = this.claims.get(key);
    if (!old) return;
    this.claims.delete(key);
    for (const d of old) this.holders.delete(d);
    this.recount(old, []);
  }

  private recount(old: readonly string[], next: readonly string[]): void {
    const changed = new Set<string>();
    for (const d of old) {
      const n = (this.allocations.get(d) ?? 0) - 1;
      if (n > 0) this.allocations.set(d, n);
      else this.allocations.delete(d);
      changed.add(d);
    }
    for (const d of next) {
      this.allocations.set(d, (this.allocations.get(d) ?? 0) + 1);
      if (changed.has(d)) changed.delete(d);
      else changed.add(d);
    }
    for (const d of changed) {
      const [driver, pool, device] = d.split('\u0000') as [string, string, string];
      for (const s of this.current(poolKey(driver, pool))) {
        if (s.nodeName !== '' && s.devices.some((x) => x.name === device))
          this.onNodeChange(s.nodeName);
      }
    }
  }

  /** The holder fields of a reported device: its Muster gang and token, or empty. */
  private holderFields(key: string): { allocatedGangId: string; allocatedFencingToken: number } {
    const h = this.holders.get(key);
    return { allocatedGangId: h?.gangId ?? '', allocatedFencingToken: h?.token ?? 0 };
  }

  isAllocated(driver: string, pool: string, device: string): boolean {
    return this.allocations.has(deviceKey(driver, pool, device));
  }

  // ---- device classes ----

  upsertClass(c: DeviceClass): void {
    const old = this.classes.get(c.name);
    if (old && JSON.stringify(old.selectors) === JSON.stringify(c.selectors)) return;
    this.classes.set(c.name, c);
    this.classesChanged = true;
  }

  removeClass(name: string): void {
    if (this.classes.delete(name)) this.classesChanged = true;
  }

  /** Every DeviceClass, by name. */
  deviceClasses(): DeviceClass[] {
    return [...this.classes.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((c) => ({ name: c.name, selectors: [...c.selectors] }));
  }

  /** True once after a DeviceClass changed (the next report must carry the new set). */
  takeClassesChanged(): boolean {
    const changed = this.classesChanged;
    this.classesChanged = false;
    return changed;
  }

  // ---- per node ----

  /** The node's devices (of the newest generation of each pool), with their allocation. */
  devicesOf(node: string): Device[] {
    const out: Device[] = [];
    for (const key of this.nodePools.get(node)?.keys() ?? []) {
      for (const s of this.current(key)) {
        if (s.nodeName !== node) continue;
        for (const d of s.devices) {
          out.push({
            ...d,
            attributes: { ...d.attributes },
            capacity: { ...d.capacity },
            consumesCounters: d.consumesCounters.map((c) => ({
              ...c,
              counters: { ...c.counters },
            })),
            allocated: this.allocations.has(deviceKey(d.driver, d.pool, d.name)),
            ...this.holderFields(deviceKey(d.driver, d.pool, d.name)),
          });
        }
      }
    }
    return out.sort(
      (a, b) =>
        a.driver.localeCompare(b.driver) ||
        a.pool.localeCompare(b.pool) ||
        a.name.localeCompare(b.name),
    );
  }

  /**
   * The shared counters of the pools with devices on the node, from any slice of the newest
   * generation of those pools (since 1.35 they may sit in a slice of their own, without nodeName).
   */
  counterSetsOf(node: string): CounterSet[] {
    const out = new Map<string, CounterSet>();
    for (const key of this.nodePools.get(node)?.keys() ?? []) {
      const slices = this.current(key);
      if (!slices.some((s) => s.nodeName === node && s.devices.length > 0)) continue;
      for (const s of slices)
        for (const c of s.counterSets) {
          const k = `${key}\u0000${c.name}`;
          if (!out.has(k)) out.set(k, { ...c, counters: { ...c.counters } });
        }
    }
    return [...out.values()].sort(
      (a, b) =>
        a.driver.localeCompare(b.driver) ||
        a.pool.localeCompare(b.pool) ||
        a.name.localeCompare(b.name),
    );
  }

  get sliceCount(): number {
    return this.slices.size;
  }

  get claimCount(): number {
    return this.claims.size;
  }
}
