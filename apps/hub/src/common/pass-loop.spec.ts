import { PassLoop } from './pass-loop';

describe('PassLoop', () => {
  it('runs one pass at a time, coalesces requests, stops and starts again', async () => {
    let running = 0;
    let most = 0;
    let passes = 0;
    let release: () => void = () => undefined;
    const loop = new PassLoop({
      pass: async () => {
        running++;
        most = Math.max(most, running);
        passes++;
        await new Promise<void>((r) => (release = r));
        running--;
      },
      periodMs: 60_000,
      onError: () => undefined,
    });
    loop.start();
    for (let i = 0; i < 5; i++) loop.request();
    release();
    await new Promise((r) => setImmediate(r));
    release(); // the one coalesced pass
    await loop.idle();
    expect([passes, most]).toEqual([2, 1]);
    await loop.stop();
    loop.request();
    expect(passes).toBe(2);
    loop.start();
    release();
    await loop.idle();
    expect(passes).toBe(3);
    await loop.stop();
  });

  it('reports a pass that threw and goes on', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const loop = new PassLoop({
      pass: async () => {
        if (n++ === 0) throw new Error('API server unreachable');
      },
      periodMs: 60_000,
      onError: (err) => errors.push(err),
    });
    loop.start();
    await loop.idle();
    loop.request();
    await loop.idle();
    expect([n, errors.map(String)]).toEqual([2, ['Error: API server unreachable']]);
    await loop.stop();
  });
});
