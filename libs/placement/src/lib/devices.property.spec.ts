/**
 * Property tests of DRA device claims in placement, over random fleets (devices of several
 * models, some allocated already, partitions drawing on shared counters, devices of a second
 * driver) and random batches of gangs whose pod sets claim them. The oracle is written again here
 * from the DRA rules: its own evaluator for the few selector forms generated (never the library's
 * CEL) and its own search for how a node's given devices serve the members placed there.
 */
import fc from 'fast-check';
import { ClusterSnapshot, Gang, NodeSnapshot, PodSet } from './model';
import {
  CounterSet,
  Device,
  DeviceAttributeValue,
  DeviceClaim,
  DeviceClass,
  DeviceRequest,
  ExactDeviceRequest,
} from './devices';
import { GangDecision, placeBatch, PlacedDecision, PlacementIndex } from './place';
import { POD } from '../testing/arbitraries';
import { HOST, RACK } from '../testing/builders';

const GPU_DRIVER = 'gpu.example.com';
const NIC_DRIVER = 'nic.example.com';
const MODEL = `${GPU_DRIVER}/model`;
const MEMORY = `${GPU_DRIVER}/memory`;
const LINK = `${GPU_DRIVER}/interconnect`;
const GI = 1024n ** 3n * 1000n;
const MODELS = ['A100', 'H100', 'L40S'] as const;
const LINKS = ['nv-a', 'nv-b', 'nv-c'] as const;

// ---------- selectors: generated as data, given to placement as CEL text ----------

type Selector =
  | { readonly kind: 'driver'; readonly driver: string }
  | { readonly kind: 'model'; readonly model: string }
  | { readonly kind: 'notModel'; readonly model: string }
  | { readonly kind: 'modelIn'; readonly models: readonly string[] }
  | { readonly kind: 'memoryAtLeast'; readonly gi: number };

/** Every CEL text handed to placement, with the selector it was written from. */
const written = new Map<string, Selector>();

function cel(s: Selector): string {
  const model = `device.attributes["${GPU_DRIVER}"].model`;
  const text =
    s.kind === 'driver'
      ? `device.driver == "${s.driver}"`
      : s.kind === 'model'
        ? `${model} == "${s.model}"`
        : s.kind === 'notModel'
          ? `${model} != "${s.model}"`
          : s.kind === 'modelIn'
            ? `${model} in [${s.models.map((m) => `"${m}"`).join(', ')}]`
            : `device.capacity["${GPU_DRIVER}"].memory.compareTo(quantity("${s.gi}Gi")) >= 0`;
  written.set(text, s);
  return text;
}

/** A device's attribute or capacity by qualified name; an unqualified entry carries the driver's domain. */
function lookup<T>(d: Device, entries: Readonly<Record<string, T>> | undefined, qualified: string) {
  const own = (k: string) =>
    entries !== undefined && Object.prototype.hasOwnProperty.call(entries, k);
  if (own(qualified)) return entries![qualified];
  const slash = qualified.lastIndexOf('/');
  const name = qualified.slice(slash + 1);
  return qualified.slice(0, slash) === d.driver && own(name) ? entries![name] : undefined;
}

/** The oracle's selector: a missing attribute is an evaluation error, so never true (even for !=). */
function holds(d: Device, text: string): boolean {
  const s = written.get(text);
  if (!s) throw new Error(`oracle: selector not generated here: ${text}`);
  const model = lookup(d, d.attributes, MODEL);
  switch (s.kind) {
    case 'driver':
      return d.driver === s.driver;
    case 'model':
      return typeof model === 'string' && model === s.model;
    case 'notModel':
      return typeof model === 'string' && model !== s.model;
    case 'modelIn':
      return typeof model === 'string' && s.models.includes(model);
    case 'memoryAtLeast': {
      const memory = lookup(d, d.capacity, MEMORY);
      return memory !== undefined && memory >= BigInt(s.gi) * GI;
    }
  }
}

const GPU_CLASS: DeviceClass = {
  name: 'gpu.example.com',
  selectors: [cel({ kind: 'driver', driver: GPU_DRIVER })],
};
const BIG_CLASS: DeviceClass = {
  name: 'big-gpu.example.com',
  selectors: [cel({ kind: 'driver', driver: GPU_DRIVER }), cel({ kind: 'memoryAtLeast', gi: 80 })],
};
const ANY_CLASS: DeviceClass = { name: 'any.example.com', selectors: [] };

// ---------- fleets ----------

/** `true` with probability p% (unbiased: fast-check otherwise favours small integers). */
const rare = (p: number) => fc.noBias(fc.integer({ min: 0, max: 99 })).map((x) => x < p);

const arbGpu = fc.record({
  model: fc.constantFrom(...MODELS),
  memoryGi: fc.constantFrom(40, 48, 80, 96),
  link: fc.nat(2),
  allocated: rare(15),
  // The slice may name its own driver's attributes unqualified.
  unqualified: rare(10),
});

