import { Backoff, backoffDelay } from './backoff';

describe('backoffDelay', () => {
  it('doubles up to the cap with jitter in [d/2, d)', () => {
    const policy = { initialMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, () => 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect(backoffDelay(0, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(2, { initialMs: 100, maxMs: 250 }, () => 0.5)).toBe(187);
  });

  it('stays finite and at least 1 ms however many failures', () => {
    expect(backoffDelay(10_000, { initialMs: 100, maxMs: 5000 }, () => 0)).toBe(2500);
    expect(backoffDelay(0, { initialMs: 1, maxMs: 1 }, () => 0)).toBe(1);
  });

  it('grows by the given factor', () => {
    expect(backoffDelay(2, { initialMs: 10, maxMs: 1e6, factor: 3 }, () => 0)).toBe(45);
  });
});

describe('Backoff', () => {
  it('counts failures and starts over after reset()', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect([b.next(), b.next(), b.next()]).toEqual([50, 100, 200]);
    expect(b.failures).toBe(3);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(50);
  });
});
