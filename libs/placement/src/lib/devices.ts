/**
 * DRA devices (resource.k8s.io/v1) in placement: the devices each node's ResourceSlices publish,
 * the device claims each member of a pod set makes, and the exact allocation of one member's
 * claims on one node, as the worker's scheduler would make it.
 *
 * How devices meet the capacity index: every distinct set of claims one member makes (a
 * "shape") becomes a resource of its own for the batch, named `devices.muster.dev/<hash>`. A
 * node's free amount of it is how many members of that shape its free devices can serve, found
 * by allocating them one after another; a member requests one. The index then prunes and
 * chooses with its usual arithmetic. After each placement the members' devices are allocated for
 * real on their nodes (devices can serve several shapes, so this is the only exact account), and
 * every shape's amount on those nodes is recomputed from what is left.
 */
import { Environment } from '@marcbachmann/cel-js';
import { parseQuantity } from './quantity';

/** A typed device attribute: string, int, bool, or a semantic version. */
export type DeviceAttributeValue = string | bigint | boolean | { readonly version: string };

/** What a partitionable device draws from one shared counter set of its pool while allocated. */
export interface CounterConsumption {
  readonly counterSet: string;
  /** Counter name to amount (milli-units, as quantities are kept everywhere in placement). */
  readonly counters: Readonly<Record<string, bigint>>;
}

/** One device of a node, as its ResourceSlice publishes it. */
export interface Device {
  readonly driver: string;
  readonly pool: string;
  /** Unique within driver and pool. */
  readonly name: string;
  /** Fully qualified attribute name (`gpu.example.com/model`) to value. */
  readonly attributes?: Readonly<Record<string, DeviceAttributeValue>>;
  /** Fully qualified capacity name (`gpu.example.com/memory`) to amount in milli-units. */
  readonly capacity?: Readonly<Record<string, bigint>>;
  /** Allocated to a claim already (by anyone). Default `false`. */
  readonly allocated?: boolean;
  /**
   * Who holds it, when the cluster says (a scheduler's own key for its gangs); placement does
   * not read it.
   */
  readonly heldBy?: string;
  readonly consumesCounters?: readonly CounterConsumption[];
}

/** A pool's shared counters, in full (what allocated devices consume is subtracted here). */
export interface CounterSet {
  readonly driver: string;
  readonly pool: string;
  readonly name: string;
  readonly counters: Readonly<Record<string, bigint>>;
}

/** A cluster's DeviceClass: every device of the class satisfies all its CEL selectors. */
export interface DeviceClass {
  readonly name: string;
  readonly selectors: readonly string[];
}

/** One way to satisfy a request: `count` devices of a class (or all of them) that pass selectors. */
export interface ExactDeviceRequest {
  readonly deviceClassName: string;
  /** CEL expressions over `device`; all must be true. */
  readonly selectors?: readonly string[];
  /** Default `'ExactCount'`. `'All'`: every matching device of the node, at least one. */
  readonly allocationMode?: 'ExactCount' | 'All';
  /** Default 1; only with `ExactCount`. */
  readonly count?: number;
}

/** A request of a claim: exactly one of `exactly` and `firstAvailable` (tried in order). */
export interface DeviceRequest {
  readonly name: string;
  readonly exactly?: ExactDeviceRequest;
  readonly firstAvailable?: readonly (ExactDeviceRequest & { readonly name: string })[];
}

/** All devices of the listed requests (default: every request of the claim) share an attribute. */
export interface DeviceConstraint {
  readonly requests?: readonly string[];
  /** A fully qualified attribute name, e.g. `gpu.example.com/interconnect`. */
  readonly matchAttribute: string;
}

/** One claim every member of a pod set makes (from a ResourceClaimTemplate). */
export interface DeviceClaim {
  readonly name: string;
  readonly requests: readonly DeviceRequest[];
  readonly constraints?: readonly DeviceConstraint[];
}

/** Most devices one request may ask for, as Kubernetes allows per request. */
export const MAX_DEVICES_PER_REQUEST = 128;

// ----- CEL ---------------------------------------------------------------------------------

