import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { ConfigError } from '../config/hub-config';
import type { Log } from '@muster/log';
import { Authenticator } from './authenticator';
import { sha256Hex, TokenStore } from './token-store';

const ADMIN = 'admin-token-aaaaaaaaaaaa';
const ALICE = 'alice-token-bbbbbbbbbbbb';
const FILE = `tokens:
  - name: root
    token: ${ADMIN}
    role: admin
  - name: alice
    sha256: ${sha256Hex(ALICE)}
    role: submitter
    queues: [research, vision]
  - name: eve
    token: viewer-token-cccccccccccc
    role: viewer
`;

const silent = { info: () => undefined, warn: () => undefined } as unknown as Log;

describe('TokenStore', () => {
  it('finds principals by plain or hashed token, and nothing for others', () => {
    const store = TokenStore.fromText(FILE);
    expect(store.lookup(ADMIN)).toMatchObject({ name: 'root', role: 'admin', queues: null });
    const alice = store.lookup(ALICE)!;
    expect(alice).toMatchObject({ id: 'token:alice', role: 'submitter', via: 'token' });
    expect([...alice.queues!]).toEqual(['research', 'vision']);
    expect(store.lookup('viewer-token-cccccccccccc')?.queues).toBeNull();
    expect(store.lookup(`${ADMIN}x`)).toBeUndefined();
    expect(store.lookup('')).toBeUndefined();
  });

  it.each([
    ['tokens: 3', /tokens: must be a list/],
    ['tokens:\n  - {name: a, role: admin}', /needs token or sha256/],
    ['tokens:\n  - {name: a, token: short, role: admin}', /at least 16/],
    ['tokens:\n  - {name: a, sha256: abc, role: admin}', /64 hex digits/],
    [`tokens:\n  - {name: a, token: ${ADMIN}, role: root}`, /role: must be/],
    [`tokens:\n  - {name: a, token: ${ADMIN}, role: submitter}`, /needs at least one queue/],
    [`tokens:\n  - {name: a, token: ${ADMIN}, role: submitter, queues: [Bad_Q]}`, /queue name/],
    [`tokens:\n  - {name: a, token: ${ADMIN}, role: admin, queues: [q]}`, /remove the list/],
    [
      `tokens:\n  - {name: a, token: ${ADMIN}, role: admin}\n  - {name: a, token: ${ALICE}, role: admin}`,
      /used twice/,
    ],
    [
      `tokens:\n  - {name: a, token: ${ADMIN}, role: admin}\n  - {name: b, sha256: ${sha256Hex(ADMIN)}, role: admin}`,
      /listed twice/,
    ],
    [`tokens:\n  - {name: a, token: ${ADMIN}, role: admin, extra: 1}`, /unknown field/],
  ])('refuses %j', (text, message) => {
    expect(() => TokenStore.fromText(text)).toThrow(ConfigError);
    expect(() => TokenStore.fromText(text)).toThrow(message);
  });

  it('never puts a token into an error message', () => {
    const secret = 'this-is-a-secret-token-zzzz';
    for (const text of [
      `tokens:\n  - {name: a, token: ${secret}, role: nobody}`,
      `tokens:\n  - {name: a, token: ${secret}, role: admin\n`,
      `tokens: [ {name: "${secret}`,
    ]) {
      let message = '';
      try {
        TokenStore.fromText(text);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain(secret);
    }
  });

  it('reloads a changed file and keeps the old tokens when the new file is broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'muster-tokens-'));
    try {
      const path = join(dir, 'tokens.yaml');
      writeFileSync(path, FILE);
      const errors: string[] = [];
      const store = TokenStore.fromFile(path, (e) => errors.push(e), 0);
      expect(store.lookup(ALICE)?.name).toBe('alice');
      writeFileSync(path, `tokens:\n  - {name: bob, token: ${'b'.repeat(20)}, role: viewer}\n`);
      utimesSync(path, new Date(), new Date(Date.now() + 5000));
      expect(store.lookup(ALICE)).toBeUndefined();
      expect(store.lookup('b'.repeat(20))?.name).toBe('bob');
      writeFileSync(path, 'tokens: [');
      utimesSync(path, new Date(), new Date(Date.now() + 10000));
      expect(store.lookup('b'.repeat(20))?.name).toBe('bob');
      expect(errors).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Authenticator', () => {
  const auth = new Authenticator({
    tokens: TokenStore.fromText(FILE),
    devInsecure: false,
    log: silent,
  });
  const md = (...values: string[]) => {
    const m = new Metadata();
    for (const v of values) m.add('authorization', v);
    return m;
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: { code: string; message: string }) => e.code,
    );

  it('accepts "Bearer <token>" in any case of the scheme', async () => {
    await expect(auth.authenticate(md(`Bearer ${ADMIN}`), 'p')).resolves.toMatchObject({
      name: 'root',
    });
    await expect(auth.authenticate(md(`bearer ${ALICE}`), 'p')).resolves.toMatchObject({
      name: 'alice',
    });
  });

  it('refuses a missing, malformed, repeated or unknown token as UNAUTHENTICATED', async () => {
    for (const m of [
      md(),
      md('Basic abc'),
      md(ADMIN),
      md(`Bearer ${ADMIN}`, `Bearer ${ADMIN}`),
      md('Bearer nope-nope-nope-nope'),
      md(`Bearer ${'x'.repeat(70_000)}`),
    ])
      expect(await codeOf(auth.authenticate(m, 'p'))).toBe('Unauthenticated');
  });

  it('makes everyone an anonymous admin only in development mode without token sources', async () => {
    const dev = new Authenticator({ devInsecure: true, log: silent });
    await expect(dev.authenticate(md(), '1.2.3.4:5')).resolves.toMatchObject({
      role: 'admin',
      via: 'insecure',
    });
    expect(() => new Authenticator({ devInsecure: false, log: silent })).toThrow();
    // A configured token source is enforced in development mode too.
    const devWithTokens = new Authenticator({
      tokens: TokenStore.fromText(FILE),
      devInsecure: true,
      log: silent,
    });
    expect(await codeOf(devWithTokens.authenticate(md(), 'p'))).toBe('Unauthenticated');
  });
});
