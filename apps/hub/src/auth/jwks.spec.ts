import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKeySource, JwksError, UrlKeySource } from './jwks';

const jwk = (kid: string) => ({
  ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
    format: 'jwk',
  }) as object),
  kid,
});

describe('UrlKeySource (issuer discovery on a loopback server)', () => {
  let server: Server;
  let base = '';
  let keys = [jwk('a')];
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/keys` }));
      else if (req.url === '/keys') res.end(JSON.stringify({ keys }));
      else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('finds the keys through discovery, caches them, and refetches an unknown kid at most once per interval', async () => {
    const errors: string[] = [];
    const source = new UrlKeySource({
      issuer: base,
      refreshMs: 60_000,
      minFetchIntervalMs: 60_000,
      fetchTimeoutMs: 2000,
      onError: (e) => errors.push(e),
    });
    expect((await source.keys('a')).map((k) => k.kid)).toEqual(['a']);
    expect(hits).toEqual(['/.well-known/openid-configuration', '/keys']);
    await source.keys('a');
    expect(hits).toHaveLength(2); // cached
    keys = [jwk('a'), jwk('b')];
    // An unknown kid within the interval: no new fetch, so made-up kids cannot flood the issuer.
    for (let i = 0; i < 20; i++) await source.keys(`made-up-${i}`);
    expect(hits).toHaveLength(2);
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
    expect((await source.keys('old')).map((k) => k.kid)).toEqual(['old']);
    keys = [jwk('old'), jwk('new')];
    expect((await source.keys('new')).map((k) => k.kid)).toEqual(['old', 'new']);
  });

  it('keeps working keys when the issuer fails, and reports it', async () => {
    const errors: string[] = [];
    const source = new UrlKeySource({
      issuer: base,
      jwksUrl: `${base}/missing`,
      refreshMs: 0,
      minFetchIntervalMs: 0,
      fetchTimeoutMs: 2000,
      onError: (e) => errors.push(e),
    });
    expect(await source.keys(undefined)).toEqual([]);
    expect(errors[0]).toMatch(/HTTP 404/);
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
      expect((await source.keys()).map((k) => k.kid)).toEqual(['one']);
      writeFileSync(path, JSON.stringify({ keys: [jwk('two')] }));
      utimesSync(path, new Date(), new Date(Date.now() + 5000));
      expect((await source.keys()).map((k) => k.kid)).toEqual(['two']);
      writeFileSync(path, 'broken');
      utimesSync(path, new Date(), new Date(Date.now() + 10000));
      expect((await source.keys()).map((k) => k.kid)).toEqual(['two']);
      expect(errors).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
