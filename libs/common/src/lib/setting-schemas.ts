// The zod schemas of one setting's value that the hub's and the agent's configurations share: an
// integer within bounds, one of a few words, a comma list, a true/false flag. Each message names
// the bound or the choices and the value as given, so ConfigError can say what is wrong.
import { z } from 'zod';

/** An integer of at least `min` (and at most `max`); the message names the bounds and the value. */
export function integer(min: number, max?: number) {
  const bound = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
  const error = (issue: { input?: unknown }) =>
    `must be an integer ${bound} (got "${String(issue.input)}")`;
  const number = z.number({ error }).int({ error, abort: true }).min(min, { error, abort: true });
  // A string that is no number stays a string, so the message shows it as given.
  return z.preprocess(
    (raw) =>
      typeof raw === 'string' && raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw,
    max === undefined ? number : number.max(max, { error, abort: true }),
  );
}

/** A comma list, items trimmed and empty ones dropped, each checked by `itemError`. */
export function list(itemError: (item: string) => string | undefined = () => undefined) {
  return z.string().transform((raw, ctx) => {
    const items = raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    items.forEach((item, i) => {
      const message = itemError(item);
      if (message) ctx.addIssue({ code: 'custom', message, path: [i], input: item });
    });
    return items;
  });
}

/** One of `values`; the message lists them. */
export function choice<const T extends readonly [string, ...string[]]>(values: T) {
  const names = `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
  return z.enum(values, {
    error: (issue) => `must be ${names} (got "${String(issue.input)}")`,
  });
}

/** true/false, also as 1/0 and yes/no. */
export const flag = () =>
  z.stringbool({
    truthy: ['1', 'true', 'yes'],
    falsy: ['0', 'false', 'no'],
    error: (issue) => `must be true or false (got "${String(issue.input)}")`,
  });