/** Partitions of one 80 GiB GPU: what each consumes of the counters `memory` and `slices`. */
const PARTITIONS: ReadonlyArray<{ name: string; memory: bigint; slices: bigint }> = [
  { name: 'whole-0', memory: 80n, slices: 7n },
  { name: '4g-0', memory: 40n, slices: 4n },
  { name: '4g-1', memory: 40n, slices: 4n },
  { name: '1g-0', memory: 10n, slices: 1n },
  { name: '1g-1', memory: 10n, slices: 1n },
  { name: '1g-2', memory: 10n, slices: 1n },
];

const arbNode = (partitions: boolean) =>
  fc.record({
    links: fc.integer({ min: 1, max: 3 }),
    rack: fc.constantFrom('r1', 'r2'),
    gpus: fc.oneof(
      { weight: 1, arbitrary: fc.array(arbGpu, { maxLength: 8 }) },
      { weight: 3, arbitrary: fc.array(arbGpu, { minLength: 4, maxLength: 8 }) },
    ),
    nics: fc.integer({ min: 0, max: 1 }),
    partitioned: partitions ? rare(25) : fc.constant(false),
    partitionsAllocated: fc.array(rare(20), { minLength: 6, maxLength: 6 }),
    // A partition drawing on a counter set its slice does not publish: never allocatable.
    orphan: rare(30),
    pods: fc.integer({ min: 1, max: 8 }),
  });

type NodeFields = ReturnType<typeof arbNode> extends fc.Arbitrary<infer T> ? T : never;

function makeNode(name: string, f: NodeFields, ample: boolean): NodeSnapshot {
  const link = (i: number) => LINKS[i % f.links]!;
  const devices: Device[] = f.gpus.map((g, i) => {
    const attributes: Record<string, DeviceAttributeValue> = g.unqualified
      ? { model: g.model, interconnect: link(g.link) }
      : { [MODEL]: g.model, [LINK]: link(g.link) };
    return {
      driver: GPU_DRIVER,
      pool: name,
      name: `gpu-${i}`,
      attributes,
      capacity: { [MEMORY]: BigInt(g.memoryGi) * GI },
      ...(g.allocated ? { allocated: true } : {}),
    };
  });
  for (let i = 0; i < f.nics; i++)
    devices.push({ driver: NIC_DRIVER, pool: name, name: `nic-${i}`, attributes: { speed: 400n } });
  const counterSets: CounterSet[] = [];
  if (f.partitioned) {
    counterSets.push({
      driver: GPU_DRIVER,
      pool: name,
      name: 'gpu-p',
      counters: { memory: 80n * GI, slices: 7n },
    });
    const parts = PARTITIONS.map((p, i) => ({
      ...p,
      set: 'gpu-p',
      allocated: f.partitionsAllocated[i]!,
    }));
    if (f.orphan)
      parts.push({ name: '1g-x', memory: 10n, slices: 1n, set: 'gpu-q', allocated: false });
    for (const p of parts)
      devices.push({
        driver: GPU_DRIVER,
        pool: name,
        name: `part-${p.name}`,
        attributes: { [MODEL]: 'H100', [LINK]: link(0), [`${GPU_DRIVER}/profile`]: p.name },
        capacity: { [MEMORY]: p.memory * GI },
        consumesCounters: [
          { counterSet: p.set, counters: { memory: p.memory * GI, slices: p.slices } },
        ],
        ...(p.allocated ? { allocated: true } : {}),
      });
  }
  const pods = ample ? 110n : BigInt(f.pods);
  return {
    name,
    labels: { [RACK]: f.rack, [HOST]: name },
    allocatable: { pods: 110n * POD, cpu: 64_000n },
    free: { pods: pods * POD, cpu: 64_000n },
    devices,
    ...(counterSets.length > 0 ? { counterSets } : {}),
  };
}

const arbClasses = fc
  .record({ gpu: rare(90), big: rare(60), any: rare(40) })
  .map((k) => [
    ...(k.gpu ? [GPU_CLASS] : []),
    ...(k.big ? [BIG_CLASS] : []),
    ...(k.any ? [ANY_CLASS] : []),
  ]);

const arbFleet = ({ partitions = true, ample = false } = {}) =>
  fc
    .array(
      fc.record({
        nodes: fc.array(arbNode(partitions), { minLength: 1, maxLength: 6 }),
        classes: arbClasses,
      }),
      { minLength: 1, maxLength: 3 },
    )
    .map((cs) =>
      cs.map((c, ci): ClusterSnapshot => ({
        name: `c${ci}`,
        topologyLevels: [RACK, HOST],
        nodes: c.nodes.map((f, ni) => makeNode(`c${ci}-n${ni}`, f, ample)),
        deviceClasses: c.classes,
      })),
    );

// ---------- claims and gangs ----------

const arbSelector = fc
  .oneof(
    fc.record({ kind: fc.constant('model' as const), model: fc.constantFrom(...MODELS) }),
    fc.record({ kind: fc.constant('notModel' as const), model: fc.constantFrom(...MODELS) }),
    fc.record({
      kind: fc.constant('modelIn' as const),
      models: fc.subarray([...MODELS], { minLength: 1, maxLength: 2 }),
    }),
    fc.record({ kind: fc.constant('memoryAtLeast' as const), gi: fc.constantFrom(40, 48, 80) }),
  )
  .map(cel);

