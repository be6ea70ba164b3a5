// Kubernetes quantities ("63500m", "8", "512Gi") shortened for table cells. Display only: the
// exact strings stay in -o json/yaml.

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY =
  /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The amount in whole units (cores, bytes, devices), or undefined when not a quantity. */
export function quantityValue(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return Number(`${m[1]}${m[2]}`);
  return base * SUFFIX[m[3] ?? '']!;
}

/** 64 → "64", 63.5 → "63.5", 0.25 → "0.25", 1234.56 → "1235". */
export function shortAmount(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(Number(value.toFixed(2)));
}

/** "free/total" of one resource, "-" when the cluster has not reported it. */
export function freeOfTotal(free: string | undefined, total: string | undefined): string {
  const f = quantityValue(free);
  const t = quantityValue(total);
  if (t === undefined) return '-';
  return `${f === undefined ? '-' : shortAmount(f)}/${shortAmount(t)}`;
}
