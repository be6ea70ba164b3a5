// The seam between the hub and its work queues: code that enqueues never touches BullMQ.

/** A kind of background work with one typed payload. */
export interface WorkDefinition<P> {
  /** Queue (BullMQ queue name) the work goes to. */
  readonly queue: string;
  /** Work name within the queue. */
  readonly name: string;
  /** Runs the work; throwing makes the driver retry with backoff. */
  run(payload: P): Promise<void>;
}

export interface EnqueueOptions {
  /** Deduplicates: a second add with the same id while the first exists is dropped. */
  id?: string;
  delayMs?: number;
  /** Attempts before the work is given up (it can be rebuilt from Postgres). Default 5. */
  attempts?: number;
}

export interface QueueDriver {
  /** Registers the handler of a work definition; must be called before start(). */
  register<P>(work: WorkDefinition<P>): void;
  add<P>(work: WorkDefinition<P>, payload: P, options?: EnqueueOptions): Promise<void>;
  /** Adds many at once (one round trip). */
  addBulk<P>(
    work: WorkDefinition<P>,
    items: { payload: P; options?: EnqueueOptions }[],
  ): Promise<void>;
  /** Runs the work every `everyMs`, once across all hub replicas. */
  repeat<P>(work: WorkDefinition<P>, payload: P, everyMs: number): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export const QUEUE_DRIVER = Symbol('QUEUE_DRIVER');
