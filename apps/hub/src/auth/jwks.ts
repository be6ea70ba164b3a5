// The OIDC issuer's signing keys (a JWKS): from a file (MUSTER_OIDC_JWKS_FILE, read again when
// it changes), from a URL (MUSTER_OIDC_JWKS_URL), or from the issuer's discovery document
// (<issuer>/.well-known/openid-configuration → jwks_uri) when neither is set. jose's local key
// sets pick the key for a token; fetching stays here, because jose's remote key set refuses every
// token once its cache is older than its maximum age and the issuer is down, where Muster keeps the
// keys it has and says so. A token whose key is not in the set triggers at most one refetch per
// minFetchIntervalMs, so a flood of made-up kids cannot turn the hub into a load generator
// against the issuer.
import { createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import {
  createLocalJWKSet,
  errors,
  type CompactJWSHeaderParameters,
  type CryptoKey,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { fetchedUrlError } from '../common/fetched-url';
import type { KeySource } from './jwt';

const MAX_JWKS_BYTES = 1024 * 1024;

type KeySet = ReturnType<typeof createLocalJWKSet>;

export class JwksError extends Error {}

/**
 * A JWKS member jose may verify with: a public signing key that Node can import, RSA ones of at
 * least 2048 bits. Anything else is dropped here, so a file of unusable keys fails at start.
 */
function isSigningKey(value: unknown): value is JWK {
  if (typeof value !== 'object' || value === null) return false;
  const jwk = value as JWK;
  // No "oct": a shared secret is never a verification key. A published private key ("d") means
  // anyone can sign as the issuer.
  if (!['RSA', 'EC', 'OKP'].includes(jwk.kty ?? '') || jwk.d !== undefined) return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  try {
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    return jwk.kty !== 'RSA' || (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  } catch {
    return false;
  }
}

/** The usable signing keys of a JWKS document; throws JwksError naming `source`. */
export function parseJwks(text: string, source: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new JwksError(`${source}: not JSON`);
  }
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new JwksError(`${source}: no "keys" list`);
  const keys = list.filter(isSigningKey);
  if (keys.length === 0) throw new JwksError(`${source}: no usable signing key`);
  return { keys };
}

export class FileKeySource implements KeySource {
  private keySet: KeySet = createLocalJWKSet({ keys: [] });
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
      this.keySet = createLocalJWKSet(
        parseJwks(readFileSync(this.path, 'utf8'), `MUSTER_OIDC_JWKS_FILE (${this.path})`),
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

  key(header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    this.load(false);
    return this.keySet(header, token);
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

async function fetchJson(url: string, timeoutMs: number): Promise<string> {
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
  private keySet: KeySet | undefined;
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
    let doc: { issuer?: unknown; jwks_uri?: unknown } | null;
    try {
      doc = JSON.parse(await fetchJson(discovery, this.options.fetchTimeoutMs)) as typeof doc;
    } catch (err) {
      if (err instanceof SyntaxError) throw new JwksError(`${discovery}: not JSON`);
      throw err;
    }
    // OpenID Connect Discovery 1.0 §4.3: a document for another issuer must not be used.
    if (doc?.issuer !== this.options.issuer)
      throw new JwksError(
        `${discovery}: its issuer ${JSON.stringify(doc?.issuer)?.slice(0, 200)} is not MUSTER_OIDC_ISSUER`,
      );
    if (typeof doc.jwks_uri !== 'string') throw new JwksError(`${discovery}: no jwks_uri`);
    // Keys fetched over plain http could be swapped on the way: https, as for MUSTER_OIDC_ISSUER.
    const uriError = fetchedUrlError(doc.jwks_uri);
    if (uriError) throw new JwksError(`${discovery}: jwks_uri ${uriError}`);
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
        const jwks = parseJwks(await fetchJson(url, this.options.fetchTimeoutMs), url);
        this.keySet = createLocalJWKSet(jwks);
        this.fetchedAt = Date.now();
      } catch (err) {
        this.options.onError(`fetching the OIDC keys failed: ${(err as Error).message}`);
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private lookUp(header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    if (!this.keySet) throw new errors.JWKSNoMatchingKey('the issuer’s keys are not available');
    return this.keySet(header, token);
  }

  async key(header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    // ">=": keys as old as refreshMs are due (refreshMs 0: every use refetches, even in the same ms).
    const due = !this.keySet || Date.now() - this.fetchedAt >= this.options.refreshMs;
    if (due) await this.refresh();
    try {
      return await this.lookUp(header, token);
    } catch (err) {
      // A key not seen yet: the issuer may have rotated its keys. At most one fetch per token.
      if (due || !(err instanceof errors.JWKSNoMatchingKey)) throw err;
      await this.refresh();
      return this.lookUp(header, token);
    }
  }
}
