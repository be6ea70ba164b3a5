// Limits per caller: token buckets for rates (submits, agent stream messages) and counters for
// concurrent things (open watch streams). The clock is injectable so tests need no sleeping.

export type Clock = () => number;

/** A token bucket: `burst` tokens at most, refilled at `perSecond`. perSecond 0: no limit. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly now: Clock = Date.now,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
  }

  /**
   * Takes `n` tokens (at most `burst`) at once or none: 0 when granted, else the milliseconds
   * until they will be there.
   */
  take(n = 1): number {
    if (this.perSecond <= 0) return 0;
    this.refill();
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil(((n - this.tokens) * 1000) / this.perSecond));
  }

  /** True when the bucket is full again (so a keyed limiter may forget it). */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }
}

/** One bucket per key; buckets that refilled completely are forgotten, so memory stays bounded. */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private sweptAt: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly now: Clock = Date.now,
    /** Sweep full buckets when there are more keys than this. */
    private readonly sweepAbove = 10_000,
  ) {
    this.sweptAt = now();
  }

  /**
   * Takes `n` tokens (at most `burst`) from `key`'s bucket: 0 when granted, else the milliseconds
   * to wait before the next attempt can succeed.
   */
  take(key: string, n = 1): number {
    if (this.perSecond <= 0) return 0;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      this.sweep();
      bucket = new TokenBucket(this.perSecond, this.burst, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(n);
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    const now = this.now();
    if (this.buckets.size < this.sweepAbove && now - this.sweptAt < 60_000) return;
    this.sweptAt = now;
    for (const [key, bucket] of this.buckets) if (bucket.full) this.buckets.delete(key);
  }
}

/** Counts concurrent holders per key, up to `max` each. max 0: no limit. */
export class ConcurrencyLimiter {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** A release function, or undefined when the key already holds `max`. */
  acquire(key: string): (() => void) | undefined {
    const held = this.counts.get(key) ?? 0;
    if (this.max > 0 && held >= this.max) return undefined;
    this.counts.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.counts.get(key) ?? 1) - 1;
      if (n <= 0) this.counts.delete(key);
      else this.counts.set(key, n);
    };
  }

  held(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