/** A Kubernetes quantity inside CEL (`quantity("80Gi")`, `device.capacity[...].memory`). */
class Quantity {
  constructor(readonly milli: bigint) {}
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/;

/** A semantic version inside CEL (`semver("1.2.3")`, version attributes). */
class Semver {
  readonly parts: readonly bigint[];
  constructor(readonly text: string) {
    const m = SEMVER.exec(text);
    if (!m) throw new Error(`"${text}" is not a semantic version`);
    this.parts = [BigInt(m[1]), BigInt(m[2]), BigInt(m[3])];
  }
}

function compare(a: readonly bigint[], b: readonly bigint[]): bigint {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1n : 1n;
  return 0n;
}

function quantityOfText(text: string): Quantity {
  const q = parseQuantity(text);
  if (!q.ok) throw new Error(q.error.message);
  return new Quantity(q.value);
}

/**
 * The CEL environment of DRA selectors: `device` (driver, attributes and capacity by domain) and
 * Kubernetes' quantity and semver functions. Only what DRA selectors use; the evaluator is a
 * maintained CEL implementation, this file only declares the Kubernetes library on top.
 */
function celEnvironment(): Environment {
  const env = new Environment()
    .registerType('Quantity', { ctor: Quantity, fields: {} })
    .registerType('Semver', { ctor: Semver, fields: {} })
    .registerFunction('quantity(string): Quantity', quantityOfText)
    .registerFunction('semver(string): Semver', (s: string) => new Semver(s))
    .registerFunction('isQuantity(string): bool', (s: string) => parseQuantity(s).ok)
    .registerFunction('isSemver(string): bool', (s: string) => SEMVER.test(s))
    .registerVariable('device', 'map');
  for (const [type, value] of [
    ['Quantity', (q: Quantity) => [q.milli]],
    ['Semver', (s: Semver) => s.parts],
  ] as const) {
    const v = value as (x: unknown) => readonly bigint[];
    const method = (
      name: string,
      returnType: string,
      handler: (a: unknown, b: unknown) => unknown,
    ) =>
      env.registerFunction({
        name,
        receiverType: type,
        returnType,
        params: [{ name: 'other', type }],
        handler,
      });
    method('compareTo', 'int', (a, b) => compare(v(a), v(b)));
    method('isGreaterThan', 'bool', (a, b) => compare(v(a), v(b)) > 0n);
    method('isLessThan', 'bool', (a, b) => compare(v(a), v(b)) < 0n);
  }
  return env;
}

let environment: Environment | undefined;
type Compiled = (context: { device: unknown }) => unknown;
const compiled = new Map<string, { ok: true; fn: Compiled } | { ok: false; message: string }>();

/** Longest selector accepted, as Kubernetes bounds CEL expressions. */
export const MAX_SELECTOR_LENGTH = 10 * 1024;

/** Compiles (and type-checks) one DRA CEL selector; the message says what is wrong with it. */
export function compileDeviceSelector(
  expression: string,
): { ok: true } | { ok: false; message: string } {
  const c = compile(expression);
  return c.ok ? { ok: true } : c;
}

function compile(expression: string): { ok: true; fn: Compiled } | { ok: false; message: string } {
  const hit = compiled.get(expression);
  if (hit) return hit;
  let out: { ok: true; fn: Compiled } | { ok: false; message: string };
  if (typeof expression !== 'string' || expression.trim() === '') {
    out = { ok: false, message: 'a selector must be a non-empty CEL expression' };
  } else if (expression.length > MAX_SELECTOR_LENGTH) {
    out = { ok: false, message: `a selector is at most ${MAX_SELECTOR_LENGTH} characters` };
  } else {
    environment ??= celEnvironment();
    const checked = environment.check(expression);
    if (!checked.valid) {
      out = { ok: false, message: `not a valid CEL selector: ${firstLine(checked.error)}` };
    } else if (checked.type !== 'bool' && checked.type !== 'dyn') {
      out = {
        ok: false,
        message: `a selector must be a bool expression (this is ${checked.type})`,
      };
    } else {
      out = { ok: true, fn: environment.parse(expression) as unknown as Compiled };
    }
  }
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(expression, out);
  return out;
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0]!.slice(0, 300);
}

/** The `device` variable of CEL for one device, once per device object. */
const celDevices = new WeakMap<Device, unknown>();

function celDevice(d: Device): unknown {
  let out = celDevices.get(d);
  if (out) return out;
  const attributes: Record<string, Record<string, unknown>> = {};
  const capacity: Record<string, Record<string, unknown>> = {};
  for (const [qualified, value] of Object.entries(d.attributes ?? {})) {
    const [domain, name] = split(qualified, d.driver);
    const celValue =
      typeof value === 'object' && value !== null ? new Semver(value.version) : value;
    (attributes[domain] ??= {})[name] = celValue;
  }
  for (const [qualified, amount] of Object.entries(d.capacity ?? {})) {
    const [domain, name] = split(qualified, d.driver);
    (capacity[domain] ??= {})[name] = new Quantity(amount);
  }
  out = { driver: d.driver, attributes, capacity, allowMultipleAllocations: false };
  celDevices.set(d, out);
  return out;
}

