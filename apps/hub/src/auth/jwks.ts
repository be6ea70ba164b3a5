// The OIDC issuer's signing keys (a JWKS): from a file (MUSTER_OIDC_JWKS_FILE, read again when
// it changes), from a URL (MUSTER_OIDC_JWKS_URL), or from the issuer's discovery document
// (<issuer>/.well-known/openid-configuration → jwks_uri) when neither is set. Fetched keys are
// cached; a token naming an unknown kid triggers at most one refetch per minFetchIntervalMs, so
// a flood of made-up kids cannot turn the hub into a load generator against the issuer.
import { readFileSync, statSync } from 'node:fs';
import { keyFromJwk, type PublicJwk, type VerificationKey } from './jwt';

const MAX_JWKS_BYTES = 1024 * 1024;

export interface KeySource {
  /** Keys to try for a token; `kid` may ask for a refresh when no cached key has it. */
  keys(kid: string | undefined): Promise<readonly VerificationKey[]>;
}

export class JwksError extends Error {}

export function parseJwks(text: string, source: string): VerificationKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new JwksError(`${source}: not JSON`);
  }
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new JwksError(`${source}: no "keys" list`);
  const keys: VerificationKey[] = [];
  for (const jwk of list) {
    if (typeof jwk !== 'object' || jwk === null || typeof (jwk as PublicJwk).kty !== 'string')
      continue;
    const key = keyFromJwk(jwk as PublicJwk);
    if (key) keys.push(key);
  }
  if (keys.length === 0) throw new JwksError(`${source}: no usable signing key`);
  return keys;
}

export class FileKeySource implements KeySource {
  private cached: VerificationKey[] = [];
  private mtimeMs = -1;

  constructor(
    private readonly path: string,
    private readonly onError: (message: string) => void,
  ) {
    this.load(true);
  }

  private load(strict: boolean): void {
    try {
      const mtimeMs = statSync(this.path).mtimeMs;
      if (mtimeMs === this.mtimeMs) return;
      this.cached = parseJwks(
        readFileSync(this.path, 'utf8'),
        `MUSTER_OIDC_JWKS_FILE (${this.path})`,
      );
      this.mtimeMs = mtimeMs;
    } catch (err) {
      const message =
        err instanceof JwksError
          ? err.message
          : `MUSTER_OIDC_JWKS_FILE: cannot read ${this.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      if (strict) throw new JwksError(message);
      this.onError(message);
    }
  }

  keys(): Promise<readonly VerificationKey[]> {
    this.load(false);
    return Promise.resolve(this.cached);
  }
}

export interface UrlKeySourceOptions {
  /** The JWKS URL; when unset, found through the issuer's discovery document. */
  jwksUrl?: string;
  issuer: string;
  /** Cached keys are refetched after this long. */
  refreshMs: number;
  /** Least time between two fetches, whatever tokens arrive. */
  minFetchIntervalMs: number;
  fetchTimeoutMs: number;
  onError: (message: string) => void;
}

async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json' },
    redirect: 'error',
  });
  if (!res.ok) throw new JwksError(`${url}: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_JWKS_BYTES) throw new JwksError(`${url}: response too large`);
  return text;
}

export class UrlKeySource implements KeySource {
  private cached: VerificationKey[] = [];
  private fetchedAt = 0;
  private lastAttempt = 0;
  private inFlight: Promise<void> | undefined;
  private jwksUrl: string | undefined;

  constructor(private readonly options: UrlKeySourceOptions) {
    this.jwksUrl = options.jwksUrl;
  }

  private async resolveUrl(): Promise<string> {
    if (this.jwksUrl) return this.jwksUrl;
    const discovery = `${this.options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const doc = JSON.parse(await fetchText(discovery, this.options.fetchTimeoutMs)) as {
      jwks_uri?: unknown;
    };
    if (typeof doc.jwks_uri !== 'string') throw new JwksError(`${discovery}: no jwks_uri`);
    this.jwksUrl = doc.jwks_uri;
    return this.jwksUrl;
  }

  private refresh(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const now = Date.now();
    if (now - this.lastAttempt < this.options.minFetchIntervalMs) return Promise.resolve();
    this.lastAttempt = now;
    this.inFlight = (async () => {
      try {
        const url = await this.resolveUrl();
        this.cached = parseJwks(await fetchText(url, this.options.fetchTimeoutMs), url);
        this.fetchedAt = Date.now();
      } catch (err) {
        this.options.onError(`fetching the OIDC keys failed: ${(err as Error).message}`);
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  async keys(kid: string | undefined): Promise<readonly VerificationKey[]> {
    const stale = Date.now() - this.fetchedAt > this.options.refreshMs;
    const unknownKid = kid !== undefined && !this.cached.some((k) => k.kid === kid);
    if (this.cached.length === 0 || stale || unknownKid) await this.refresh();
    return this.cached;
  }
}
