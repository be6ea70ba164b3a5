/**
 * Exact Kubernetes quantity arithmetic.
 *
 * Every amount is a `bigint` counting **milli-units** (1 CPU = 1000n, 1 byte = 1000n,
 * 1 GPU = 1000n). Integers never drift the way `0.1 + 0.2` does, and bigint has no 2^53 limit,
 * so summing a thousand 1 TiB nodes stays exact.
 *
 * Rounding: a quantity finer than one milli-unit (`1n`, `0.5m`, `1e-6`) is rounded **up** to the
 * next milli-unit, the way Kubernetes' `Quantity.MilliValue()` does. Per-resource rounding to whole
 * units (memory, GPUs, ...) happens in {@link ./resources}.
 */
import { err, ok, Result } from './result';

/** Milli-units per whole unit. */
export const MILLI = 1000n;

/** Largest amount accepted: Kubernetes stores quantities as int64 units, so (2^63 - 1) units. */
export const MAX_QUANTITY_MILLI = (2n ** 63n - 1n) * MILLI;

/** Longest quantity text accepted; real quantities are short, this bounds parsing work. */
const MAX_TEXT_LENGTH = 64;
/** Largest decimal exponent magnitude accepted (`1e1000`); bounds bigint work on hostile input. */
const MAX_EXPONENT = 1000;

const BINARY_SUFFIX: Readonly<Record<string, bigint>> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};

const DECIMAL_SUFFIX_EXPONENT: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

// <sign><number><suffix>; suffix is binary SI, a decimal exponent (e3, E-2, e+21) or decimal SI.
// The exponent alternative comes before `E` (exa) so that "1E3" is 1000 while "1E" is 10^18.
const QUANTITY_RE =
  /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/;

/**
 * Parses a Kubernetes quantity (`"500m"`, `"1.5Gi"`, `"2e3"`, `"10k"`, `"1Ki"`, `"100M"`, `"4"`, or
 * a finite JS number) into exact milli-units, rounding sub-milli fractions up.
 *
 * @param field path reported in the error (e.g. `requests["nvidia.com/gpu"]`), so the caller can
 *   tell which resource was malformed.
 * @returns milli-units, or an `InvalidQuantity` / `NegativeQuantity` / `QuantityOutOfRange` error.
 */
export function parseQuantity(input: string | number, field = 'quantity'): Result<bigint> {
  let text: string;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) {
      return err('InvalidQuantity', field, `${field}: ${String(input)} is not a finite quantity`);
    }
    text = String(input);
  } else if (typeof input === 'string') {
    text = input;
  } else {
    return err('InvalidQuantity', field, `${field}: expected a quantity string or number`);
  }
  if (text.length === 0 || text.length > MAX_TEXT_LENGTH) {
    return err('InvalidQuantity', field, `${field}: "${clip(text)}" is not a Kubernetes quantity`);
  }
  const m = QUANTITY_RE.exec(text);
  if (!m) {
    return err('InvalidQuantity', field, `${field}: "${text}" is not a Kubernetes quantity`);
  }
  const [, sign, intDigits, fracAfterInt, fracOnly, binary, exponent, decimal] = m;
  const intPart = intDigits ?? '';
  const fracPart = fracOnly ?? fracAfterInt ?? '';
  const digits = BigInt((intPart + fracPart).replace(/^0+(?=\d)/, '') || '0');

  let multiplier = 1n;
  let exp10: number;
  if (binary !== undefined) {
    multiplier = BINARY_SUFFIX[binary] as bigint;
    exp10 = 0;
  } else if (exponent !== undefined) {
    exp10 = Number(exponent);
    if (!Number.isSafeInteger(exp10) || Math.abs(exp10) > MAX_EXPONENT) {
      return err('QuantityOutOfRange', field, `${field}: exponent of "${text}" is out of range`);
    }
  } else {
    exp10 = DECIMAL_SUFFIX_EXPONENT[decimal ?? ''] as number;
  }

  // value = digits / 10^fracLen * multiplier * 10^exp10; milli = value * 10^3, rounded up.
  const scale = exp10 + 3 - fracPart.length;
  let numerator = digits * multiplier;
  let denominator = 1n;
  if (scale >= 0) numerator *= 10n ** BigInt(scale);
  else denominator = 10n ** BigInt(-scale);
  const milli = (numerator + denominator - 1n) / denominator;

  if (sign === '-' && milli !== 0n) {
    return err('NegativeQuantity', field, `${field}: "${text}" is negative`);
  }
  if (milli > MAX_QUANTITY_MILLI) {
    return err('QuantityOutOfRange', field, `${field}: "${text}" is too large`);
  }
  return ok(milli);
}

/**
 * Resources whose amounts are bytes; formatted with binary suffixes (`Gi`) when exact.
 * Matches the native Kubernetes byte-valued resources.
 */
export function isByteResource(resource: string): boolean {
  return (
    resource === 'memory' ||
    resource === 'ephemeral-storage' ||
    resource === 'storage' ||
    resource.startsWith('hugepages-')
  );
}

const BINARY_FORMAT: ReadonlyArray<readonly [string, bigint]> = [
  ['Ei', 1n << 60n],
  ['Pi', 1n << 50n],
  ['Ti', 1n << 40n],
  ['Gi', 1n << 30n],
  ['Mi', 1n << 20n],
  ['Ki', 1n << 10n],
];

/**
 * Formats milli-units as a canonical, exact quantity string: `"500m"`, `"16"`, `"1Ti"`,
 * `"1536Mi"`. Byte resources use the largest binary suffix that divides the amount exactly;
 * nothing is ever rounded, so a formatted figure in an explanation is the true figure.
 */
export function formatQuantity(milli: bigint, resource = ''): string {
  const negative = milli < 0n;
  const abs = negative ? -milli : milli;
  const sign = negative ? '-' : '';
  if (abs % MILLI !== 0n) return `${sign}${abs}m`;
  const units = abs / MILLI;
  if (units !== 0n && isByteResource(resource)) {
    for (const [suffix, factor] of BINARY_FORMAT) {
      if (units % factor === 0n) return `${sign}${units / factor}${suffix}`;
    }
  }
  return `${sign}${units}`;
}

function clip(text: string): string {
  return text.length > 20 ? `${text.slice(0, 20)}...` : text;
}
