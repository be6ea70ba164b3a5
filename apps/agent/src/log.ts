// Structured logs: one JSON object per line on stdout, every line stamped with the cluster and
// whatever the caller bound (gang id, job id, ...), so log pipelines need no parsing rules.
import type { LogLevel } from './config';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface LogSink {
  write(line: string): unknown;
}

export class Logger {
  constructor(
    private readonly level: LogLevel,
    private readonly bound: LogFields = {},
    private readonly out: LogSink = process.stdout,
  ) {}

  /** A logger whose lines all carry `fields` too (e.g. `{ gangId, jobId }`). */
  with(fields: LogFields): Logger {
    return new Logger(this.level, { ...this.bound, ...fields }, this.out);
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  write(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
    for (const [k, v] of Object.entries(this.bound)) if (v !== undefined) line[k] = v;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line[k] = v;
    this.out.write(JSON.stringify(line) + '\n');
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
}