const arbClassName = fc.oneof(
  { weight: 8, arbitrary: fc.constant(GPU_CLASS.name) },
  { weight: 2, arbitrary: fc.constant(BIG_CLASS.name) },
  { weight: 2, arbitrary: fc.constant(ANY_CLASS.name) },
  { weight: 1, arbitrary: fc.constant('fpga.example.com') }, // no cluster has it
);

const arbExact: fc.Arbitrary<ExactDeviceRequest> = fc
  .record({
    deviceClassName: arbClassName,
    selectors: fc.oneof(
      { weight: 4, arbitrary: fc.array(arbSelector, { maxLength: 1 }) },
      { weight: 1, arbitrary: fc.array(arbSelector, { minLength: 2, maxLength: 2 }) },
    ),
    all: rare(12),
    count: fc.oneof(
      { weight: 3, arbitrary: fc.constant(1) },
      { weight: 2, arbitrary: fc.constant(2) },
      { weight: 1, arbitrary: fc.integer({ min: 3, max: 4 }) },
    ),
  })
  .map(({ deviceClassName, selectors, all, count }) => ({
    deviceClassName,
    ...(selectors.length > 0 ? { selectors } : {}),
    ...(all ? { allocationMode: 'All' as const } : { count }),
  }));

const arbRequest = (name: string): fc.Arbitrary<DeviceRequest> =>
  fc.oneof(
    { weight: 3, arbitrary: arbExact.map((exactly) => ({ name, exactly })) },
    {
      weight: 1,
      arbitrary: fc.array(arbExact, { minLength: 1, maxLength: 3 }).map((alts) => ({
        name,
        firstAvailable: alts.map((a, i) => ({ ...a, name: `alt${i}` })),
      })),
    },
  );

const arbClaim = (name: string): fc.Arbitrary<DeviceClaim> =>
  fc
    .record({
      requests: fc.oneof(
        { weight: 4, arbitrary: fc.tuple(arbRequest('r0')) },
        { weight: 1, arbitrary: fc.tuple(arbRequest('r0'), arbRequest('r1')) },
      ),
      constraint: fc.oneof(
        { weight: 3, arbitrary: fc.constant(null) },
        { weight: 2, arbitrary: fc.constant({ matchAttribute: LINK }) },
        { weight: 1, arbitrary: fc.constant({ matchAttribute: LINK, requests: ['r0'] }) },
        { weight: 1, arbitrary: fc.constant({ matchAttribute: MODEL }) },
      ),
    })
    .map(({ requests, constraint }) => ({
      name,
      requests,
      ...(constraint ? { constraints: [constraint] } : {}),
    }));

const arbClaims = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(arbClaim('gpus')) },
  { weight: 1, arbitrary: fc.tuple(arbClaim('gpus'), arbClaim('more')) },
);

const arbPodSet = (name: string) =>
  fc
    .record({
      count: fc.oneof(
        { weight: 1, arbitrary: fc.constant(0) },
        { weight: 8, arbitrary: fc.integer({ min: 1, max: 3 }) },
        { weight: 1, arbitrary: fc.constant(4) },
      ),
      claims: fc.option(arbClaims, { freq: 5 }),
      rack: rare(15),
    })
    .map(({ count, claims, rack }): PodSet => ({
      name,
      count,
      requests: { pods: POD, cpu: 1000n },
      ...(claims ? { claims } : {}),
      ...(rack ? { topology: { mode: 'required' as const, level: RACK } } : {}),
    }));

const arbDeviceGang = (id: string): fc.Arbitrary<Gang> =>
  fc
    .integer({ min: 1, max: 3 })
    .chain((n) =>
      fc.tuple(fc.tuple(...Array.from({ length: n }, (_, i) => arbPodSet(`ps${i}`))), rare(20)),
    )
    .map(([podSets, oneDomain]) => ({
      id,
      podSets,
      ...(oneDomain && podSets.some((ps) => claims(ps)) ? { matchDeviceAttribute: LINK } : {}),
    }));

const arbDeviceGangs = (max: number) =>
  fc
    .integer({ min: 1, max })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbDeviceGang(`g${i}`))));

// ---------- the oracle ----------

const keyOf = (d: Device) => `${d.driver}/${d.pool}/${d.name}`;
const claims = (ps: PodSet) =>
  ps.count > 0 && ps.claims && ps.claims.length > 0 ? ps.claims : undefined;

function sameValue(a: DeviceAttributeValue, b: DeviceAttributeValue): boolean {
  if (typeof a === 'object' && typeof b === 'object') return a.version === b.version;
  return typeof a === typeof b && a === b;
}

/**
 * Whether `given` (a node's devices handed to the members placed there, in one batch) can be
 * split exactly among those members so that each member's claims hold: per request one
 * alternative whose class exists and whose class and request selectors every device passes,
 * `count` devices (or, with `All`, every matching device of the node), and each matchAttribute
 * constraint one value over the devices of its requests. Failed states are remembered per member
 * and devices left, so identical members cost once.
 */
