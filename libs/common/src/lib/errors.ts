/** A short, single-line description of any thrown value, for log fields and error replies. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