function split(qualified: string, driver: string): [string, string] {
  const slash = qualified.lastIndexOf('/');
  return slash < 0 ? [driver, qualified] : [qualified.slice(0, slash), qualified.slice(slash + 1)];
}

/** Each device's content (what CEL can see of it), once per device object. */
const signatures = new WeakMap<Device, string>();
/**
 * Selector results by selector set and what the selectors read of a device: nodes repeat the
 * same few devices, and selectors mostly read one or two of their fields.
 */
const byContent = new Map<string, boolean>();
const selectorSets = new Map<string, number>();

/** What CEL sees of a device (not its name or pool), as text, once per device object. */
function signatureOf(d: Device): string {
  let s = signatures.get(d);
  if (s === undefined) {
    s = JSON.stringify([d.driver, d.attributes ?? {}, d.capacity ?? {}], (_k, v: unknown) =>
      typeof v === 'bigint' ? `${v}n` : v,
    );
    signatures.set(d, s);
  }
  return s;
}

/** A small number standing for a list of selectors, so caches key on numbers. */
function selectorSet(selectors: readonly string[]): number {
  const key = selectors.join('\u0000');
  let id = selectorSets.get(key);
  if (id === undefined) {
    selectorSets.set(key, (id = selectorSets.size));
    setReferences.set(id, referencesOf(selectors));
  }
  return id;
}

/** A field of `device` a selector reads: its driver, or one attribute or capacity by name. */
type Reference = { kind: 'driver' } | { kind: 'attribute' | 'capacity'; qualified: string };
/** Per selector set, the fields its selectors read, when every use of `device` is one of them. */
const setReferences = new Map<number, readonly Reference[] | undefined>();

