// Group commit: callers hand in one item each and wait for its own result, while the items are
// written in batches, one batch at a time. No timer: an item that arrives while nothing is being
// written goes at once (alone, so an idle system answers as fast as before), and items that
// arrive while a batch is being written form the next batch. Under load the batches grow by
// themselves and the cost of one durable write (a transaction, an fsync, a lock) is shared.

/** One item's outcome: its value, or the error that item alone failed with. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface GroupCommitOptions<I, O> {
  /**
   * Writes one batch and returns one outcome per item, in order. Throwing fails every item of
   * the batch with that error.
   */
  write: (items: readonly I[]) => Promise<Settled<O>[]>;
  /** Most items in one batch. */
  maxBatch: number;
  /** Told the size of every batch written (for metrics). */
  onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<I, O> {
  private queue: Waiting<I, O>[] = [];
  private writing: Promise<void> | undefined;

  constructor(private readonly options: GroupCommitOptions<I, O>) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1)
      throw new RangeError(`maxBatch must be a positive integer (got ${options.maxBatch})`);
  }

  /** Resolves with the item's value once its batch is written; rejects with its error. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  /** Items waiting for a batch (not counting the batch being written). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves when every item handed in so far has its outcome. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        this.options.onBatch?.(batch.length);
        let outcomes: Settled<O>[];
        try {
          outcomes = await this.options.write(batch.map((w) => w.item));
          if (outcomes.length !== batch.length)
            throw new Error(`a batch of ${batch.length} gave ${outcomes.length} outcomes`);
        } catch (error) {
          for (const w of batch) w.reject(error);
          continue;
        }
        batch.forEach((w, i) => {
          const o = outcomes[i]!;
          if (o.ok) w.resolve(o.value);
          else w.reject(o.error);
        });
      }
    } finally {
      this.writing = undefined;
    }
  }
}
