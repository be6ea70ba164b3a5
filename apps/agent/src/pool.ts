// Runs async work over a list with a bounded number in flight, in order of the list.

export interface PoolOptions {
  concurrency: number;
  /** Checked before each item starts; when it returns true the remaining items are skipped. */
  stop?: () => boolean;
}

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown } | { skipped: true };

/**
 * Calls `fn` for every item, at most `concurrency` at once. Never rejects: each item's outcome
 * is returned in input order (skipped items, after `stop()` turned true, are marked so).
 */
export async function runPool<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<R>,
  options: PoolOptions,
): Promise<Settled<R>[]> {
  const results: Settled<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      if (options.stop?.()) {
        results[i] = { skipped: true };
        continue;
      }
      try {
        results[i] = { ok: true, value: await fn(items[i] as T, i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