const FIELD =
  /\bdevice\.driver\b|\bdevice\.(attributes|capacity)\[\s*(["'])([^"'\\]+)\2\s*\]\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * The fields of `device` the selectors read, or `undefined` when some use of `device` is not a
 * plain field read (a map walked with `in` or a macro, a name inside a string literal): then a
 * selector's result is cached by the device's whole content instead of by these fields. Not a
 * CEL parser: it only has to recognise the plain reads that selectors mostly are, and to say
 * "don't know" for everything else.
 */
function referencesOf(selectors: readonly string[]): readonly Reference[] | undefined {
  const refs: Reference[] = [];
  for (const text of selectors) {
    const uses = text.match(/\bdevice\b/g)?.length ?? 0;
    let found = 0;
    for (const m of text.matchAll(FIELD)) {
      found++;
      if (m[1] === undefined) refs.push({ kind: 'driver' });
      else
        refs.push({
          kind: m[1] === 'attributes' ? 'attribute' : 'capacity',
          qualified: `${m[3]}/${m[4]}`,
        });
    }
    if (found !== uses) return undefined;
  }
  return refs;
}

/** What `d` shows of the referenced fields, as text (a missing field shows as missing). */
function referencedText(d: Device, refs: readonly Reference[]): string {
  let out = '';
  for (const r of refs) {
    if (r.kind === 'driver') out += `d:${d.driver}\u0000`;
    else if (r.kind === 'attribute') {
      const v = attributeOf(d, r.qualified);
      out += v === undefined ? '-\u0000' : `${valueKey(v)}\u0000`;
    } else {
      const v = capacityOf(d, r.qualified, d.driver);
      out += v === undefined ? '-\u0000' : `q:${v}\u0000`;
    }
  }
  return out;
}

/** Whether `d` passes every selector of set `set`; an evaluation error (a missing attribute) means no. */
function passes(d: Device, set: number, selectors: readonly string[]): boolean {
  if (selectors.length === 0) return true;
  const refs = setReferences.get(set);
  const key = `${set}|${refs ? referencedText(d, refs) : signatureOf(d)}`;
  let hit = byContent.get(key);
  if (hit === undefined) {
    hit = evaluate(d, selectors);
    if (byContent.size > 200_000) byContent.clear();
    byContent.set(key, hit);
  }
  return hit;
}

function evaluate(d: Device, selectors: readonly string[]): boolean {
  for (const s of selectors) {
    const c = compile(s);
    if (!c.ok) return false;
    try {
      if (c.fn({ device: celDevice(d) }) !== true) return false;
    } catch {
      return false;
    }
  }
  return true;
}

// ----- checking claims ---------------------------------------------------------------------

/** What is wrong with a pod set's claims, with the path below `claims`, or `undefined`. */
export function claimsProblem(claims: unknown): { field: string; message: string } | undefined {
  if (!Array.isArray(claims)) return { field: '', message: 'claims must be a list' };
  const names = new Set<string>();
  for (let c = 0; c < claims.length; c++) {
    const claim = claims[c] as DeviceClaim;
    const cf = `[${c}]`;
    if (!claim || typeof claim.name !== 'string' || claim.name === '')
      return { field: `${cf}.name`, message: 'a claim needs a name' };
    if (names.has(claim.name))
      return { field: `${cf}.name`, message: `claim name ${claim.name} is used twice` };
    names.add(claim.name);
    if (!Array.isArray(claim.requests) || claim.requests.length === 0)
      return { field: `${cf}.requests`, message: `claim ${claim.name} has no requests` };
    const requestNames = new Set<string>();
    for (let r = 0; r < claim.requests.length; r++) {
      const req = claim.requests[r] as DeviceRequest;
      const rf = `${cf}.requests[${r}]`;
      if (!req || typeof req.name !== 'string' || req.name === '')
        return { field: `${rf}.name`, message: 'a request needs a name' };
      if (requestNames.has(req.name))
        return { field: `${rf}.name`, message: `request name ${req.name} is used twice` };
      requestNames.add(req.name);
      if ((req.exactly === undefined) === (req.firstAvailable === undefined))
        return {
          field: rf,
          message: `request ${req.name} needs exactly one of exactly and firstAvailable`,
        };
      if (req.exactly) {
        const p = exactProblem(req.exactly);
        if (p)
          return { field: `${rf}.exactly${p.field}`, message: `request ${req.name}: ${p.message}` };
      } else {
        const alts = req.firstAvailable;
        if (!Array.isArray(alts) || alts.length === 0)
          return {
            field: `${rf}.firstAvailable`,
            message: `request ${req.name} lists no alternatives`,
          };
        const altNames = new Set<string>();
        for (let a = 0; a < alts.length; a++) {
          const alt = alts[a]!;
          const af = `${rf}.firstAvailable[${a}]`;
          if (!alt || typeof alt.name !== 'string' || alt.name === '' || altNames.has(alt.name))
            return { field: `${af}.name`, message: 'an alternative needs a name of its own' };
          altNames.add(alt.name);
          const p = exactProblem(alt);
          if (p)
            return {
              field: `${af}${p.field}`,
              message: `request ${req.name}/${alt.name}: ${p.message}`,
            };
        }
      }
    }
    const constraints = claim.constraints ?? [];
    if (!Array.isArray(constraints))
      return { field: `${cf}.constraints`, message: 'constraints must be a list' };
    for (let k = 0; k < constraints.length; k++) {
      const con = constraints[k] as DeviceConstraint;
      const kf = `${cf}.constraints[${k}]`;
      if (!con || typeof con.matchAttribute !== 'string' || !con.matchAttribute.includes('/'))
        return {
          field: `${kf}.matchAttribute`,
          message: 'matchAttribute must be a fully qualified attribute name (domain/name)',
        };
      for (const name of con.requests ?? []) {
        if (!requestNames.has(name))
          return { field: `${kf}.requests`, message: `constraint names unknown request ${name}` };
      }
    }
  }
  return undefined;
}

function exactProblem(e: ExactDeviceRequest): { field: string; message: string } | undefined {
  if (!e || typeof e.deviceClassName !== 'string' || e.deviceClassName === '')
    return { field: '.deviceClassName', message: 'deviceClassName is required' };
  const mode = e.allocationMode ?? 'ExactCount';
  if (mode !== 'ExactCount' && mode !== 'All')
    return { field: '.allocationMode', message: `allocationMode must be ExactCount or All` };
  if (e.count !== undefined) {
    if (mode === 'All')
      return { field: '.count', message: 'count is not allowed with allocationMode All' };
    if (!Number.isInteger(e.count) || e.count < 1 || e.count > MAX_DEVICES_PER_REQUEST)
      return { field: '.count', message: `count must be between 1 and ${MAX_DEVICES_PER_REQUEST}` };
  }
  const selectors = e.selectors ?? [];
  if (!Array.isArray(selectors))
    return { field: '.selectors', message: 'selectors must be a list' };
  for (let s = 0; s < selectors.length; s++) {
    const c = compileDeviceSelector(selectors[s]!);
    if (!c.ok) return { field: `.selectors[${s}]`, message: c.message };
  }
  return undefined;
}

// ----- allocating on one node ------------------------------------------------------------

/** A device's key within its node: driver/pool/name. */
export function deviceKey(d: Device): string {
  return `${d.driver}/${d.pool}/${d.name}`;
}

/** The devices of one node and what of them is still free, within one batch. */
export class NodeDevices {
  /** Positions in `devices` taken by this batch's placements (or by pending reservations). */
  readonly taken = new Set<number>();
  /** Per counter set (`driver/pool/name`), what is left of each counter. */
  readonly counters = new Map<string, Map<string, bigint>>();

  /**
   * `whole`: as if nothing were allocated (what the node could serve when empty, the
   * "allocatable" of a shape).
   */
  constructor(
    readonly devices: readonly Device[],
    counterSets: readonly CounterSet[],
    readonly classes: ReadonlyMap<string, DeviceClass>,
    private readonly whole = false,
    /** Candidates per request alternative (they depend only on devices and classes). */
    private readonly matching = new Map<ExactDeviceRequest, number[] | undefined>(),
  ) {
    for (const cs of counterSets)
      this.counters.set(`${cs.driver}/${cs.pool}/${cs.name}`, new Map(Object.entries(cs.counters)));
    if (!whole)
      devices.forEach((d, i) => {
        if (d.allocated) this.consume(i, 1n);
      });
  }

  /** Marks the devices with these keys as taken (a pending reservation's); unknown keys are ignored. */
  takeKeys(keys: Iterable<string>): void {
    const want = new Set(keys);
    this.devices.forEach((d, i) => {
      if (want.has(deviceKey(d)) && this.isFree(i)) {
        this.taken.add(i);
        this.consume(i, 1n);
      }
    });
  }

  isFree(i: number): boolean {
    return (this.whole || !this.devices[i]!.allocated) && !this.taken.has(i);
  }

  /** Takes (`times` 1n) or gives back (`times` -1n) the counters device `i` consumes. */
  private consume(i: number, times: bigint): void {
    const d = this.devices[i]!;
    for (const c of d.consumesCounters ?? []) {
      const set = this.counters.get(`${d.driver}/${d.pool}/${c.counterSet}`);
      if (!set) continue;
      for (const [name, amount] of Object.entries(c.counters))
        set.set(name, (set.get(name) ?? 0n) - amount * times);
    }
  }

  /** Whether the counters device `i` consumes are available. A counter set not published: no. */
  private countersAllow(i: number): boolean {
    const d = this.devices[i]!;
    for (const c of d.consumesCounters ?? []) {
      const set = this.counters.get(`${d.driver}/${d.pool}/${c.counterSet}`);
      if (!set) return false;
      for (const [name, amount] of Object.entries(c.counters))
        if ((set.get(name) ?? 0n) < amount) return false;
    }
    return true;
  }

  private take(i: number): void {
    this.taken.add(i);
    this.consume(i, 1n);
  }

  private give(i: number): void {
    this.taken.delete(i);
    this.consume(i, -1n);
  }

  /**
   * Positions of the devices matching a request alternative (its class's selectors and its
   * own), free or not; `undefined` when the cluster has no such class.
   */
  candidates(e: ExactDeviceRequest): readonly number[] | undefined {
    if (this.matching.has(e)) return this.matching.get(e);
    const cls = this.classes.get(e.deviceClassName);
    let out: number[] | undefined;
    if (cls) {
      const selectors = [...cls.selectors, ...(e.selectors ?? [])];
      const set = selectorSet(selectors);
      out = [];
      for (let i = 0; i < this.devices.length; i++)
        if (passes(this.devices[i]!, set, selectors)) out.push(i);
    }
    this.matching.set(e, out);
    return out;
  }

  /** The same node's devices as if nothing were allocated, sharing what matched what. */
  asWhole(counterSets: readonly CounterSet[]): NodeDevices {
    return new NodeDevices(this.devices, counterSets, this.classes, true, this.matching);
  }

  /**
   * Allocates one member's claims from the free devices and keeps them taken; returns the
   * devices per claim, or `undefined` (nothing taken) when the member's claims cannot be met here.
   * The search tries every alternative and every value of each constrained attribute, bounded by
   * `budget` steps: beyond it the member is said not to fit (never a wrong allocation).
   */
  allocate(claims: readonly DeviceClaim[], budget = 2048): number[] | undefined {
    const chosen: number[] = [];
    const steps = { left: budget };
    const ok = this.claimsFrom(claims, 0, chosen, steps);
    if (!ok) return undefined;
    return chosen;
  }

  private claimsFrom(
    claims: readonly DeviceClaim[],
    c: number,
    chosen: number[],
    steps: { left: number },
  ): boolean {
    if (c === claims.length) return true;
    const claim = claims[c]!;
    const mark = chosen.length;
    const pinned = new Map<string, unknown>();
    const ok = this.requestsFrom(claim, 0, pinned, chosen, steps, () =>
      this.claimsFrom(claims, c + 1, chosen, steps),
    );
    if (!ok) this.release(chosen, mark);
    return ok;
  }

  private release(chosen: number[], mark: number): void {
    while (chosen.length > mark) this.give(chosen.pop()!);
  }

  /**
   * Request `r` of `claim` and all after it, then `rest`. `pinned` holds the value each
   * constrained attribute took from the devices chosen so far for this claim.
   */
  private requestsFrom(
    claim: DeviceClaim,
    r: number,
    pinned: Map<string, unknown>,
    chosen: number[],
    steps: { left: number },
    rest: () => boolean,
  ): boolean {
    if (r === claim.requests.length) return rest();
    if (--steps.left < 0) return false;
    const req = claim.requests[r]!;
    const attributes = (claim.constraints ?? [])
      .filter((k) => !k.requests || k.requests.length === 0 || k.requests.includes(req.name))
      .map((k) => k.matchAttribute);
    const alternatives = req.exactly ? [req.exactly] : (req.firstAvailable ?? []);
    for (const alt of alternatives) {
      const all = this.candidates(alt);
      if (!all || all.length === 0) continue;
      const mode = alt.allocationMode ?? 'ExactCount';
      if (mode === 'All' && all.some((i) => !this.isFree(i))) continue;
      const count = mode === 'All' ? all.length : (alt.count ?? 1);
      const usable = all.filter((i) => this.isFree(i));
      if (usable.length < count) continue;
      // Values of the constrained attributes not yet pinned: try each value group in turn.
      const open = attributes.filter((a) => !pinned.has(a));
      const groups =
        attributes.length === 0 ? [usable] : this.valueGroups(usable, attributes, pinned);
      for (const group of groups) {
        if (group.length < count) continue;
        const newly = open.map((a) => [a, attributeOf(this.devices[group[0]!]!, a)] as const);
        for (const [a, v] of newly) pinned.set(a, v);
        const next = () => this.requestsFrom(claim, r + 1, pinned, chosen, steps, rest);
        if (this.pick(group, 0, count, chosen, steps, next)) return true;
        for (const [a] of newly) pinned.delete(a);
        if (steps.left < 0) return false;
      }
    }
    return false;
  }

  /**
   * Takes `need` more devices of `group` (from position `from` on), then `rest`; on failure tries
   * other devices, as Kubernetes' allocator does (the first free devices may be the wrong ones:
   * a whole GPU whose counter its partitions need, a device another request alone can use).
   */
  private pick(
    group: readonly number[],
    from: number,
    need: number,
    chosen: number[],
    steps: { left: number },
    rest: () => boolean,
  ): boolean {
    if (need === 0) return rest();
    for (let k = from; k <= group.length - need; k++) {
      if (--steps.left < 0) return false;
      const i = group[k]!;
      if (!this.isFree(i) || !this.countersAllow(i)) continue;
      this.take(i);
      chosen.push(i);
      if (this.pick(group, k + 1, need - 1, chosen, steps, rest)) return true;
      chosen.pop();
      this.give(i);
    }
    return false;
  }

  /**
   * `usable` split by the values of `attributes` (a device lacking one is in no group), each
   * group consistent with the values already pinned; largest groups first.
   */
  private valueGroups(
    usable: readonly number[],
    attributes: readonly string[],
    pinned: ReadonlyMap<string, unknown>,
  ): number[][] {
    const groups = new Map<string, number[]>();
    for (const i of usable) {
      const d = this.devices[i]!;
      const values: unknown[] = [];
      let fits = true;
      for (const a of attributes) {
        const v = attributeOf(d, a);
        if (v === undefined || (pinned.has(a) && !sameValue(pinned.get(a), v))) {
          fits = false;
          break;
        }
        values.push(v);
      }
      if (!fits) continue;
      const key = values.map(valueKey).join('\u0000');
      const g = groups.get(key) ?? [];
      g.push(i);
      groups.set(key, g);
    }
    return [...groups.values()].sort((a, b) => b.length - a.length);
  }

  /**
   * The capacity of the commonest claims without allocating member after member: one claim of
   * one `exactly` request for `count` devices that draw on no counters, optionally kept to one
   * value of matched attributes. Taking `count` devices at a time leaves floor(free / count)
   * members per value group, whichever devices each one takes. `undefined` for other claims.
   */
  private simpleCapacity(claims: readonly DeviceClaim[], limit: number): number | undefined {
    if (claims.length !== 1) return undefined;
    const claim = claims[0]!;
    const req = claim.requests.length === 1 ? claim.requests[0]!.exactly : undefined;
    if (!req || (req.allocationMode ?? 'ExactCount') !== 'ExactCount') return undefined;
    const count = req.count ?? 1;
    const all = this.candidates(req);
    if (!all) return 0;
    const free: number[] = [];
    for (const i of all) {
      if ((this.devices[i]!.consumesCounters ?? []).length > 0) return undefined;
      if (this.isFree(i)) free.push(i);
    }
    const attributes = (claim.constraints ?? []).map((k) => k.matchAttribute);
    if (attributes.length === 0) return Math.min(limit, Math.floor(free.length / count));
    let members = 0;
    for (const group of this.valueGroups(free, attributes, new Map()))
      members += Math.floor(group.length / count);
    return Math.min(limit, members);
  }

  /** Gives back devices taken by {@link allocate}. */
  free(positions: readonly number[]): void {
    for (const i of positions) if (this.taken.has(i)) this.give(i);
  }

  /**
   * How many members with these claims the free devices serve, one after another, up to `limit`
   * (nothing stays taken).
   */
  capacity(claims: readonly DeviceClaim[], limit: number): number {
    const simple = this.simpleCapacity(claims, limit);
    if (simple !== undefined) return simple;
    const held: number[][] = [];
    while (held.length < limit) {
      const got = this.allocate(claims);
      if (!got) break;
      held.push(got);
    }
    for (const h of held) this.free(h);
    return held.length;
  }
}

/** A device's attribute by qualified name (an unqualified entry carries the driver's domain). */
export function attributeOf(d: Device, qualified: string): DeviceAttributeValue | undefined {
  const attrs = d.attributes ?? {};
  if (Object.prototype.hasOwnProperty.call(attrs, qualified)) return attrs[qualified];
  // An unqualified name in the slice carries the driver's domain.
  const [domain, name] = split(qualified, d.driver);
  return domain === d.driver && Object.prototype.hasOwnProperty.call(attrs, name)
    ? attrs[name]
    : undefined;
}

/** A typed text of an attribute value: the string "1" and the int 1 differ. */
function valueKey(v: unknown): string {
  if (typeof v === 'string') return `s:${v}`;
  if (typeof v === 'bigint') return `i:${v}`;
  if (typeof v === 'boolean') return `b:${v}`;
  return `v:${(v as { version: string }).version}`;
}

function capacityOf(d: Device, qualified: string, driver: string): bigint | undefined {
  const caps = d.capacity ?? {};
  if (Object.prototype.hasOwnProperty.call(caps, qualified)) return caps[qualified];
  const [domain, name] = split(qualified, driver);
  return domain === driver && Object.prototype.hasOwnProperty.call(caps, name)
    ? caps[name]
    : undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null)
    return (a as { version: string }).version === (b as { version: string }).version;
  return a === b;
}

// ----- shapes ------------------------------------------------------------------------------

/** Prefix of the per-batch resources that stand for one member's device claims. */
export const DEVICE_SHAPE_PREFIX = 'devices.muster.dev/';

/** The longest domain of a DRA attribute name Kubernetes accepts (as for driver names). */
export const ATTRIBUTE_DOMAIN_MAX_LENGTH = 63;
/** The longest C identifier after the "/" Kubernetes accepts (resource.DeviceMaxIDLength). */
export const ATTRIBUTE_ID_MAX_LENGTH = 32;

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ATTRIBUTE_SHAPE =
  'must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect';

/**
 * Why `value` is not a fully qualified DRA attribute name ("<domain>/<name>", the domain a
 * DNS-1123 subdomain of at most 63 characters, the name a C identifier of at most 32, as
 * Kubernetes checks a constraint's matchAttribute), or `undefined` when it is one.
 */
export function attributeNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value === '')
    return 'must not be empty: name a device attribute such as gpu.example.com/interconnect, or remove it';
  const parts = value.split('/');
  if (parts.length !== 2) return ATTRIBUTE_SHAPE;
  const [domain, name] = parts as [string, string];
  if (domain === '') return `${ATTRIBUTE_SHAPE}: the domain before "/" is empty`;
  if (domain.length > ATTRIBUTE_DOMAIN_MAX_LENGTH)
    return `domain must be at most ${ATTRIBUTE_DOMAIN_MAX_LENGTH} characters (it has ${domain.length})`;
  if (!DNS_SUBDOMAIN.test(domain))
    return `domain "${domain}" must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`;
  if (name === '') return `${ATTRIBUTE_SHAPE}: the name after "/" is empty`;
  if (name.length > ATTRIBUTE_ID_MAX_LENGTH)
    return `name must be at most ${ATTRIBUTE_ID_MAX_LENGTH} characters (it has ${name.length})`;
  if (!C_IDENTIFIER.test(name))
    return `name "${name}" must be a C identifier: letters, digits and "_", not starting with a digit`;
  return undefined;
}

