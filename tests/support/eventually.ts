// Waiting in tests: poll a probe until it yields a value, or fail saying what was awaited and
// what was seen last. The one polling loop every suite uses.

export interface EventuallyOptions {
  /** Give up after this long, in ms. Default 20 s. */
  timeoutMs?: number;
  /** Between probes, in ms. Default 50. */
  intervalMs?: number;
  /** Added to the timeout message: the state that was seen instead. */
  describe?: () => Promise<string> | string;
}

/**
 * Polls `probe` until it returns something other than `undefined`, `null` or `false`, and
 * returns that. A probe that throws is retried; its last error is quoted if time runs out.
 * A number as `options` is the timeout.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: EventuallyOptions | number = {},
): Promise<T> {
  const {
    timeoutMs = 20_000,
    intervalMs = 50,
    describe,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const seen = describe ? await describe() : last ? String(last) : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${seen ? `: ${seen}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