function serves(
  cluster: ClusterSnapshot,
  node: NodeSnapshot,
  members: ReadonlyArray<readonly DeviceClaim[]>,
  given: readonly Device[],
): boolean {
  if (given.length > 30) throw new Error('oracle: too many devices on one node');
  const classes = new Map((cluster.deviceClasses ?? []).map((c) => [c.name, c] as const));
  const failed = new Set<string>();
  let steps = 2_000_000;
  const step = () => {
    if (--steps < 0) throw new Error('oracle: search budget exhausted');
  };

  const pin = (
    devices: readonly Device[],
    attributes: readonly string[],
    pinned: ReadonlyMap<string, DeviceAttributeValue>,
  ): Map<string, DeviceAttributeValue> | undefined => {
    const out = new Map(pinned);
    for (const a of attributes)
      for (const d of devices) {
        const v = lookup(d, d.attributes, a);
        if (v === undefined) return undefined;
        const p = out.get(a);
        if (p === undefined) out.set(a, v);
        else if (!sameValue(p, v)) return undefined;
      }
    return out;
  };

  const request = (
    claim: DeviceClaim,
    r: number,
    left: number,
    pinned: ReadonlyMap<string, DeviceAttributeValue>,
    rest: (left: number) => boolean,
  ): boolean => {
    step();
    if (r === claim.requests.length) return rest(left);
    const req = claim.requests[r]!;
    const attributes = (claim.constraints ?? [])
      .filter((k) => !k.requests || k.requests.length === 0 || k.requests.includes(req.name))
      .map((k) => k.matchAttribute);
    for (const alt of req.exactly ? [req.exactly] : (req.firstAvailable ?? [])) {
      const cls = classes.get(alt.deviceClassName);
      if (!cls) continue;
      const selectors = [...cls.selectors, ...(alt.selectors ?? [])];
      const matches = (d: Device) => selectors.every((s) => holds(d, s));
      if (alt.allocationMode === 'All') {
        // Every matching device of the node, each among the given ones still left.
        const every = (node.devices ?? []).filter(matches);
        const at = every.map((d) => given.indexOf(d));
        if (every.length === 0 || at.some((i) => i < 0 || (left & (1 << i)) === 0)) continue;
        const mask = at.reduce((m, i) => m | (1 << i), 0);
        const p = pin(every, attributes, pinned);
        if (p && request(claim, r + 1, left & ~mask, p, rest)) return true;
        continue;
      }
      const pool = given
        .map((_, i) => i)
        .filter((i) => (left & (1 << i)) !== 0 && matches(given[i]!));
      const count = alt.count ?? 1;
      const pick = (from: number, chosen: number[]): boolean => {
        step();
        if (chosen.length === count) {
          const p = pin(
            chosen.map((i) => given[i]!),
            attributes,
            pinned,
          );
          const mask = chosen.reduce((m, i) => m | (1 << i), 0);
          return p !== undefined && request(claim, r + 1, left & ~mask, p, rest);
        }
        for (let j = from; j <= pool.length - (count - chosen.length); j++)
          if (pick(j + 1, [...chosen, pool[j]!])) return true;
        return false;
      };
      if (pick(0, [])) return true;
    }
    return false;
  };

  const claimsOf = (
    cs: readonly DeviceClaim[],
    c: number,
    left: number,
    rest: (left: number) => boolean,
  ): boolean =>
    c === cs.length
      ? rest(left)
      : request(cs[c]!, 0, left, new Map(), (l) => claimsOf(cs, c + 1, l, rest));

  const member = (m: number, left: number): boolean => {
    if (m === members.length) return left === 0;
    const key = `${m}/${left}`;
    if (failed.has(key)) return false;
    const ok = claimsOf(members[m]!, 0, left, (l) => member(m + 1, l));
    if (!ok) failed.add(key);
    return ok;
  };
  return member(0, given.length === 0 ? 0 : 2 ** given.length - 1);
}

/**
 * Checks every placed decision of one batch against the DRA rules: each placed gang's
 * `placement.devices` serves exactly the claims of the members on each node, no device is given
 * twice in the batch or is allocated already, and no shared counter is overdrawn. Throws naming
 * the first broken rule.
 */