/**
 * The node label, in placement's own snapshot views only, that carries the one value of
 * `attribute` all of a node's devices share (see {@link Gang.matchDeviceAttribute}).
 */
export function attributeDomainLabel(attribute: string): string {
  return `${DEVICE_SHAPE_PREFIX}domain-${shapeResource(attribute).slice(-16)}`;
}

/** The text of one attribute value, the same for equal values of the same type. */
export function attributeValueText(v: DeviceAttributeValue): string {
  if (typeof v === 'object') return `version ${v.version}`;
  return typeof v === 'bigint' ? `int ${v}` : typeof v === 'boolean' ? `bool ${v}` : v;
}

/** The canonical text of one member's claims, the identity of its shape. */
export function claimsKey(claims: readonly DeviceClaim[]): string {
  return JSON.stringify(claims, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** The resource name of a shape: a 64-bit FNV-1a hash of its key. */
export function shapeResource(key: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x01000193 ^ 0x5bd1e995) >>> 0;
  }
  return `${DEVICE_SHAPE_PREFIX}m-${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`;
}

/** A short human description of one member's claims, for explanations. */
export function describeClaims(claims: readonly DeviceClaim[]): string {
  return claims
    .map((c) => {
      const reqs = c.requests.map((r) => {
        const alts = r.exactly ? [r.exactly] : (r.firstAvailable ?? []);
        return alts.map(describeExact).join(' or ');
      });
      const cons = (c.constraints ?? []).map((k) => `same ${k.matchAttribute}`);
      return `${c.name}: ${[...reqs, ...cons].join(', ')}`;
    })
    .join('; ');
}

