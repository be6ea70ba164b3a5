// Small validators shared by the topology parsers; every error names the offending field.

export function fail(msg: string): never {
  throw new Error(`testbed topology: ${msg}`);
}

export function asRecord(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${where} must be a mapping`);
  return v as Record<string, unknown>;
}

export function optStringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  const r = asRecord(v, where);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(r)) out[k] = String(val);
  return out;
}

export function positiveInt(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    fail(`${where} must be a positive integer`);
  return v;
}

export function optPositiveInt(v: unknown, where: string): number | undefined {
  return v === undefined ? undefined : positiveInt(v, where);
}
