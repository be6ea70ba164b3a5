import type { LoggerService } from '@nestjs/common';
import type { LogLevel } from '../config/hub-config';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured fields that logs carry: job, gang and cluster ids, error codes, durations. */
export type LogFields = Record<string, string | number | boolean | undefined | null>;

/** One JSON object per line on stdout, so log pipelines need no parsing rules. */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  write(level: LogLevel, msg: string, fields: LogFields = {}, context?: string): void {
    if (RANK[level] < RANK[this.level]) return;
    const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
    if (context) line.context = context;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line[k] = v;
    this.out.write(JSON.stringify(line) + '\n');
  }

  // LoggerService methods, used by NestJS itself: (message, ...optionalParams, context).
  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', String(message), {}, contextOf(rest));
  }
  error(message: unknown, ...rest: unknown[]): void {
    const stack = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    this.write('error', String(message), { stack }, contextOf(rest));
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', String(message), {}, contextOf(rest));
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', String(message), {}, contextOf(rest));
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('debug', String(message), {}, contextOf(rest));
  }

  /** A logger that stamps every line with a context name. */
  child(context: string): ContextLogger {
    return new ContextLogger(this, context);
  }
}

function contextOf(rest: unknown[]): string | undefined {
  const last = rest[rest.length - 1];
  return typeof last === 'string' ? last : undefined;
}

export class ContextLogger {
  constructor(
    private readonly root: JsonLogger,
    private readonly context: string,
  ) {}
  debug(msg: string, fields?: LogFields): void {
    this.root.write('debug', msg, fields, this.context);
  }
  info(msg: string, fields?: LogFields): void {
    this.root.write('info', msg, fields, this.context);
  }
  warn(msg: string, fields?: LogFields): void {
    this.root.write('warn', msg, fields, this.context);
  }
  error(msg: string, fields?: LogFields): void {
    this.root.write('error', msg, fields, this.context);
  }
}

export const LOGGER = Symbol('LOGGER');
