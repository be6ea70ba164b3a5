// Reads shared by the kinds an operator normally runs (Kubeflow's, KubeRay's, LeaderWorkerSet):
// counts that may be 0, switches, retry budgets that become the job's max restarts, and the
// warning for a field whose operator Muster does not replace.
import type { DocumentReader, YamlMap } from './document-reader';
import type { Located } from './job-settings';
import { childPath, describeValue } from './paths';

const INT32_MAX = 2_147_483_647;

/** Most restarts a job may ask for: the hub's limit, as for --max-restarts. */
export const MAX_RESTARTS = 100;

/** A whole number of 0 or more (replicas an operator may scale to none); absent gives undefined. */
export function nonNegativeInt(
  reader: DocumentReader,
  parent: YamlMap,
  parentPath: string,
  key: string,
): number | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > INT32_MAX) {
    reader.fail(
      childPath(parentPath, key),
      `must be a whole number of 0 or more (got ${describeValue(value)})`,
    );
  }
  return value;
}

/** true or false; absent gives undefined. */
export function flag(
  reader: DocumentReader,
  parent: YamlMap,
  parentPath: string,
  key: string,
): boolean | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    reader.fail(childPath(parentPath, key), `must be true or false (got ${describeValue(value)})`);
  return value;
}

/**
 * An operator's retry budget (a backoffLimit) as the job's max restarts: after a member fails,
 * Muster starts the whole gang again, up to that many times.
 */
export function maxRestartsFrom(
  reader: DocumentReader,
  parent: YamlMap,
  parentPath: string,
  key: string,
): Located<number> | undefined {
  const value = nonNegativeInt(reader, parent, parentPath, key);
  if (value === undefined) return undefined;
  const path = childPath(parentPath, key);
  if (value > MAX_RESTARTS) {
    reader.fail(
      path,
      `must be at most ${MAX_RESTARTS}: Muster starts a gang again at most ${MAX_RESTARTS} times (got ${value})`,
    );
  }
  return { value, path };
}

/** Warns that a field is not applied, when it is written at all. */
export function warnIfSet(
  reader: DocumentReader,
  parent: YamlMap,
  parentPath: string,
  key: string,
  message: string,
): void {
  const value = parent[key];
  if (value === undefined || value === null) return;
  reader.warn(childPath(parentPath, key), message);
}

/** a × b members, refused at `path` when no pod set could be that large. */
export function memberProduct(
  reader: DocumentReader,
  path: string,
  what: string,
  a: number,
  b: number,
): number {
  const count = a * b;
  if (!Number.isSafeInteger(count) || count > INT32_MAX)
    reader.fail(path, `${what} is too large (${a} × ${b})`);
  return count;
}

/** "a PyTorchJob", "an MPIJob", "an XGBoostJob". */
export function aKind(kind: string): string {
  return /^([AEIOU]|MPI|XG)/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

/** "A", "A or B", "A, B or C". */
export function orList(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}
