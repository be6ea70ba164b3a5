// WatchJobs with bounded memory: history is replayed in pages, and a watcher that stops reading
// is ended with RESOURCE_EXHAUSTED (naming where to resume) instead of growing the hub's heap.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { HubClients, JobEvent } from '@muster/api';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { TestDatabase } from '../support/services';
import { jobSpec } from '../support/fixtures';

let env: HubEnvironment;
let db: TestDatabase;
let api: HubClients;

const BUFFER = 20;

/** Submits and cancels `n` jobs, 25 at a time: 2n events. */
async function churn(n: number): Promise<void> {
  for (let i = 0; i < n; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, async () => {
        const { job } = await api.jobs.submitJob({
          clientRequestId: randomUUID(),
          spec: jobSpec('research'),
        });
        await api.jobs.cancelJob({ jobId: job!.id, reason: 'churn' });
      }),
    );
  }
}

beforeAll(async () => {
  env = await startHubEnvironment({
    env: { MUSTER_WATCH_BUFFER_EVENTS: String(BUFFER) },
    queues: ['research'],
  });
  ({ db, api } = env);
});

afterAll(() => env?.stop());

describe('WatchJobs', () => {
  it('replays a long history (more than one page, far more than the buffer) in order, exactly once', async () => {
    await churn(350); // 700 events, pages of 500, a live buffer of 20
    const total = Number(
      (await db.query<{ n: string }>('SELECT count(*) AS n FROM job_events'))[0]!.n,
    );
    const seen: JobEvent[] = [];
    const stream = api.streams.watchJobs({ queue: '', afterSequence: 1 });
    stream.on('data', (m: { event: JobEvent }) => seen.push(m.event));
    stream.on('error', () => undefined);
    const deadline = Date.now() + 30_000;
    while (seen.length < total - 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    stream.cancel();
    expect(seen).toHaveLength(total - 1);
    const seqs = seen.map((e) => e.sequence);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(seqs[0]).toBe(2);
  });

  it('ends a watcher that stopped reading with RESOURCE_EXHAUSTED and where to resume', async () => {
    const stream = api.streams.watchJobs({ queue: '', afterSequence: 0 });
    let got = 0;
    stream.on('data', () => got++);
    const ended = new Promise<{ code: number; details: string }>((resolve) =>
      stream.on('error', (e: { code: number; details: string }) => resolve(e)),
    );
    await new Promise((r) => setTimeout(r, 300));
    stream.pause(); // a caller that stops reading; the hub must not buffer for it without bound
    await churn(300);
    const before = got;
    stream.resume(); // it reads again: first what was already sent, then the end of the stream
    const e = await Promise.race([
      ended,
      new Promise<never>((_, no) => setTimeout(() => no(new Error('still open')), 15_000)),
    ]);
    expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(e.details).toMatch(
      new RegExp(
        `^the watcher fell more than ${BUFFER} events behind; resume with after_sequence \\d+$`,
      ),
    );
    // It got what was in flight, never all 600 events the churn made.
    expect(got).toBeGreaterThanOrEqual(before);
    expect(got).toBeLessThan(600);
    // The hub is fine and serves a new watch.
    expect((await api.inventory.listQueues({})).queues.length).toBe(1);
  });
});
