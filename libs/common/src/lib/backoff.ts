// Capped exponential backoff with jitter: reconnecting agents, retrying CLI calls.

export interface BackoffPolicy {
  /** Delay after the first failure, before jitter, in ms. */
  initialMs: number;
  /** Cap on the delay before jitter, in ms. */
  maxMs: number;
  /** Growth per failure; default 2. */
  factor?: number;
}

/**
 * The delay after `failures` earlier failures (0 for the first retry): initial × factor^failures,
 * capped at maxMs, then "equal jitter" — uniformly in [d/2, d), at least 1 ms — so many clients
 * failing together spread out. `random` returns a number in [0, 1).
 */
export function backoffDelay(
  failures: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const { initialMs, maxMs, factor = 2 } = policy;
  // The exponent is bounded so a long outage cannot overflow to Infinity before the cap applies.
  const exp = Math.min(maxMs, initialMs * Math.pow(factor, Math.min(failures, 60)));
  return Math.max(1, Math.floor(exp / 2 + random() * (exp / 2)));
}

export interface BackoffOptions extends BackoffPolicy {
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

/** backoffDelay with the failure count kept: next() after each failure, reset() on success. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  next(): number {
    return backoffDelay(this.attempt++, this.options, this.options.random);
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