function describeExact(e: ExactDeviceRequest): string {
  const n = (e.allocationMode ?? 'ExactCount') === 'All' ? 'all' : String(e.count ?? 1);
  const sel = (e.selectors ?? []).length > 0 ? ` where ${(e.selectors ?? []).join(' && ')}` : '';
  return `${n} × ${e.deviceClassName}${sel}`;
}

/**
 * Why one member of these claims finds no node: for the first request no node serves, the most
 * matching free devices any node has.
 */
export function deviceShortfall(
  nodes: readonly NodeDevices[],
  claims: readonly DeviceClaim[],
): string {
  for (const claim of claims) {
    for (const req of claim.requests) {
      const alts = req.exactly ? [req.exactly] : (req.firstAvailable ?? []);
      let best = -1;
      let classKnown = false;
      for (const nd of nodes) {
        for (const alt of alts) {
          const c = nd.candidates(alt);
          if (!c) continue;
          classKnown = true;
          const free = c.filter((i) => nd.isFree(i)).length;
          if (free > best) best = free;
        }
      }
      const want = alts.map(describeExact).join(' or ');
      if (!classKnown)
        return `no device class ${alts.map((a) => a.deviceClassName).join(' or ')} on this cluster (claim ${claim.name})`;
      const need = Math.min(
        ...alts.map((a) => ((a.allocationMode ?? 'ExactCount') === 'All' ? 1 : (a.count ?? 1))),
      );
      if (best < need)
        return `no node has ${want} free (claim ${claim.name}, request ${req.name}); best node has ${Math.max(best, 0)}`;
    }
  }
  return `no node can allocate the devices of one member together (${describeClaims(claims)})`;
}
