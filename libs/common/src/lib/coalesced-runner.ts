// A single-flight loop: requests made while a run is going are coalesced into one follow-up run.
// Scheduling cycles, job-event pumps and profile sync passes all need exactly this.

export interface CoalescedRunnerOptions {
  /** One run. Resolving to true asks for another run at once (e.g. a full batch was handled). */
  run: () => Promise<boolean | void>;
  /** Receives what a run threw; the loop goes on with any run requested meanwhile. */
  onError: (err: unknown) => void;
  /** Checked before each run; runs are skipped while it is false (default: always true). */
  enabled?: () => boolean;
}

export class CoalescedRunner {
  private active = false;
  private pending = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: CoalescedRunnerOptions) {}

  /** Whether a run is going now. */
  get running(): boolean {
    return this.active;
  }

  /** Asks for a run: starts one now, or one more after the current run, never two at once. */
  request(): void {
    if (this.stopped) return;
    this.pending = true;
    if (!this.active) void this.loop();
  }

  /** Resolves when no run is going or pending. */
  idle(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts no further runs and waits for the current one to end. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.idle();
  }

  private enabled(): boolean {
    return !this.stopped && (this.options.enabled?.() ?? true);
  }

  private async loop(): Promise<void> {
    this.active = true;
    try {
      while (this.pending && this.enabled()) {
        this.pending = false;
        try {
          if ((await this.options.run()) === true) this.pending = true;
        } catch (err) {
          this.options.onError(err);
        }
      }
    } finally {
      this.pending = false;
      this.active = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
