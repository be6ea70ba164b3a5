import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors } from 'jose';
import { FileKeySource, JwksError, UrlKeySource } from './jwks';
import { JwtError, verifyJwt, type KeySource } from './jwt';

const pairs = new Map<string, KeyObject>();

/** A fresh P-256 key as a JWK; its private half is kept for signing tokens with that kid. */
const jwk = (kid: string) => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  pairs.set(kid, pair.privateKey);
  return { ...(pair.publicKey.export({ format: 'jwk' }) as object), kid };
};

/** Resolves to the kid whose key the source hands out for an ES256 token naming `kid`. */
async function keyFor(source: KeySource, kid: string | undefined): Promise<string> {
  try {
    await source.key({ alg: 'ES256', kid }, { payload: '', signature: '' });
    return 'found';
  } catch (err) {
    if (err instanceof errors.JWKSNoMatchingKey) return 'none';
    throw err;
  }
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function token(issuer: string, kid: string): string {
  const input = `${b64({ alg: 'ES256', kid })}.${b64({ iss: issuer, aud: 'muster', exp: 9e9 })}`;
  const sig = cryptoSign('sha256', Buffer.from(input), {
    key: pairs.get(kid)!,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${sig.toString('base64url')}`;
}

async function verdict(source: KeySource, issuer: string, jwt: string): Promise<string> {
  try {
    await verifyJwt(jwt, source, { issuer, audience: 'muster', clockSkewSeconds: 0 });
    return 'ok';
  } catch (err) {
    if (err instanceof JwtError) return err.reason;
    throw err;
  }
}

describe('UrlKeySource (issuer discovery on a loopback server)', () => {
  let server: Server;
  let base = '';
  let keys = [jwk('a')];
  let keysStatus = 200;
  let plainJwksUri = '';
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/keys` }));
      // A document that names another issuer than the one it is served for.
      else if (req.url === '/impostor/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/keys` }));
      // The document of an issuer at /plain, with the jwks_uri a test sets.
      else if (req.url === '/plain/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer: `${base}/plain`, jwks_uri: plainJwksUri }));
      else if (req.url === '/keys') {
        res.statusCode = keysStatus;
        res.end(JSON.stringify({ keys }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    hits.length = 0;
    keysStatus = 200;
  });

  it('finds the keys through discovery, caches them, and refetches an unknown kid at most once per interval', async () => {
    keys = [jwk('a')];
    const errors: string[] = [];
    const source = new UrlKeySource({
      issuer: base,
      refreshMs: 60_000,
      minFetchIntervalMs: 60_000,
      fetchTimeoutMs: 2000,
      onError: (e) => errors.push(e),
    });
    expect(await keyFor(source, 'a')).toBe('found');
    expect(hits).toEqual(['/.well-known/openid-configuration', '/keys']);
    expect(await verdict(source, base, token(base, 'a'))).toBe('ok');
    expect(hits).toHaveLength(2); // cached
    keys = [jwk('a'), jwk('b')];
    // An unknown kid within the interval: no new fetch, so made-up kids cannot flood the issuer.
    for (let i = 0; i < 20; i++) expect(await keyFor(source, `made-up-${i}`)).toBe('none');
    expect(await verdict(source, base, token(base, 'b'))).toBe('unknown-key');
    expect(hits).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('refuses a discovery document of another issuer, and fetches no keys from it', async () => {
    const errors: string[] = [];
    const source = new UrlKeySource({
      issuer: `${base}/impostor`,
      refreshMs: 60_000,
      minFetchIntervalMs: 0,
      fetchTimeoutMs: 2000,
      onError: (e) => errors.push(e),
    });
    expect(await keyFor(source, 'a')).toBe('none');
    expect(hits).toEqual(['/impostor/.well-known/openid-configuration']);
    expect(errors).toEqual([
      `fetching the OIDC keys failed: ${base}/impostor/.well-known/openid-configuration: its issuer "${base}" is not MUSTER_OIDC_ISSUER`,
    ]);
  });

  it('refuses a jwks_uri that is not https (http only on loopback), naming the field', async () => {
    const discovery = `${base}/plain/.well-known/openid-configuration`;
    const source = (errors: string[]) =>
      new UrlKeySource({
        issuer: `${base}/plain`,
        refreshMs: 60_000,
        minFetchIntervalMs: 0,
        fetchTimeoutMs: 2000,
        onError: (e) => errors.push(e),
      });
    const https = 'must be an https:// URL (http:// only on loopback)';
    const refused: [string, string][] = [
      ['http://keys.example.test/jwks', https],
      ['ftp://127.0.0.1/jwks', https],
      ['keys.json', 'must be a URL (got "keys.json")'],
    ];
    for (const [uri, why] of refused) {
      plainJwksUri = uri;
      hits.length = 0;
      const errors: string[] = [];
      expect(await keyFor(source(errors), 'a')).toBe('none');
      expect(hits).toEqual(['/plain/.well-known/openid-configuration']);
      expect(errors).toEqual([`fetching the OIDC keys failed: ${discovery}: jwks_uri ${why}`]);
    }
    // Plain http on a loopback host, as for the issuer: an issuer on the same machine.
    keys = [jwk('a')];
    plainJwksUri = `${base}/keys`;
    const errors: string[] = [];
    expect(await keyFor(source(errors), 'a')).toBe('found');
    expect(errors).toEqual([]);
  });

  it('refetches an unknown kid after the interval (key rotation)', async () => {
    keys = [jwk('old')];
    const source = new UrlKeySource({
      issuer: base,
      jwksUrl: `${base}/keys`,
      refreshMs: 60_000,
      minFetchIntervalMs: 0,
      fetchTimeoutMs: 2000,
      onError: () => undefined,
    });
    expect(await keyFor(source, 'old')).toBe('found');
    const rotated = jwk('new');
    // Signed by a key the issuer has not published yet: refused, even after a refetch.
    expect(await verdict(source, base, token(base, 'new'))).toBe('unknown-key');
    keys = [jwk('old'), rotated];
    expect(await verdict(source, base, token(base, 'new'))).toBe('ok');
    expect(await verdict(source, base, token(base, 'old'))).toBe('ok');
    // A kid the issuer never published stays refused.
    jwk('never-published');
    expect(await verdict(source, base, token(base, 'never-published'))).toBe('unknown-key');
  });

  it('keeps working keys when the issuer fails, and reports it', async () => {
    const errors: string[] = [];
    const missing = new UrlKeySource({
      issuer: base,
      jwksUrl: `${base}/missing`,
      refreshMs: 0,
      minFetchIntervalMs: 0,
      fetchTimeoutMs: 2000,
      onError: (e) => errors.push(e),
    });
    expect(await keyFor(missing, undefined)).toBe('none');
    expect(errors[0]).toMatch(/HTTP 404/);

    keys = [jwk('kept')];
    const failing = new UrlKeySource({
      issuer: base,
      jwksUrl: `${base}/keys`,
      refreshMs: 0,
      minFetchIntervalMs: 0,
      fetchTimeoutMs: 2000,
      onError: (e) => errors.push(e),
    });
    // The clock held still: a fast machine fetches and verifies again within one millisecond.
    const frozen = jest.spyOn(Date, 'now').mockReturnValue(Date.now());
    try {
      expect(await verdict(failing, base, token(base, 'kept'))).toBe('ok');
      keysStatus = 503;
      // Stale at once (refreshMs 0) and the refetch fails: the last keys still verify.
      expect(await verdict(failing, base, token(base, 'kept'))).toBe('ok');
    } finally {
      frozen.mockRestore();
    }
    expect(errors[1]).toMatch(/fetching the OIDC keys failed: .*HTTP 503/);
  });
});

describe('FileKeySource', () => {
  it('reads the file at start (failing loudly) and again when it changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'muster-jwks-'));
    try {
      const path = join(dir, 'jwks.json');
      expect(() => new FileKeySource(path, () => undefined)).toThrow(JwksError);
      writeFileSync(path, JSON.stringify({ keys: [jwk('one')] }));
      const errors: string[] = [];
      const source = new FileKeySource(path, (e) => errors.push(e));
      expect(await keyFor(source, 'one')).toBe('found');
      writeFileSync(path, JSON.stringify({ keys: [jwk('two')] }));
      utimesSync(path, new Date(), new Date(Date.now() + 5000));
      expect(await keyFor(source, 'two')).toBe('found');
      expect(await keyFor(source, 'one')).toBe('none');
      writeFileSync(path, 'broken');
      utimesSync(path, new Date(), new Date(Date.now() + 10000));
      expect(await keyFor(source, 'two')).toBe('found');
      expect(errors).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
