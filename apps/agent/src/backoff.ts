// Capped exponential backoff with jitter, for reconnecting to the hub and to the API server.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per failure; default 2. */
  factor?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /**
   * The delay before the next attempt: initial × factor^failures, capped at maxMs, then
   * "equal jitter" — uniformly in [d/2, d) — so many agents restarting together spread out.
   */
  next(): number {
    const { initialMs, maxMs, factor = 2, random = Math.random } = this.options;
    const exp = Math.min(maxMs, initialMs * Math.pow(factor, Math.min(this.attempt, 60)));
    this.attempt++;
    return Math.max(1, Math.floor(exp / 2 + random() * (exp / 2)));
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
