/**
 * Resource lists: resource name → exact amount in milli-units (see {@link ./quantity}).
 *
 * A missing name means zero, so `{}` is "nothing" and lists with different key sets compare
 * naturally. All functions are pure and return new objects.
 */
import { formatQuantity, MILLI, parseQuantity } from './quantity';
import { err, ok, Result } from './result';

/** A Kubernetes resource name such as `cpu`, `memory`, `nvidia.com/gpu`. */
export type ResourceName = string;

/**
 * Resource name → amount in **milli-units** (`cpu: 500n` is half a core, `memory: 1024000n` is
 * 1 KiB, `'nvidia.com/gpu': 8000n` is eight GPUs). Missing names are zero.
 */
export type ResourceList = Readonly<Record<ResourceName, bigint>>;

/** Raw quantities as they appear in Kubernetes objects: `{ cpu: '500m', memory: '1.5Gi' }`. */
export type QuantityMap = Readonly<Record<ResourceName, string | number>>;

// Kubernetes qualified name: optional DNS-subdomain prefix and "/", then a name segment.
const RESOURCE_NAME_RE =
  /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** True if `name` is syntactically a Kubernetes resource name. */
export function isValidResourceName(name: string): boolean {
  return typeof name === 'string' && name.length <= 316 && RESOURCE_NAME_RE.test(name);
}

/**
 * Extended resources are names with a domain prefix outside `kubernetes.io` (e.g.
 * `nvidia.com/gpu`). Kubernetes only allows whole amounts of them.
 */
export function isExtendedResource(name: ResourceName): boolean {
  const slash = name.indexOf('/');
  if (slash < 0) return false;
  const domain = name.slice(0, slash);
  return domain !== 'kubernetes.io' && !domain.endsWith('.kubernetes.io');
}

/**
 * How an amount of `name` is rounded, mirroring the Kubernetes scheduler, which compares CPU in
 * milli-cores (`MilliValue()`) and every other resource in whole units (`Value()`), rounding up.
 * - `'milli'`: `cpu` keeps milli precision (`"0.1"` → 100m).
 * - `'whole'`: everything else is rounded up to a whole unit (`"1.5"` bytes → 2 bytes).
 */
export function resourceRounding(name: ResourceName): 'milli' | 'whole' {
  return name === 'cpu' ? 'milli' : 'whole';
}

/**
 * Parses one resource amount with the rounding of {@link resourceRounding}. A fractional amount of
 * an extended resource (`nvidia.com/gpu: 0.5`) is an error, as Kubernetes validation rejects it,
 * rather than being silently rounded to a whole GPU.
 */
export function parseResourceQuantity(
  name: ResourceName,
  value: string | number,
  field = `resources[${JSON.stringify(name)}]`,
): Result<bigint> {
  if (!isValidResourceName(name)) {
    return err('InvalidResourceName', field, `${field}: "${name}" is not a valid resource name`);
  }
  const parsed = parseQuantity(value, field);
  if (!parsed.ok) return parsed;
  const milli = parsed.value;
  if (resourceRounding(name) === 'milli' || milli % MILLI === 0n) return parsed;
  if (isExtendedResource(name)) {
    return err(
      'FractionalExtendedResource',
      field,
      `${field}: extended resource ${name} must be a whole number, got "${String(value)}"`,
    );
  }
  return ok(((milli + MILLI - 1n) / MILLI) * MILLI);
}

/**
 * Parses a raw quantity map into a {@link ResourceList}. The first bad entry (in name order, so
 * the result does not depend on key order) is reported with its resource name in `field`.
 *
 * @param field prefix of the reported path, e.g. `podSets[0].requests`.
 */
export function parseResourceList(input: QuantityMap, field = 'resources'): Result<ResourceList> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return err('InvalidQuantity', field, `${field}: expected a map of resource name to quantity`);
  }
  const entries: Array<[string, bigint]> = [];
  for (const name of Object.keys(input).sort()) {
    const parsed = parseResourceQuantity(
      name,
      input[name] as string | number,
      `${field}[${JSON.stringify(name)}]`,
    );
    if (!parsed.ok) return parsed;
    entries.push([name, parsed.value]);
  }
  return ok(Object.fromEntries(entries));
}

/** Amount of `name` in `list` (zero when missing). */
export function quantityOf(list: ResourceList, name: ResourceName): bigint {
  return Object.prototype.hasOwnProperty.call(list, name) ? (list[name] as bigint) : 0n;
}

function unionNames(a: ResourceList, b: ResourceList): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

/** `a + b`, per resource. */
export function addResources(a: ResourceList, b: ResourceList): ResourceList {
  return Object.fromEntries(unionNames(a, b).map((n) => [n, quantityOf(a, n) + quantityOf(b, n)]));
}

/** `a - b`, per resource. Exact: the result may contain negative amounts (use {@link fits} first). */
export function subtractResources(a: ResourceList, b: ResourceList): ResourceList {
  return Object.fromEntries(unionNames(a, b).map((n) => [n, quantityOf(a, n) - quantityOf(b, n)]));
}

/** `list × factor` (e.g. per-member request × member count). `factor` must be an integer. */
export function scaleResources(list: ResourceList, factor: number | bigint): ResourceList {
  const f = typeof factor === 'bigint' ? factor : BigInt(factor);
  return Object.fromEntries(
    Object.keys(list)
      .sort()
      .map((n) => [n, quantityOf(list, n) * f]),
  );
}

/** True when every requested amount is available: `request[r] <= available[r]` for all `r`. */
export function fits(request: ResourceList, available: ResourceList): boolean {
  for (const name of Object.keys(request)) {
    if (quantityOf(request, name) > quantityOf(available, name)) return false;
  }
  return true;
}

/** What is missing for `request` to fit in `available` (only positive shortfalls are listed). */
export function shortfall(request: ResourceList, available: ResourceList): ResourceList {
  const out: Array<[string, bigint]> = [];
  for (const name of Object.keys(request).sort()) {
    const missing = quantityOf(request, name) - quantityOf(available, name);
    if (missing > 0n) out.push([name, missing]);
  }
  return Object.fromEntries(out);
}

/** Result of {@link compareResources}: resource lists are only partially ordered. */
export type ResourceOrder = 'less' | 'equal' | 'greater' | 'incomparable';

/**
 * Compares two lists resource by resource: `'less'` when `a <= b` everywhere and `<` somewhere,
 * `'incomparable'` when `a` is larger in one resource and smaller in another.
 */
export function compareResources(a: ResourceList, b: ResourceList): ResourceOrder {
  let less = false;
  let greater = false;
  for (const name of unionNames(a, b)) {
    const x = quantityOf(a, name);
    const y = quantityOf(b, name);
    if (x < y) less = true;
    else if (x > y) greater = true;
  }
  if (less && greater) return 'incomparable';
  if (less) return 'less';
  if (greater) return 'greater';
  return 'equal';
}

/** Compares two amounts: -1, 0 or 1. */
export function compareQuantities(a: bigint, b: bigint): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True when every amount is zero (or the list is empty). */
export function isZeroResources(list: ResourceList): boolean {
  return Object.keys(list).every((n) => quantityOf(list, n) === 0n);
}

/** Human form, sorted by name, zero amounts omitted: `"cpu=8, memory=64Gi, nvidia.com/gpu=1"`. */
export function formatResourceList(list: ResourceList): string {
  return Object.keys(list)
    .sort()
    .filter((n) => quantityOf(list, n) !== 0n)
    .map((n) => `${n}=${formatQuantity(quantityOf(list, n), n)}`)
    .join(', ');
}
