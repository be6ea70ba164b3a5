// Static bearer tokens from a YAML file (MUSTER_AUTH_TOKENS_FILE):
//
//   tokens:
//     - name: alice                 # unique; shown in logs, never the token
//       sha256: 9f86d081884c7d65... # hex SHA-256 of the token (preferred), or
//       token: s3cr3t-at-least-16-chars
//       role: submitter             # admin | submitter | viewer
//       queues: [research, vision]  # required for submitters; optional for viewers
//
// Only SHA-256 digests are kept in memory; a plain token in the file is hashed at load. The file
// is read again when its modification time changes (checked at most every few seconds), so
// tokens can be added and revoked without a restart; a broken new version keeps the old one.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import { dns1123LabelError } from '@muster/k8s';
import { ConfigError } from '../config/hub-config';
import { isRole, type Principal, type Role } from './principal';

export const MIN_TOKEN_LENGTH = 16;
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

interface TokenEntry {
  digest: Buffer;
  principal: Principal;
}

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Parses the tokens file text; errors name the entry and field, never a token. */
export function parseTokensFile(text: string, source = 'tokens file'): TokenEntry[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    // The YAML error quotes the offending line, which may hold a token: keep only its position.
    const pos = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new ConfigError(`${source}: not valid YAML${pos ? ` (line ${pos})` : ''}`);
  }
  const fail = (at: string, why: string): never => {
    throw new ConfigError(`${source}: ${at}: ${why}`);
  };
  if (
    typeof doc !== 'object' ||
    doc === null ||
    !Array.isArray((doc as { tokens?: unknown }).tokens)
  )
    fail('tokens', 'must be a list');
  const list = (doc as { tokens: unknown[] }).tokens;
  const names = new Set<string>();
  const digests = new Set<string>();
  return list.map((raw, i) => {
    const at = `tokens[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(at, 'must be a map');
    const e = raw as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!['name', 'token', 'sha256', 'role', 'queues'].includes(key))
        fail(`${at}.${key}`, 'unknown field (name, token, sha256, role, queues)');
    }
    if (typeof e.name !== 'string' || !TOKEN_NAME.test(e.name))
      fail(`${at}.name`, 'must be 1-128 letters, digits, ".", "_", "@" or "-"');
    const name = e.name as string;
    if (names.has(name)) fail(`${at}.name`, `"${name}" is used twice`);
    names.add(name);
    let digest: string;
    if (e.token !== undefined && e.sha256 !== undefined)
      fail(at, 'set one of token and sha256, not both');
    if (e.token !== undefined) {
      if (typeof e.token !== 'string' || e.token.length < MIN_TOKEN_LENGTH)
        fail(`${at}.token`, `must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
      if (/\s/.test(e.token as string)) fail(`${at}.token`, 'must not contain white space');
      digest = sha256Hex(e.token as string);
    } else if (e.sha256 !== undefined) {
      if (typeof e.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(e.sha256))
        fail(`${at}.sha256`, 'must be 64 hex digits (the SHA-256 of the token)');
      digest = (e.sha256 as string).toLowerCase();
    } else {
      return fail(at, 'needs token or sha256');
    }
    if (digests.has(digest)) fail(at, 'the same token is listed twice');
    digests.add(digest);
    if (!isRole(e.role)) fail(`${at}.role`, 'must be admin, submitter or viewer');
    const role = e.role as Role;
    let queues: Set<string> | null = null;
    if (e.queues !== undefined && e.queues !== null) {
      if (!Array.isArray(e.queues)) fail(`${at}.queues`, 'must be a list of queue names');
      const qs = e.queues as unknown[];
      qs.forEach((q, j) => {
        if (typeof q !== 'string' || dns1123LabelError(q) !== undefined)
          fail(`${at}.queues[${j}]`, 'must be a queue name (a DNS-1123 label)');
      });
      queues = new Set(qs as string[]);
    }
    if (role === 'submitter' && (queues === null || queues.size === 0))
      fail(`${at}.queues`, 'a submitter needs at least one queue');
    if (role === 'admin' && queues !== null)
      fail(`${at}.queues`, 'an admin may use every queue; remove the list');
    return {
      digest: Buffer.from(digest, 'hex'),
      principal: { id: `token:${name}`, name, role, queues, via: 'token' as const },
    };
  });
}

export class TokenStore {
  private entries: TokenEntry[] = [];
  private mtimeMs = 0;
  private checkedAt = 0;

  private constructor(
    private readonly path: string | undefined,
    private readonly onReloadError: (message: string) => void,
    private readonly checkEveryMs: number,
  ) {}

  /** Reads the file now; throws ConfigError when it is missing or invalid. */
  static fromFile(
    path: string,
    onReloadError: (message: string) => void = () => undefined,
    checkEveryMs = 2000,
  ): TokenStore {
    const store = new TokenStore(path, onReloadError, checkEveryMs);
    store.load();
    return store;
  }

  static fromText(text: string): TokenStore {
    const store = new TokenStore(undefined, () => undefined, 0);
    store.entries = parseTokensFile(text);
    return store;
  }

  get size(): number {
    return this.entries.length;
  }

  private load(): void {
    const path = this.path!;
    let text: string;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `MUSTER_AUTH_TOKENS_FILE: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    this.entries = parseTokensFile(text, `MUSTER_AUTH_TOKENS_FILE (${path})`);
    this.mtimeMs = mtimeMs;
  }

  private maybeReload(): void {
    if (!this.path) return;
    const now = Date.now();
    if (now - this.checkedAt < this.checkEveryMs) return;
    this.checkedAt = now;
    try {
      if (statSync(this.path).mtimeMs === this.mtimeMs) return;
      this.load();
    } catch (err) {
      this.onReloadError((err as Error).message);
    }
  }

  /** The principal of a presented token, or undefined. */
  lookup(token: string): Principal | undefined {
    this.maybeReload();
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: Principal | undefined;
    // Compare with every entry in constant time, so timing tells nothing about which matched.
    for (const e of this.entries) if (timingSafeEqual(e.digest, digest)) found = e.principal;
    return found;
  }
}
