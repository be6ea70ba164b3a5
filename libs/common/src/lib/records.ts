/** Whether `v` is a plain object (not null, not an array): the first step of reading untyped JSON. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
