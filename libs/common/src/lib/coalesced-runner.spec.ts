import { CoalescedRunner } from './coalesced-runner';

/** A run that waits until released, so a test decides when each run ends. */
function gatedRuns() {
  const releases: Array<() => void> = [];
  let running = 0;
  let peak = 0;
  let runs = 0;
  const run = async (): Promise<void> => {
    runs++;
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((r) => releases.push(r));
    running--;
  };
  const release = async () => {
    releases.shift()?.();
    // Lets the loop go round to the next run (or end).
    await new Promise((r) => setImmediate(r));
  };
  return { run, release, stats: () => ({ runs, peak, waiting: releases.length }) };
}

describe('CoalescedRunner', () => {
  it('coalesces requests made while running into one follow-up run, never two at once', async () => {
    const g = gatedRuns();
    const runner = new CoalescedRunner({ run: g.run, onError: fail });
    runner.request();
    runner.request();
    runner.request();
    expect(g.stats()).toEqual({ runs: 1, peak: 1, waiting: 1 });
    await g.release();
    expect(g.stats()).toEqual({ runs: 2, peak: 1, waiting: 1 });
    await g.release();
    expect(g.stats()).toEqual({ runs: 2, peak: 1, waiting: 0 });
    expect(runner.running).toBe(false);
  });

  it('runs again at once when a run asks for it', async () => {
    let left = 3;
    let runs = 0;
    const runner = new CoalescedRunner({
      run: async () => {
        runs++;
        return --left > 0;
      },
      onError: fail,
    });
    runner.request();
    await runner.idle();
    expect(runs).toBe(3);
  });

  it('reports an error and goes on with the run requested meanwhile', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const runner: CoalescedRunner = new CoalescedRunner({
      run: async () => {
        runs++;
        if (runs === 1) {
          runner.request();
          throw new Error('first run fails');
        }
      },
      onError: (e) => errors.push(e),
    });
    runner.request();
    await runner.idle();
    expect(runs).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(['first run fails']);
    runner.request();
    await runner.idle();
    expect(runs).toBe(3);
  });

  it('skips runs while disabled', async () => {
    let enabled = false;
    let runs = 0;
    const runner = new CoalescedRunner({
      run: async () => void runs++,
      onError: fail,
      enabled: () => enabled,
    });
    runner.request();
    await runner.idle();
    expect(runs).toBe(0);
    enabled = true;
    runner.request();
    await runner.idle();
    expect(runs).toBe(1);
  });

  it('stop() waits for the current run and starts no more', async () => {
    const g = gatedRuns();
    const runner = new CoalescedRunner({ run: g.run, onError: fail });
    runner.request();
    runner.request();
    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    await g.release();
    await stopping;
    expect(stopped).toBe(true);
    expect(g.stats().runs).toBe(1);
    runner.request();
    expect(g.stats().runs).toBe(1);
  });
});

function fail(err: unknown): never {
  throw err;
}
