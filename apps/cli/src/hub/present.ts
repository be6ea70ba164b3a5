// Message fields are optional on the wire even where the hub always sets them; a missing one
// is a broken hub, reported as such rather than crashing later.
import { CliError } from '../errors';

export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new CliError(
      `the hub's answer has no ${what}; is it a Muster hub of a matching version?`,
    );
  return value;
}
