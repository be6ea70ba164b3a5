// The gangs of the fault run: a steady stream of short mixed gangs (1–16 members, `wait` and
// `requeue`), long `requeue` gangs that a cluster fault has to move, and bursts for the
// scheduling leader to be killed in. Every submit is retried with its client request id until
// the hub answers; only an answered submit is acknowledged, and every acknowledged job must
// still be known to the hub at the end.
import { randomUUID } from 'node:crypto';
import { OnClusterLost, type JobSpec } from '@muster/api';
import { jobSpec, podSet, succeedsAfter } from '../support/fixtures';
import type { Acknowledged } from './figures';
import { QUEUE, type FaultFleet } from './fleet';

export type LostPolicy = 'wait' | 'requeue';

export interface GangRecord extends Acknowledged {
  members: number;
  policy: LostPolicy;
  /** How long each member runs once Running, e.g. "4s". */
  succeedAfter: string;
}

/** mulberry32: a small seeded generator, so a run's mix can be replayed from its seed. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gangSpec(
  name: string,
  members: number,
  policy: LostPolicy,
  succeedAfter: string,
): JobSpec {
  return jobSpec(QUEUE, {
    name,
    onClusterLost:
      policy === 'requeue'
        ? OnClusterLost.ON_CLUSTER_LOST_REQUEUE
        : OnClusterLost.ON_CLUSTER_LOST_WAIT,
    podSets: [podSet('workers', members, { cpu: '1', memory: '1Gi' }, succeedsAfter(succeedAfter))],
  });
}

const SHORT_RUNS = ['2s', '3s', '4s', '6s'];

export class Workload {
  /** Members per acknowledged gang id, shared with the sampler's ledger. */
  readonly sizes = new Map<string, number>();
  readonly acked: GangRecord[] = [];
  readonly requeueGangs = new Set<string>();
  /** Submits the hub never answered within the retry deadline (not acknowledged, not counted lost). */
  unanswered = 0;
  private readonly random: () => number;
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private made = 0;

  constructor(
    private readonly fleet: FaultFleet,
    readonly seed: number,
  ) {
    this.random = generator(seed);
  }

  /** Submits one gang, retrying (same client request id) while the hub is unavailable. */
  async submit(
    members: number,
    policy: LostPolicy,
    succeedAfter: string,
  ): Promise<GangRecord | undefined> {
    const clientRequestId = randomUUID();
    const spec = gangSpec(`g${this.made++}`, members, policy, succeedAfter);
    const task = this.fleet
      .withHub((api) => api.jobs.submitJob({ clientRequestId, spec }), 90_000)
      .then(
        ({ job }) => {
          const record: GangRecord = {
            jobId: job!.id,
            ackedAt: Date.now(),
            members,
            policy,
            succeedAfter,
          };
          this.sizes.set(record.jobId, job!.members!.total);
          if (policy === 'requeue') this.requeueGangs.add(record.jobId);
          this.acked.push(record);
          return record;
        },
        () => {
          this.unanswered++;
          return undefined;
        },
      );
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
    return task;
  }

  /** One gang of the stream's mix: 1–16 members, either policy, a few seconds long. */
  submitMixed(): Promise<GangRecord | undefined> {
    const members = 1 + Math.floor(this.random() * 16);
    const policy = this.random() < 0.5 ? 'requeue' : 'wait';
    const run = SHORT_RUNS[Math.floor(this.random() * SHORT_RUNS.length)]!;
    return this.submit(members, policy, run);
  }

  /** Long `requeue` gangs (2–8 members), still running when a fault comes to move them. */
  async submitLong(n: number, succeedAfter: string): Promise<GangRecord[]> {
    const out = await Promise.all(
      Array.from({ length: n }, () =>
        this.submit(2 + Math.floor(this.random() * 7), 'requeue', succeedAfter),
      ),
    );
    return out.filter((r): r is GangRecord => r !== undefined);
  }

  /** `n` mixed gangs at once. */
  async burst(n: number): Promise<GangRecord[]> {
    const out = await Promise.all(Array.from({ length: n }, () => this.submitMixed()));
    return out.filter((r): r is GangRecord => r !== undefined);
  }

  /** Submits mixed gangs at `perSecond` until stopStream(); a slow submit does not slow the rate. */
  startStream(perSecond: number): void {
    this.timer = setInterval(() => void this.submitMixed(), Math.round(1000 / perSecond));
  }

  /** Ends the stream and waits for every submit still being retried. */
  async stopStream(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Gangs submitted so far (answered or still being retried). */
  get submitted(): number {
    return this.made;
  }
}
