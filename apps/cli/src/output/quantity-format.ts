// Kubernetes quantities ("63500m", "8", "512Gi") shortened for table cells. Display only: the
// exact strings stay in -o json/yaml.
import { MILLI, parseQuantity } from '@muster/placement';

/**
 * The amount in whole units (cores, bytes, devices), or undefined when not a quantity (nor one
 * Kubernetes could hold: negative, or over its int64 range). Parsed exactly by @muster/placement,
 * which rounds a sub-milli fraction up, then made a float: whole units convert exactly, milli-units
 * are scaled by 1e-3 (a tie in the last shown digit rounds as it always has: "69585m" is 69.59).
 */
export function quantityValue(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const q = parseQuantity(text.trim());
  if (!q.ok) return undefined;
  return q.value % MILLI === 0n ? Number(q.value / MILLI) : Number(q.value) * 1e-3;
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

/**
 * A quantity for a table cell: as the hub wrote it ("64", "2Ti"), except that a fraction written
 * in milli-, micro- or nano-units is shown in whole units ("63500m" → "63.5"); "0" for any zero.
 */
export function tableQuantity(text: string): string {
  const trimmed = text.trim();
  const value = quantityValue(trimmed);
  if (value === undefined) return trimmed;
  if (value === 0) return '0';
  return /[mun]$/.test(trimmed) ? shortAmount(value) : trimmed;
}
