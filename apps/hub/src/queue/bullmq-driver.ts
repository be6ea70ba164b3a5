import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Log } from '@muster/log';
import type { EnqueueOptions, QueueDriver, WorkDefinition } from './queue-driver';

function jobOptions(options: EnqueueOptions) {
  return {
    jobId: options.id,
    delay: options.delayMs,
    attempts: options.attempts ?? 5,
    backoff: { type: 'exponential', delay: 200 },
    removeOnComplete: true,
    removeOnFail: 1000,
  };
}

/** Work queues on Redis through BullMQ: retried with exponential backoff, shared by replicas. */
export class BullMqDriver implements QueueDriver {
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly handlers = new Map<string, Map<string, WorkDefinition<unknown>>>();

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    private readonly log: Log,
  ) {}

  register<P>(work: WorkDefinition<P>): void {
    const byName = this.handlers.get(work.queue) ?? new Map<string, WorkDefinition<unknown>>();
    byName.set(work.name, work as WorkDefinition<unknown>);
    this.handlers.set(work.queue, byName);
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async add<P>(work: WorkDefinition<P>, payload: P, options: EnqueueOptions = {}): Promise<void> {
    await this.queue(work.queue).add(work.name, payload, jobOptions(options));
  }

  async addBulk<P>(
    work: WorkDefinition<P>,
    items: { payload: P; options?: EnqueueOptions }[],
  ): Promise<void> {
    if (items.length === 0) return;
    await this.queue(work.queue).addBulk(
      items.map((i) => ({ name: work.name, data: i.payload, opts: jobOptions(i.options ?? {}) })),
    );
  }

  async repeat<P>(work: WorkDefinition<P>, payload: P, everyMs: number): Promise<void> {
    await this.queue(work.queue).upsertJobScheduler(
      `${work.name}-every`,
      { every: everyMs },
      { name: work.name, data: payload, opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
  }

  async start(): Promise<void> {
    for (const [queueName, byName] of this.handlers) {
      const worker = new Worker(
        queueName,
        async (job) => {
          const work = byName.get(job.name);
          if (!work) throw new Error(`no handler for work "${job.name}" in queue "${queueName}"`);
          await work.run(job.data);
        },
        { connection: this.connection, prefix: this.prefix, concurrency: 16 },
      );
      worker.on('failed', (job, err) =>
        this.log.warn('work failed', {
          queue: queueName,
          work: job?.name,
          attempt: job?.attemptsMade,
          err,
        }),
      );
      worker.on('error', (err) => this.log.error('queue worker error', { queue: queueName, err }));
      this.workers.push(worker);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