function checkDevices(
  clusters: readonly ClusterSnapshot[],
  gangs: readonly Gang[],
  decisions: readonly GangDecision[],
): void {
  const fail = (gang: string, message: string): never => {
    throw new Error(`gang ${gang}: ${message}`);
  };
  const givenOn = new Map<string, Device[]>(); // cluster/node → devices given in the batch
  decisions.forEach((d, g) => {
    const gang = gangs[g]!;
    if (d.status !== 'placed') return;
    const p = d.placement;
    const cluster = clusters.find((c) => c.name === p.cluster) ?? fail(gang.id, 'unknown cluster');
    const members = new Map<string, DeviceClaim[][]>();
    gang.podSets.forEach((ps, k) => {
      const cs = claims(ps);
      if (!cs) return;
      for (const n of p.podSets[k]?.nodes ?? [])
        members.set(n, [...(members.get(n) ?? []), [...cs]]);
    });
    if (members.size === 0) {
      if (p.devices !== undefined) fail(gang.id, 'devices for a gang that claims none');
      return;
    }
    if (gang.matchDeviceAttribute !== undefined) {
      // Every device of every node a claiming member is on carries one value, the same for all.
      const values = new Set<string>();
      for (const n of members.keys())
        for (const dev of cluster.nodes.find((x) => x.name === n)?.devices ?? []) {
          const v = lookup(dev, dev.attributes, gang.matchDeviceAttribute);
          if (v !== undefined)
            values.add(JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x)));
        }
      if (values.size !== 1)
        fail(gang.id, `members on nodes of ${values.size} values of ${gang.matchDeviceAttribute}`);
      stat('placed in one domain');
    }
    const lists = p.devices ?? fail(gang.id, 'no devices for a gang that claims some');
    const listed = new Set(lists.map((l) => l.node));
    if (listed.size !== lists.length || listed.size !== members.size)
      fail(gang.id, `device lists for nodes ${[...listed]} but members on ${[...members.keys()]}`);
    for (const { node: nodeName, devices: keys } of lists) {
      const node =
        cluster.nodes.find((n) => n.name === nodeName) ?? fail(gang.id, `unknown node ${nodeName}`);
      const ms = members.get(nodeName) ?? fail(gang.id, `devices on ${nodeName}, no member there`);
      const batch = givenOn.get(`${cluster.name}/${nodeName}`) ?? [];
      const given = keys.map((k) => {
        const dev =
          (node.devices ?? []).find((x) => keyOf(x) === k) ??
          fail(gang.id, `${nodeName} has no device ${k}`);
        if (dev.allocated) fail(gang.id, `${nodeName}/${k} is allocated already`);
        if (batch.includes(dev)) fail(gang.id, `${nodeName}/${k} is given twice in the batch`);
        batch.push(dev);
        return dev;
      });
      givenOn.set(`${cluster.name}/${nodeName}`, batch);
      if (!serves(cluster, node, ms, given))
        fail(
          gang.id,
          `devices ${keys.join(', ')} on ${nodeName} do not serve its ${ms.length} members' claims`,
        );
    }
  });
  // Shared counters: what allocated devices hold plus what the batch gave stays within each set.
  for (const [where, given] of givenOn) {
    const [cn, nn] = where.split('/');
    const node = clusters.find((c) => c.name === cn)!.nodes.find((n) => n.name === nn)!;
    const full = new Map<string, bigint>();
    for (const cs of node.counterSets ?? [])
      for (const [k, v] of Object.entries(cs.counters))
        full.set(`${cs.driver}/${cs.pool}/${cs.name}:${k}`, v);
    const draw = (d: Device, into: Map<string, bigint>, strict: boolean) => {
      for (const c of d.consumesCounters ?? [])
        for (const [k, v] of Object.entries(c.counters)) {
          const key = `${d.driver}/${d.pool}/${c.counterSet}:${k}`;
          if (!full.has(key) && strict)
            throw new Error(`${where}: ${keyOf(d)} is given but draws on unpublished ${key}`);
          into.set(key, (into.get(key) ?? 0n) + v);
        }
    };
    const held = new Map<string, bigint>();
    const drawn = new Map<string, bigint>();
    for (const d of node.devices ?? []) if (d.allocated) draw(d, held, false);
    for (const d of given) draw(d, drawn, true);
    for (const [key, v] of drawn)
      if (v > 0n && full.get(key)! - (held.get(key) ?? 0n) - v < 0n)
        throw new Error(`${where}: counter ${key} overdrawn`);
  }
}

// ---------- properties ----------

const arbPolicy = fc.constantFrom('pack' as const, 'spread' as const);

