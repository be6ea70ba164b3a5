import fc from 'fast-check';
import { ConcurrencyLimiter, KeyedRateLimiter, TokenBucket } from './rate-limiter';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenBucket', () => {
  it('grants the burst at once, then the rate, and says how long to wait', () => {
    const c = clock();
    const b = new TokenBucket(10, 5, c.now);
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(0);
    expect(b.take()).toBe(100);
    c.advance(50);
    expect(b.take()).toBe(50);
    c.advance(50);
    expect(b.take()).toBe(0);
    expect(b.take()).toBeGreaterThan(0);
  });

  it('takes several tokens at once or none, and says how long until all are there', () => {
    const c = clock();
    const b = new TokenBucket(10, 5, c.now);
    expect(b.take(3)).toBe(0);
    expect(b.take(3)).toBe(100); // 2 left: one more needed, 100 ms at 10/s
    expect(b.take(2)).toBe(0); // nothing was taken by the refusal
    c.advance(300);
    expect(b.take(3)).toBe(0);
    expect(b.take()).toBeGreaterThan(0);
  });

  it('never holds more than the burst, however long it idles', () => {
    const c = clock();
    const b = new TokenBucket(100, 3, c.now);
    c.advance(3_600_000);
    let granted = 0;
    while (b.take() === 0) granted++;
    expect(granted).toBe(3);
  });

  it('has no limit at rate 0', () => {
    const b = new TokenBucket(0, 1);
    for (let i = 0; i < 1000; i++) expect(b.take()).toBe(0);
  });

  it('grants at most burst + rate × elapsed over any schedule (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }),
        (rate, burst, gaps) => {
          const c = clock();
          const b = new TokenBucket(rate, burst, c.now);
          let granted = 0;
          let elapsed = 0;
          for (const gap of gaps) {
            c.advance(gap);
            elapsed += gap;
            if (b.take() === 0) granted++;
          }
          return granted <= burst + Math.floor((rate * elapsed) / 1000);
        },
      ),
    );
  });
});

describe('KeyedRateLimiter', () => {
  it('keeps callers apart', () => {
    const c = clock();
    const l = new KeyedRateLimiter(1, 2, c.now);
    expect([l.take('a'), l.take('a'), l.take('a') > 0]).toEqual([0, 0, true]);
    expect(l.take('b')).toBe(0);
  });

  it('forgets refilled buckets so memory stays bounded', () => {
    const c = clock();
    const l = new KeyedRateLimiter(10, 1, c.now, 100);
    for (let i = 0; i < 1000; i++) l.take(`caller-${i}`);
    // A sweep must keep drained buckets, or forgetting a caller would reset its limit.
    expect(l.size).toBe(1000);
    expect(l.take('caller-0')).toBeGreaterThan(0);
    c.advance(1000);
    l.take('late');
    expect(l.size).toBeLessThan(10);
  });
});

describe('ConcurrencyLimiter', () => {
  it('counts holders per key and frees a slot once per release', () => {
    const l = new ConcurrencyLimiter(2);
    const r1 = l.acquire('a')!;
    const r2 = l.acquire('a')!;
    expect(l.acquire('a')).toBeUndefined();
    expect(l.acquire('b')).toBeDefined();
    r1();
    r1();
    expect(l.held('a')).toBe(1);
    expect(l.acquire('a')).toBeDefined();
    r2();
    expect(new ConcurrencyLimiter(0).acquire('x')).toBeDefined();
  });
});
