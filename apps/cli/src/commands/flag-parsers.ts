// Parsers for flag values; a bad value is a usage error naming the flag (exit code 2).
import { InvalidArgumentError } from 'commander';

export function integerFlag(min: number, max = 2_147_483_647): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    }
    return n;
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