/** Gangs of one pod set making one claim of one plain `exactly` request (no constraint). */
const arbPlainGangs = fc
  .array(
    fc.record({
      count: fc.integer({ min: 1, max: 4 }),
      deviceClassName: arbClassName,
      selectors: fc.array(arbSelector, { maxLength: 2 }),
      devices: fc.integer({ min: 1, max: 4 }),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .map((gs) =>
    gs.map((g, i): Gang => ({
      id: `g${i}`,
      podSets: [
        {
          name: 'workers',
          count: g.count,
          requests: { pods: POD, cpu: 1000n },
          claims: [
            {
              name: 'gpus',
              requests: [
                {
                  name: 'gpu',
                  exactly: {
                    deviceClassName: g.deviceClassName,
                    count: g.devices,
                    ...(g.selectors.length > 0 ? { selectors: g.selectors } : {}),
                  },
                },
              ],
            },
          ],
        },
      ],
    })),
  );

/** One change between two snapshots; changed nodes are new objects, the others are shared. */
type Edit = {
  readonly kind: 'allocate' | 'release' | 'remodel' | 'pods' | 'drop';
  readonly at: number;
};

const arbEdit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.oneof(
    { weight: 4, arbitrary: fc.constant('allocate' as const) },
    { weight: 3, arbitrary: fc.constant('release' as const) },
    { weight: 1, arbitrary: fc.constant('remodel' as const) },
    { weight: 2, arbitrary: fc.constant('pods' as const) },
    { weight: 1, arbitrary: fc.constant('drop' as const) },
  ),
  at: fc.nat({ max: 1_000 }),
});

function edit(clusters: readonly ClusterSnapshot[], e: Edit): ClusterSnapshot[] {
  const c = clusters[e.at % clusters.length]!;
  if (c.nodes.length === 0) return [...clusters];
  const ni = Math.floor(e.at / clusters.length) % c.nodes.length;
  const n = c.nodes[ni]!;
  const devices = n.devices ?? [];
  const dj = Math.floor(e.at / 7) % Math.max(1, devices.length);
  const withDevice = (d: Device): NodeSnapshot => ({
    ...n,
    devices: devices.map((x, j) => (j === dj ? d : x)),
  });
  let next: NodeSnapshot | null = n;
  if (e.kind === 'drop') next = null;
  else if (e.kind === 'pods') next = { ...n, free: { ...n.free, pods: BigInt(e.at % 9) * POD } };
  else if (devices.length > 0) {
    const d = devices[dj]!;
    if (e.kind === 'allocate') next = withDevice({ ...d, allocated: true });
    else if (e.kind === 'release') next = withDevice({ ...d, allocated: false });
    else {
      const attrs = { ...d.attributes };
      const model = lookup(d, d.attributes, MODEL);
      attrs[MODEL] = MODELS[(MODELS.indexOf(model as (typeof MODELS)[number]) + 1) % 3]!;
      delete attrs.model;
      next = withDevice({ ...d, attributes: attrs });
    }
  }
  const nodes = c.nodes.flatMap((x, i) => (i !== ni ? [x] : next ? [next] : []));
  return clusters.map((x) => (x === c ? { ...c, nodes } : x));
}

const STATS = new Map<string, number>();
const stat = (k: string) => STATS.set(k, (STATS.get(k) ?? 0) + 1);
afterAll(() => {
  if (process.env.STATS)
    console.log(
      [...STATS.entries()]
        .sort()
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
    );
});

describe('DRA device claims in placement', () => {
  it('gives each placed member devices that serve its claims, and never a device twice, an allocated one or beyond a shared counter', () => {
    let placed = 0;
    fc.assert(
      fc.property(arbFleet(), arbDeviceGangs(6), arbPolicy, (clusters, gangs, policy) => {
        const r = placeBatch(clusters, gangs, { policy });
        checkDevices(clusters, gangs, r.decisions);
        r.decisions.forEach((d, i) => {
          if (d.status === 'placed' && d.placement.devices) placed++;
          if (!process.env.STATS) return;
          const claimed = gangs[i]!.podSets.filter((ps) => claims(ps));
          const kind = claimed.length === 0 ? 'no claims' : `${claimed.length} claiming pod sets`;
          stat(`${d.status} ${kind}`);
          if (d.status === 'unplaced') for (const e of d.explanations) stat(`  ${e.code}`);
          if (d.status === 'invalid') stat(`  invalid: ${d.error.message}`);
        });
      }),
      { numRuns: 250 },
    );
    // Not vacuous: many gangs that claim devices are placed.
    expect(placed).toBeGreaterThan(150);
  });

  it('places a gang of one plain request whenever some cluster has enough matching free devices by count', () => {
    let placed = 0;
    fc.assert(
      fc.property(
        arbFleet({ partitions: false, ample: true }),
        arbPlainGangs,
        arbPolicy,
        (clusters, gangs, policy) => {
          const r = placeBatch(clusters, gangs, { policy });
          checkDevices(clusters, gangs, r.decisions);
          const taken = new Set<string>();
          r.decisions.forEach((d, i) => {
            const ps = gangs[i]!.podSets[0]!;
            const want = ps.claims![0]!.requests[0]!.exactly!;
            const feasible = clusters.filter((c) => {
              const cls = (c.deviceClasses ?? []).find((k) => k.name === want.deviceClassName);
              if (!cls) return false;
              const selectors = [...cls.selectors, ...(want.selectors ?? [])];
              const members = c.nodes.reduce((sum, n) => {
                const free = (n.devices ?? []).filter(
                  (x) =>
                    !x.allocated &&
                    !taken.has(`${c.name}/${n.name}/${keyOf(x)}`) &&
                    selectors.every((s) => holds(x, s)),
                ).length;
                return sum + Math.floor(free / want.count!);
              }, 0);
              return members >= ps.count;
            });
            expect({ gang: d.gangId, status: d.status }).toEqual({
              gang: d.gangId,
              status: feasible.length > 0 ? 'placed' : 'unplaced',
            });
            if (d.status !== 'placed') return;
            placed++;
            for (const l of d.placement.devices ?? [])
              for (const k of l.devices) taken.add(`${d.placement.cluster}/${l.node}/${k}`);
          });
        },
      ),
      { numRuns: 200 },
    );
    expect(placed).toBeGreaterThan(200);
  });

  it('decides device gangs with a PlacementIndex kept from batch to batch as with one built afresh', () => {
    let kept = 0;
    fc.assert(
      fc.property(
        arbFleet(),
        fc.array(
          fc.record({
            edits: fc.array(arbEdit, { maxLength: 4 }),
            // Now and then a batch offers only some gangs: other shapes, another resource space.
            only: fc.option(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), { freq: 4 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        arbDeviceGangs(5),
        arbPolicy,
        (clusters, steps, gangs, policy) => {
          const index = new PlacementIndex();
          let snapshot: ClusterSnapshot[] = clusters;
          for (const { edits, only } of [{ edits: [], only: null }, ...steps]) {
            snapshot = edits.reduce(edit, snapshot);
            const offered = only ? gangs.filter((_, i) => only[i]) : gangs;
            const withIndex = placeBatch(snapshot, offered, { policy, index });
            kept += index.last.kept;
            expect(withIndex).toEqual(placeBatch(snapshot, offered, { policy }));
          }
        },
      ),
      { numRuns: 120 },
    );
    expect(kept).toBeGreaterThan(120);
  });
});

describe('the oracle of these properties', () => {
  // A fixed fleet: n0 has 4 H100 (80 GiB) on two interconnects and an allocated A100; n1 holds
  // partitions of one GPU.
  const gpu = (name: string, model: string, link: string, extra: Partial<Device> = {}): Device => ({
    driver: GPU_DRIVER,
    pool: 'n0',
    name,
    attributes: { [MODEL]: model, [LINK]: link },
    capacity: { [MEMORY]: 80n * GI },
    ...extra,
  });
  const n0: NodeSnapshot = {
    name: 'n0',
    labels: { [RACK]: 'r1', [HOST]: 'n0' },
    allocatable: { pods: 110n * POD, cpu: 64_000n },
    free: { pods: 110n * POD, cpu: 64_000n },
    devices: [
      gpu('gpu-0', 'H100', 'nv-a'),
      gpu('gpu-1', 'H100', 'nv-a'),
      gpu('gpu-2', 'H100', 'nv-b'),
      gpu('gpu-3', 'L40S', 'nv-b'),
      gpu('gpu-4', 'A100', 'nv-a', { allocated: true }),
    ],
  };
  const n1 = makeNode(
    'n1',
    {
      links: 1,
      rack: 'r1',
      gpus: [],
      nics: 0,
      partitioned: true,
      partitionsAllocated: [false, false, false, false, false, false],
      orphan: true,
      pods: 8,
    },
    true,
  );
  const clusters: ClusterSnapshot[] = [
    { name: 'c0', topologyLevels: [RACK, HOST], nodes: [n0, n1], deviceClasses: [GPU_CLASS] },
  ];
  const h100 = cel({ kind: 'model', model: 'H100' });
  const gang = (id: string, claim: DeviceClaim): Gang => ({
    id,
    podSets: [{ name: 'w', count: 1, requests: { pods: POD }, claims: [claim] }],
  });
  const plain = (count: number, selectors: string[], constraints = false): DeviceClaim => ({
    name: 'gpus',
    requests: [{ name: 'r0', exactly: { deviceClassName: GPU_CLASS.name, count, selectors } }],
    ...(constraints ? { constraints: [{ matchAttribute: LINK }] } : {}),
  });
  const placedOn = (node: string, keys: string[], id = 'g'): PlacedDecision => ({
    status: 'placed',
    gangId: id,
    placement: {
      gangId: id,
      cluster: 'c0',
      domain: null,
      podSets: [{ podSet: 'w', nodes: [node], domain: null }],
      devices: [{ node, devices: keys.map((k) => `${GPU_DRIVER}/${node}/${k}`) }],
    },
  });
  const check = (gangs: Gang[], decisions: GangDecision[]) => () =>
    checkDevices(clusters, gangs, decisions);

  it('accepts what placement decides here', () => {
    const gangs = [gang('a', plain(2, [h100], true)), gang('b', plain(1, [h100]))];
    const r = placeBatch(clusters, gangs);
    expect(r.placed).toBe(2);
    expect(check(gangs, [...r.decisions])).not.toThrow();
  });

  it('refuses a device given twice, an allocated one, a failed selector, a split interconnect, a short count', () => {
    const one = gang('a', plain(1, [h100]));
    const two = gang('b', plain(1, [h100]));
    expect(check([one, two], [placedOn('n0', ['gpu-0']), placedOn('n0', ['gpu-0'], 'b')])).toThrow(
      /given twice/,
    );
    expect(check([one], [placedOn('n0', ['gpu-4'])])).toThrow(/allocated already/);
    expect(check([one], [placedOn('n0', ['gpu-3'])])).toThrow(/do not serve/);
    const linked = gang('a', plain(2, [h100], true));
    expect(check([linked], [placedOn('n0', ['gpu-1', 'gpu-2'])])).toThrow(/do not serve/);
    expect(check([linked], [placedOn('n0', ['gpu-0', 'gpu-1'])])).not.toThrow();
    expect(check([linked], [placedOn('n0', ['gpu-0'])])).toThrow(/do not serve/);
    expect(check([linked], [placedOn('n0', ['gpu-0', 'gpu-1', 'gpu-2'])])).toThrow(/do not serve/);
  });

  it('refuses All short of every matching device, and partitions beyond their counters', () => {
    const all = gang('a', {
      name: 'gpus',
      requests: [
        {
          name: 'r0',
          exactly: { deviceClassName: GPU_CLASS.name, allocationMode: 'All', selectors: [h100] },
        },
      ],
    });
    expect(check([all], [placedOn('n0', ['gpu-0', 'gpu-1', 'gpu-2'])])).not.toThrow();
    expect(check([all], [placedOn('n0', ['gpu-0', 'gpu-1'])])).toThrow(/do not serve/);
    const part = (id: string) => gang(id, plain(1, [cel({ kind: 'memoryAtLeast', gi: 40 })]));
    const [p, q] = [part('p'), part('q')];
    expect(check([p], [placedOn('n1', ['part-4g-0'], 'p')])).not.toThrow();
    // Two 4g partitions: 80 GiB of 80 but 8 slices of 7.
    expect(
      check([p, q], [placedOn('n1', ['part-4g-0'], 'p'), placedOn('n1', ['part-4g-1'], 'q')]),
    ).toThrow(/overdrawn/);
    const small = gang('s', plain(1, [cel({ kind: 'model', model: 'H100' })]));
    expect(check([small], [placedOn('n1', ['part-1g-x'], 's')])).toThrow(/unpublished/);
  });
});

// Found by these tests (each failed before devices.ts and place.ts were fixed for it).
describe('allocation cases the properties found', () => {
  const node = (devices: Device[], counterSets: CounterSet[] = []): ClusterSnapshot => ({
    name: 'c0',
    topologyLevels: [HOST],
    deviceClasses: [GPU_CLASS],
    nodes: [
      {
        name: 'n0',
        labels: { [HOST]: 'n0' },
        allocatable: { pods: 110n * POD },
        free: { pods: 110n * POD },
        devices,
        ...(counterSets.length > 0 ? { counterSets } : {}),
      },
    ],
  });
  const gpu = (name: string, attributes: Record<string, DeviceAttributeValue>): Device => ({
    driver: GPU_DRIVER,
    pool: 'n0',
    name,
    attributes,
    capacity: { [MEMORY]: 80n * GI },
  });
  const one = (requests: DeviceRequest[], constraints?: DeviceClaim['constraints']): Gang => ({
    id: 'g',
    podSets: [
      {
        name: 'w',
        count: 1,
        requests: { pods: POD },
        claims: [{ name: 'gpus', requests, ...(constraints ? { constraints } : {}) }],
      },
    ],
  });
  const exactly = (count: number, selectors?: string[]): ExactDeviceRequest => ({
    deviceClassName: GPU_CLASS.name,
    count,
    ...(selectors ? { selectors } : {}),
  });

  it('keeps matchAttribute typed: the string "1n" and the int 1 are different values', () => {
    const clusters = [node([gpu('a', { [LINK]: '1n' }), gpu('b', { [LINK]: 1n })])];
    const gangs = [one([{ name: 'r0', exactly: exactly(2) }], [{ matchAttribute: LINK }])];
    const r = placeBatch(clusters, gangs);
    checkDevices(clusters, gangs, r.decisions);
  });

  it('allocates a member whose requests fit only with another device for the first', () => {
    // r0 (any GPU) must leave the H100 to r1: the allocator tries r0 with the A100 too.
    const clusters = [node([gpu('h', { [MODEL]: 'H100' }), gpu('a', { [MODEL]: 'A100' })])];
    const r = placeBatch(clusters, [
      one([
        { name: 'r0', exactly: exactly(1) },
        { name: 'r1', exactly: exactly(1, [cel({ kind: 'model', model: 'H100' })]) },
      ]),
    ]);
    expect(r.placed).toBe(1);
  });

  it('places pod sets whose claims would compete on one node on two nodes instead', () => {
    // Both shapes fit n0 by the index's count, and compete there: the cluster is tried again
    // with the pod set that failed kept off n0.
    const h100 = cel({ kind: 'model', model: 'H100' });
    const clusters: ClusterSnapshot[] = [
      {
        ...node([]),
        nodes: ['n0', 'n1'].map((n) => ({
          name: n,
          labels: { [HOST]: n },
          allocatable: { pods: 110n * POD },
          free: { pods: 110n * POD },
          devices: [0, 1, 2, 3].map((i) => ({ ...gpu(`gpu-${i}`, { [MODEL]: 'H100' }), pool: n })),
        })),
      },
    ];
    const podSet = (name: string, claim: DeviceClaim): PodSet => ({
      name,
      count: 1,
      requests: { pods: POD },
      claims: [claim],
    });
    const gang: Gang = {
      id: 'g',
      podSets: [
        podSet('leader', { name: 'gpus', requests: [{ name: 'r0', exactly: exactly(1, [h100]) }] }),
        podSet('worker', { name: 'gpus', requests: [{ name: 'r0', exactly: exactly(4) }] }),
      ],
    };
    expect(placeBatch(clusters, [gang]).placed).toBe(1);
  });

  it('allocates two halves of a partitioned GPU when the whole one comes first', () => {
    // `whole` comes first and would leave no counter for either half: it must be passed over.
    const part = (name: string, gi: bigint): Device => ({
      driver: GPU_DRIVER,
      pool: 'n0',
      name,
      capacity: { [MEMORY]: gi * GI },
      consumesCounters: [{ counterSet: 'gpu-0', counters: { memory: gi * GI } }],
    });
    const clusters = [
      node(
        [part('whole', 80n), part('half-0', 40n), part('half-1', 40n)],
        [{ driver: GPU_DRIVER, pool: 'n0', name: 'gpu-0', counters: { memory: 80n * GI } }],
      ),
    ];
    expect(placeBatch(clusters, [one([{ name: 'r0', exactly: exactly(2) }])]).placed).toBe(1);
  });
});
