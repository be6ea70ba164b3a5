// The config file: named contexts (hub address, token, TLS files) and the current one, like
// kubectl's kubeconfig. It holds tokens, so it is written readable by its owner only.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
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

export function parseConfig(text: string, path: string): MusterConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return { contexts: [] };
  // A declaration (not an arrow) so TypeScript narrows after each call that returns never.
  function fail(field: string, problem: string): never {
    throw new ConfigError(
      `${path}: ${field}: ${problem}; fix it or rewrite it with \`muster config set-context\``,
    );
  }
  if (!isRecord(raw)) fail('(top level)', 'must be a map with currentContext and contexts');
  const config: MusterConfig = { contexts: [] };
  if (raw.currentContext !== undefined && raw.currentContext !== null) {
    if (typeof raw.currentContext !== 'string') fail('currentContext', 'must be a context name');
    config.currentContext = raw.currentContext;
  }
  const contexts = raw.contexts ?? [];
  if (!Array.isArray(contexts)) fail('contexts', 'must be a list');
  const names = new Set<string>();
  contexts.forEach((entry: unknown, i) => {
    const at = `contexts[${i}]`;
    if (!isRecord(entry)) fail(at, 'must be a map with name and hub');
    if (typeof entry.name !== 'string' || entry.name === '')
      fail(`${at}.name`, 'must be a non-empty string');
    if (names.has(entry.name)) fail(`${at}.name`, `duplicate context "${entry.name}"`);
    names.add(entry.name);
    if (typeof entry.hub !== 'string' || entry.hub === '')
      fail(`${at}.hub`, 'must be HOST:PORT of the hub');
    const context: ContextConfig = { name: entry.name, hub: entry.hub };
    if (entry.token !== undefined && entry.token !== null) {
      if (typeof entry.token !== 'string') fail(`${at}.token`, 'must be a string');
      context.token = entry.token;
    }
    if (entry.tls !== undefined && entry.tls !== null)
      context.tls = tlsOf(entry.tls, `${at}.tls`, fail);
    config.contexts.push(context);
  });
  return config;
}

function tlsOf(
  value: unknown,
  at: string,
  fail: (field: string, problem: string) => never,
): TlsConfig {
  if (!isRecord(value)) return fail(at, 'must be a map with caFile, certFile, keyFile, insecure');
  const tls: TlsConfig = {};
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const v = value[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return fail(`${at}.${key}`, 'must be a file path');
    tls[key] = v;
  }
  const insecure = value.insecure;
  if (insecure !== undefined && insecure !== null) {
    if (typeof insecure !== 'boolean') return fail(`${at}.insecure`, 'must be true or false');
    tls.insecure = insecure;
  }
  return tls;
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
