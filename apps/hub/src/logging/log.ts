import type { LoggerService } from '@nestjs/common';
import type { Log, LogLevel } from '@muster/log';

/** The hub's root log; features bind their `component` with `child`. */
export const LOGGER = Symbol('LOGGER');

/** Nest's own lines (startup, shutdown, uncaught errors) through the hub's log. */
export class NestLog implements LoggerService {
  constructor(private readonly out: Log) {}

  // Nest calls (message, ...params, context?) and, for errors, (message, stack?, context?).
  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    const stack = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    this.write('error', message, rest, stack);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }

  private write(level: LogLevel, message: unknown, rest: unknown[], stack?: string): void {
    const last = rest[rest.length - 1];
    const component = typeof last === 'string' ? last : undefined;
    const err = message instanceof Error ? message : stack;
    const msg = message instanceof Error ? message.message : String(message);
    this.out[level](msg, { component, err });
  }
}
