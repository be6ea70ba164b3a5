// Typed access to a parsed YAML document. Every check that fails throws a ManifestError naming
// the file, the path in the document and what to write instead.
import { ManifestError, manifestPlace } from './errors';
import type { LineLookup } from './line-positions';
import { childPath, describeValue } from './paths';

export type YamlMap = Record<string, unknown>;

const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;

export function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class DocumentReader {
  readonly warnings: string[] = [];

  constructor(
    /** How the document is named in messages: "job.yaml" or "job.yaml (document 2)". */
    readonly source: string,
    /** Lines of the document's paths in the file, when it was read from text. */
    readonly lines?: LineLookup,
  ) {}

  fail(path: string, problem: string): never {
    throw new ManifestError(this.source, path, problem, this.lines?.(path));
  }

  warn(path: string, message: string): void {
    this.warnings.push(`${this.source}: ${manifestPlace(path, this.lines?.(path))}${message}`);
  }

  /** The map at `parent[key]`; absent gives undefined unless required. */
  map(parent: YamlMap, parentPath: string, key: string, required: true): YamlMap;
  map(parent: YamlMap, parentPath: string, key: string, required?: false): YamlMap | undefined;
  map(parent: YamlMap, parentPath: string, key: string, required = false): YamlMap | undefined {
    const path = childPath(parentPath, key);
    const value = parent[key];
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'is required');
      return undefined;
    }
    if (!isMap(value)) this.fail(path, `must be a map (got ${describeValue(value)})`);
    return value;
  }

  list(parent: YamlMap, parentPath: string, key: string, required = false): unknown[] {
    const path = childPath(parentPath, key);
    const value = parent[key];
    if (value === undefined || value === null) {
      if (required) this.fail(path, 'is required and must list at least one item');
      return [];
    }
    if (!Array.isArray(value)) this.fail(path, `must be a list (got ${describeValue(value)})`);
    if (required && value.length === 0) this.fail(path, 'must list at least one item');
    return value;
  }

  string(parent: YamlMap, parentPath: string, key: string): string | undefined {
    const path = childPath(parentPath, key);
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string')
      this.fail(path, `must be a string (got ${describeValue(value)}); quote it`);
    return value;
  }

  /** A whole number of at least 1; absent gives undefined. */
  positiveInt(parent: YamlMap, parentPath: string, key: string): number | undefined {
    const path = childPath(parentPath, key);
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > INT32_MAX) {
      this.fail(path, `must be a positive integer (got ${describeValue(value)})`);
    }
    return value;
  }

  /** A 32-bit integer (the wire type of priority); absent gives undefined. */
  int32(parent: YamlMap, parentPath: string, key: string): number | undefined {
    const path = childPath(parentPath, key);
    const value = parent[key];
    if (value === undefined || value === null) return undefined;
    if (
      typeof value !== 'number' ||
      !Number.isInteger(value) ||
      value < INT32_MIN ||
      value > INT32_MAX
    ) {
      this.fail(
        path,
        `must be an integer between ${INT32_MIN} and ${INT32_MAX} (got ${describeValue(value)})`,
      );
    }
    return value;
  }

  /** A map of string to string, as labels and annotations are. */
  stringMap(parent: YamlMap, parentPath: string, key: string): Record<string, string> {
    const path = childPath(parentPath, key);
    const value = this.map(parent, parentPath, key);
    if (!value) return {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') {
        this.fail(
          childPath(path, k),
          `must be a string (got ${describeValue(v)}); quote it, e.g. "${String(v)}"`,
        );
      }
      out[k] = v;
    }
    return out;
  }

  /** Fails on keys outside `known`, suggesting the closest one: catches typos in Muster's own format. */
  onlyKnownKeys(value: YamlMap, path: string, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const suggestion = closest(key, known);
      this.fail(
        childPath(path, key),
        `unknown field${suggestion ? `; did you mean "${suggestion}"?` : ''} (known: ${known.join(', ')})`,
      );
    }
  }
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
