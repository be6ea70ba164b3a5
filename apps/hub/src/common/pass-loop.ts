import { CoalescedRunner } from '@muster/common';

/**
 * A sync's passes: one on every request and, once started, one every `periodMs`; never two at
 * once (requests during a pass make one more after it), none after stop until started again.
 */
export class PassLoop {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly runner: CoalescedRunner;

  constructor(
    private readonly opts: {
      pass: () => Promise<void>;
      periodMs: number;
      /** A pass that threw; the next pass is the retry. */
      onError: (err: unknown) => void;
    },
  ) {
    this.runner = new CoalescedRunner({
      run: opts.pass,
      onError: opts.onError,
      enabled: () => !this.stopped,
    });
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.request(), this.opts.periodMs);
    this.request();
  }

  /** Starts no more passes and waits for the one running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.runner.idle();
  }

  /** Asks for a pass; passes requested while one runs are coalesced into one more. */
  request(): void {
    if (!this.stopped) this.runner.request();
  }

  /** Resolves when no pass runs or is pending. */
  idle(): Promise<void> {
    return this.runner.idle();
  }
}
