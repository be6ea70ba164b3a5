import type { EnqueueOptions, QueueDriver, WorkDefinition } from './queue-driver';

/** Runs work in-process right away (or after its delay); for tests of code that enqueues. */
export class InlineDriver implements QueueDriver {
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly failures: Error[] = [];

  register(): void {}

  async add<P>(work: WorkDefinition<P>, payload: P, options: EnqueueOptions = {}): Promise<void> {
    if (!options.delayMs) {
      await work.run(payload);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work.run(payload).catch((err: Error) => this.failures.push(err));
    }, options.delayMs);
    this.timers.add(timer);
  }

  async addBulk<P>(
    work: WorkDefinition<P>,
    items: { payload: P; options?: EnqueueOptions }[],
  ): Promise<void> {
    for (const i of items) await this.add(work, i.payload, i.options);
  }

  async repeat<P>(work: WorkDefinition<P>, payload: P, everyMs: number): Promise<void> {
    const timer = setInterval(() => {
      work.run(payload).catch((err: Error) => this.failures.push(err));
    }, everyMs);
    this.timers.add(timer);
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
