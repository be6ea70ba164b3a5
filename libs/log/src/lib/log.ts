import pino, { type DestinationStream, type Logger as Pino } from 'pino';

/** Levels in rising order; a log drops the lines below the one it was made with. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * What a line carries beside its message. Every process names things the same way, so one query
 * follows a gang from submit to its pods: `job`, `gang`, `cluster`, `token` (the fencing token),
 * `queue`, `component` (the part of the process that speaks) and `err` (a thrown value, written
 * with its type, message and stack).
 */
export type LogFields = Record<string, unknown>;

/** A structured log: one JSON object per line with `time` (ISO 8601), `level`, `msg` and fields. */
export interface Log {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A log whose every line also carries `fields` (e.g. `{ gang, job, token }`). */
  child(fields: LogFields): Log;
}

export interface LogOptions {
  /** The lowest level written. */
  level: LogLevel;
  /**
   * Where lines go. Default: stdout, written synchronously, so the line logged just before a
   * `process.exit` or a crash is out before the process is gone.
   */
  destination?: DestinationStream;
}

/**
 * Keys whose values never reach a log. `token` is also the fencing token, a number, which stays;
 * any other value under it is a credential.
 */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'bearer',
  'cookie',
  'password',
  'secret',
  'clientSecret',
  'privateKey',
  'token',
];
export const REDACTED = '[redacted]';

function censor(value: unknown, path: string[]): unknown {
  return path[path.length - 1] === 'token' && typeof value === 'number' ? value : REDACTED;
}

/**
 * A string under a secret key at any depth (an error's `response.headers.authorization`), found
 * in the finished line: pino's wildcard redact paths cost ten times the line they censor.
 */
const SECRET_VALUE = new RegExp(`"(${SECRET_KEYS.join('|')})":"(?:[^"\\\\]|\\\\.)*"`, 'g');

/**
 * A bearer credential quoted inside any text (a message, an error's message or stack): the
 * RFC 6750 token characters, at least as long as the shortest token the hub accepts (16), so
 * prose such as "bearer token refused" stays. The line is JSON: a tab reads `\t` there.
 */
const BEARER = /(bearer(?:\s|\\[nrt])+)[A-Za-z0-9._~+/=-]{16,}/gi;

/** Censors what pino's top-level redaction cannot reach, on the finished line. */
function scrubbed(destination: DestinationStream): DestinationStream {
  return {
    write: (line: string) => {
      let out = line.replace(SECRET_VALUE, `"$1":"${REDACTED}"`);
      if (/bearer/i.test(out)) out = out.replace(BEARER, `$1${REDACTED}`);
      return destination.write(out);
    },
  };
}

export function createLog(options: LogOptions): Log {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  const root = pino(
    {
      level: options.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: SECRET_KEYS, censor },
    },
    scrubbed(destination),
  );
  return new PinoLog(root);
}

class PinoLog implements Log {
  constructor(private readonly pino: Pino) {}

  debug(msg: string, fields: LogFields = {}): void {
    this.pino.debug(fields, msg);
  }
  info(msg: string, fields: LogFields = {}): void {
    this.pino.info(fields, msg);
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.pino.warn(fields, msg);
  }
  error(msg: string, fields: LogFields = {}): void {
    this.pino.error(fields, msg);
  }
  child(fields: LogFields): Log {
    return new PinoLog(this.pino.child(fields));
  }
}
