// Shows a job's progress on a terminal: one line redrawn in place ("\r" then clear to the end of
// the line), ticking the elapsed time each second so a quiet queue still looks alive.
import type { JobProgress } from './job-progress';
import { progressLine } from './job-progress';

export interface TextOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const CLEAR_TO_END = '\x1b[K';

export class LiveProgressLine {
  private current: JobProgress | undefined;
  private note = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: TextOutput,
    private readonly since: Date | undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Redraws with the job's latest progress. */
  update(progress: JobProgress): void {
    this.current = progress;
    this.note = '';
    this.draw();
  }

  /** A passing remark (e.g. "reconnecting in 1s") until the next update. */
  remark(note: string): void {
    this.note = note;
    this.draw();
  }

  startTicking(intervalMs = 1000): void {
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  /** Ends the line so what follows starts on a fresh one. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.current) this.out.write('\n');
  }

  private draw(): void {
    if (!this.current) return;
    const width = this.out.columns;
    const base = progressLine(this.current, this.since, this.now(), width);
    const line = this.note
      ? progressLine({ ...this.current, message: this.note }, this.since, this.now(), width)
      : base;
    this.out.write(`\r${line}${CLEAR_TO_END}`);
  }
}
