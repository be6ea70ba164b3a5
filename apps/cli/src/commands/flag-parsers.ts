// Parsers for flag values; a bad value is a usage error naming the flag (exit code 2).
import { InvalidArgumentError } from 'commander';
import { duration } from '../output/time-format';

export function integerFlag(min: number, max = 2_147_483_647): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

const GO_DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * A duration in whole seconds, written as Go writes one ("30s", "10m", "1h30m") or as a bare
 * number of seconds, from 0 to `maxSeconds`.
 */
export function durationFlag(maxSeconds: number): (value: string) => number {
  return (value) => {
    const text = value.trim();
    const parts = GO_DURATION.exec(text);
    const seconds = /^\d+$/.test(text)
      ? Number(text)
      : parts && text !== ''
        ? Number(parts[1] ?? 0) * 3600 + Number(parts[2] ?? 0) * 60 + Number(parts[3] ?? 0)
        : undefined;
    if (seconds === undefined || seconds > maxSeconds) {
      throw new InvalidArgumentError(
        `must be a duration such as 30s, 10m or 1h30m, or a number of seconds, from 0 to ${duration(maxSeconds)}.`,
      );
    }
    return seconds;
  };
}

/** For repeatable flags: --topology-level a --topology-level b. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** --label team=nlp, repeatable. */
export function collectLabel(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('must be KEY=VALUE, e.g. --label region=east.');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export const ON_CLUSTER_LOST_HELP = "what the hub does when the job's cluster is lost";
