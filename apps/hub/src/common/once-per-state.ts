// What the hub's syncs with the management cluster share: telling a steady problem once (not
// every pass), and writing many objects a few at a time.

/** Runs a report once per distinct state of each key. */
export class OncePerState {
  private readonly last = new Map<string, string>();

  /** Runs `write` when `key`'s state differs from the last one reported; undefined clears it. */
  report(key: string, state: string | undefined, write: () => void): void {
    if (state === undefined) {
      this.last.delete(key);
      return;
    }
    if (this.last.get(key) === state) return;
    this.last.set(key, state);
    write();
  }

  /** Forgets the keys that start with `prefix` and are not in `keep` (their subject is gone). */
  forgetExcept(prefix: string, keep: ReadonlySet<string>): void {
    for (const key of [...this.last.keys()])
      if (key.startsWith(prefix) && !keep.has(key)) this.last.delete(key);
  }
}

/**
 * Runs `run` on every item, at most `limit` at once: a pool, so one slow item holds up one slot,
 * not a whole batch.
 */
export async function eachConcurrently<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
