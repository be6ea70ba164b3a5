/**
 * A push/pull queue that ends when closed; backs server streams. With a `limit`, a consumer that
 * falls more than `limit` items behind is not buffered without bound: the queue fails with
 * `overflow()`'s error after the items it holds.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private failer: ((e: Error) => void) | undefined;
  private closed = false;
  private error: Error | undefined;

  constructor(
    private readonly limit = Infinity,
    private readonly overflow: () => Error = () => new Error('queue overflow'),
  ) {}

  push(item: T): void {
    if (this.closed) return;
    if (!this.waiter && this.items.length >= this.limit) {
      this.fail(this.overflow());
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** Ends the queue with an error, raised once the items before it are taken. */
  fail(error: Error): void {
    if (this.closed) return;
    this.error = error;
    this.close();
  }

  close(): void {
    this.closed = true;
    if (this.waiter && this.error) {
      const f = this.failer!;
      this.waiter = undefined;
      this.failer = undefined;
      f(this.error);
    } else if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  get size(): number {
    return this.items.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.error) return Promise.reject(this.error);
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failer = reject;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
