// The config file: named contexts (hub address, token, TLS files) and the current one, like
// kubectl's kubeconfig. It holds tokens, so it is written readable by its owner only.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors';

export interface TlsConfig {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Use TLS but do not verify the hub's certificate (for trying things out only). */
  insecure?: boolean;
}

export interface ContextConfig {
  name: string;
  hub: string;
  token?: string;
  tls?: TlsConfig;
}

export interface MusterConfig {
  currentContext?: string;
  contexts: ContextConfig[];
}

export const REDACTED = 'REDACTED';

/** Reads the config file; a missing file is an empty config. */
export function loadConfig(path: string): MusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: [] };
    throw new ConfigError(`cannot read the config file ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}

const file = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .nullish()
    .transform((v) => v ?? undefined);

const tlsSchema = z.object(
  {
    caFile: file('a file path'),
    certFile: file('a file path'),
    keyFile: file('a file path'),
    insecure: z
      .boolean({ error: 'must be true or false' })
      .nullish()
      .transform((v) => v ?? undefined),
  },
  { error: 'must be a map with caFile, certFile, keyFile, insecure' },
);

const contextSchema = z.object(
  {
    name: z.string({ error: 'must be a non-empty string' }).min(1, 'must be a non-empty string'),
    hub: z.string({ error: 'must be HOST:PORT of the hub' }).min(1, 'must be HOST:PORT of the hub'),
    token: file('a string'),
    tls: tlsSchema.nullish().transform((v) => v ?? undefined),
  },
  { error: 'must be a map with name and hub' },
);

/** The file's schema; a missing or null field is an absent one. */
const configSchema = z.object(
  {
    currentContext: file('a context name'),
    contexts: z
      .array(contextSchema, { error: 'must be a list' })
      .nullish()
      .transform((v) => v ?? [])
      .superRefine((contexts, ctx) => {
        const names = new Set<string>();
        contexts.forEach((c, i) => {
          if (names.has(c.name))
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `duplicate context "${c.name}"`,
            });
          names.add(c.name);
        });
      }),
  },
  { error: 'must be a map with currentContext and contexts' },
);

export function parseConfig(text: string, path: string): MusterConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return { contexts: [] };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${fieldOf(i.path)}: ${i.message}`);
    throw new ConfigError(
      `${path}: ${problems.join('; ')}; fix it or rewrite it with \`muster config set-context\``,
    );
  }
  return withoutAbsent(parsed.data);
}

/** "contexts[0].tls.insecure" for a path in the file. */
function fieldOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}

/** The config with absent fields left out, as it was written. */
function withoutAbsent(config: z.output<typeof configSchema>): MusterConfig {
  const compact = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return compact({
    currentContext: config.currentContext,
    contexts: config.contexts.map((c) => compact({ ...c, tls: c.tls && compact(c.tls) })),
  });
}

/** Writes the config atomically (a crash leaves the old file) and readable by its owner only. */
export function saveConfig(path: string, config: MusterConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, renderConfig(config), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function renderConfig(config: MusterConfig): string {
  const ordered: Record<string, unknown> = {};
  if (config.currentContext !== undefined) ordered.currentContext = config.currentContext;
  ordered.contexts = config.contexts;
  return stringify(ordered, { lineWidth: 0 });
}

/** The config with every token replaced, for printing. */
export function redactConfig(config: MusterConfig): MusterConfig {
  return {
    ...config,
    contexts: config.contexts.map((c) =>
      c.token === undefined ? { ...c } : { ...c, token: REDACTED },
    ),
  };
}
