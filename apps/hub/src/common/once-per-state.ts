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

/** Runs `run` on every item, `size` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  size: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}
