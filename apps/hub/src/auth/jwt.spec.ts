// The token policy (asymmetric algorithms only, exp required, iss and aud checked, the clock
// skew), as a contract that jose must keep. Tokens are signed here with Node's crypto, so the
// verifier never checks its own output.
import {
  constants,
  createHmac,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import fc from 'fast-check';
import { createLocalJWKSet } from 'jose';
import { verifyJwt, JwtError, type KeySource } from './jwt';
import { parseJwks } from './jwks';
import { OidcVerifier, parseGroupRoles, principalFromClaims, NoRoleError } from './oidc';

const NOW = 1_800_000_000;
const ISSUER = 'https://login.example.test';
const AUDIENCE = 'muster';
const check = { issuer: ISSUER, audience: AUDIENCE, clockSkewSeconds: 30, nowSeconds: NOW };

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function sign(
  alg: string,
  key: KeyObject,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64({ alg, typ: 'JWT', ...header })}.${b64(claims)}`;
  const data = Buffer.from(input);
  const hash = { 2: 'sha256', 3: 'sha384', 5: 'sha512' }[alg.slice(2, 3)] ?? 'sha256';
  let sig: Buffer;
  if (alg.startsWith('ES')) sig = cryptoSign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg.startsWith('PS'))
    sig = cryptoSign(hash, data, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    });
  else if (alg === 'EdDSA') sig = cryptoSign(null, data, key);
  else sig = cryptoSign(hash, data, key);
  return `${input}.${sig.toString('base64url')}`;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

const jwk = (pub: KeyObject, kid: string, extra: Record<string, unknown> = {}) => ({
  ...(pub.export({ format: 'jwk' }) as object),
  kid,
  ...extra,
});

/** Keys as the hub holds them: a JWKS document read by parseJwks, resolved by jose. */
function keySource(...keys: object[]): KeySource {
  return { key: createLocalJWKSet(parseJwks(JSON.stringify({ keys }), 'test')) };
}

const keys = keySource(jwk(rsa.publicKey, 'rsa'), jwk(ec.publicKey, 'ec'), jwk(ed.publicKey, 'ed'));
const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u-1', exp: NOW + 600 };

async function refusal(token: string, ks: KeySource = keys): Promise<JwtError | 'ok'> {
  try {
    await verifyJwt(token, ks, check);
  } catch (err) {
    if (err instanceof JwtError) return err;
    throw err;
  }
  return 'ok';
}

async function reason(token: string, ks: KeySource = keys): Promise<string> {
  const r = await refusal(token, ks);
  return r === 'ok' ? r : r.reason;
}

describe('verifyJwt', () => {
  it.each([
    ['RS256', rsa.privateKey, 'rsa'],
    ['RS512', rsa.privateKey, 'rsa'],
    ['PS256', rsa.privateKey, 'rsa'],
    ['ES256', ec.privateKey, 'ec'],
    ['EdDSA', ed.privateKey, 'ed'],
  ])('accepts a good %s token', async (alg, key, kid) => {
    expect(await reason(sign(alg, key, claims, { kid }))).toBe('ok');
    // Without a kid the key of the token's algorithm is used.
    expect(await reason(sign(alg, key, claims))).toBe('ok');
  });

  it('tries every fitting key for a token without a kid (two keys during a rotation)', async () => {
    const next = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const both = keySource(jwk(ec.publicKey, 'old'), jwk(next.publicKey, 'new'));
    expect(await reason(sign('ES256', next.privateKey, claims), both)).toBe('ok');
    expect(await reason(sign('ES256', ec.privateKey, claims), both)).toBe('ok');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(await reason(sign('ES256', stranger, claims), both)).toBe('signature');
  });

  it('refuses "none", HMAC with the public key as secret, and unknown algorithms', async () => {
    const none = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    expect(await reason(none)).toBe('algorithm');
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const input = `${b64({ alg: 'HS256', kid: 'rsa' })}.${b64(claims)}`;
    const hs = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    expect(await reason(hs)).toBe('algorithm');
    expect(await reason(sign('RS256', rsa.privateKey, claims, { alg: 'XX999' }))).toBe('algorithm');
  });

  it('refuses alg confusion: an RS256 key’s PEM as an HS256 secret, whatever the JWKS says', async () => {
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const der = rsa.publicKey.export({ type: 'spki', format: 'der' });
    // A key without "alg" in the JWKS, and one that (wrongly) claims HS256.
    const loose = keySource(jwk(rsa.publicKey, 'rsa'), jwk(rsa.publicKey, 'hs', { alg: 'HS256' }));
    for (const [secret, header] of [
      [pem, { alg: 'HS256', kid: 'rsa' }],
      [pem, { alg: 'HS256' }],
      [pem, { alg: 'HS256', kid: 'hs' }],
      [der, { alg: 'HS512', kid: 'rsa' }],
    ] as const) {
      const input = `${b64({ typ: 'JWT', ...header })}.${b64(claims)}`;
      const token = `${input}.${createHmac(`sha${header.alg.slice(2)}`, secret)
        .update(input)
        .digest('base64url')}`;
      const r = await refusal(token, loose);
      expect(r).toBeInstanceOf(JwtError);
      expect(r).toMatchObject({ reason: 'algorithm', message: /algorithm not accepted/ });
    }
  });

  it('never trusts a key the token carries in its own header (jwk, x5c, jku)', async () => {
    const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const own = forger.publicKey.export({ format: 'jwk' });
    for (const header of [
      { jwk: own },
      { jwk: own, kid: 'ec' },
      { jku: 'https://evil.test/keys' },
      { x5c: ['MIIB'] },
    ])
      expect(await reason(sign('ES256', forger.privateKey, claims, header))).toBe('signature');
  });

  it('refuses a signature by another key, a tampered payload and a wrong kid', async () => {
    expect(await reason(sign('RS256', other.privateKey, claims, { kid: 'rsa' }))).toBe('signature');
    const [h, , s] = sign('RS256', rsa.privateKey, claims, { kid: 'rsa' }).split('.');
    expect(await reason(`${h}.${b64({ ...claims, sub: 'admin' })}.${s}`)).toBe('signature');
    expect(await reason(sign('RS256', rsa.privateKey, claims, { kid: 'nope' }))).toBe(
      'unknown-key',
    );
    // An EC token cannot be checked with an RSA key of the same kid.
    expect(await reason(sign('ES256', ec.privateKey, claims, { kid: 'rsa' }))).toBe('unknown-key');
  });

  it('refuses RSA keys shorter than 2048 bits', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const withWeak = keySource(jwk(weak.publicKey, 'w'), jwk(ec.publicKey, 'ec'));
    expect(await reason(sign('RS256', weak.privateKey, claims, { kid: 'w' }), withWeak)).toBe(
      'unknown-key',
    );
    expect(await reason(sign('RS256', weak.privateKey, claims), withWeak)).toBe('unknown-key');
  });

  it('checks issuer, audience, expiry and not-before, with the clock skew', async () => {
    const t = (c: Record<string, unknown>) => reason(sign('ES256', ec.privateKey, c));
    expect(await t({ ...claims, iss: 'https://evil.test' })).toBe('issuer');
    expect(await t({ ...claims, iss: undefined })).toBe('issuer');
    expect(await t({ ...claims, aud: 'other' })).toBe('audience');
    expect(await t({ ...claims, aud: ['other'] })).toBe('audience');
    expect(await t({ ...claims, aud: undefined })).toBe('audience');
    expect(await t({ ...claims, aud: ['other', AUDIENCE] })).toBe('ok');
    expect(await t({ ...claims, exp: undefined })).toBe('malformed');
    expect(await t({ ...claims, exp: String(NOW + 600) })).toBe('malformed');
    expect(await t({ ...claims, exp: NOW - 31 })).toBe('expired');
    expect(await t({ ...claims, exp: NOW - 30 })).toBe('expired');
    expect(await t({ ...claims, exp: NOW - 29 })).toBe('ok');
    expect(await t({ ...claims, nbf: NOW + 31 })).toBe('not-yet-valid');
    expect(await t({ ...claims, nbf: NOW + 3600 })).toBe('not-yet-valid');
    expect(await t({ ...claims, nbf: NOW + 29 })).toBe('ok');
    expect(await t({ ...claims, nbf: 'soon' })).toBe('malformed');
  });

  it('says which check refused a token, and nothing of its values', async () => {
    const signed = (c: Record<string, unknown>, header = {}, key = ec.privateKey) =>
      refusal(sign('ES256', key, c, header));
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const cases: [Promise<JwtError | 'ok'>, string][] = [
      [signed({ ...claims, iss: 'https://evil.test' }), 'issuer is not the configured one'],
      [signed({ ...claims, aud: 'other-aud' }), 'audience does not include this hub'],
      [signed({ ...claims, exp: undefined }), 'exp is required'],
      [signed({ ...claims, exp: NOW - 3600 }), 'token has expired'],
      [signed({ ...claims, nbf: NOW + 3600 }), 'token is not valid yet'],
      [signed(claims, { kid: 'gone' }), 'no key of the issuer matches the token'],
      [signed(claims, {}, stranger), 'signature does not verify'],
    ];
    for (const [refused, message] of cases) {
      const r = await refused;
      expect(r).toBeInstanceOf(JwtError);
      expect((r as JwtError).message).toBe(message);
    }
  });

  it('refuses malformed tokens without throwing anything but JwtError', async () => {
    for (const bad of [
      '',
      'a.b',
      'a.b.c.d',
      '!!.!!.!!',
      `${b64([1])}.${b64(claims)}.x`,
      `${b64({ alg: 'ES256', crit: ['x-unknown'], 'x-unknown': 1 })}.${b64(claims)}.x`,
      'x'.repeat(20000),
    ])
      await expect(verifyJwt(bad, keys, check)).rejects.toThrow(JwtError);
  });
});

describe('verifyJwt on hostile input', () => {
  const b64url = fc
    .uint8Array({ maxLength: 96 })
    .map((bytes) => Buffer.from(bytes).toString('base64url'));
  const claim = fc.oneof(
    fc.constant(undefined),
    fc.jsonValue(),
    fc.integer({ min: NOW - 100, max: NOW + 100 }),
    fc.constantFrom(ISSUER, AUDIENCE),
  );
  const header = fc.record(
    {
      alg: fc.oneof(
        fc.constantFrom('ES256', 'RS256', 'EdDSA', 'none', 'HS256', ''),
        fc.jsonValue(),
      ),
      kid: fc.oneof(fc.constantFrom('ec', 'rsa', 'ed'), fc.jsonValue()),
      crit: fc.jsonValue(),
      b64: fc.jsonValue(),
      typ: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  const payload = fc.record(
    { iss: claim, aud: claim, exp: claim, nbf: claim, iat: claim, sub: claim },
    { requiredKeys: [] },
  );

  it('refuses every forged or garbled token with a JwtError, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(header, payload, b64url).map(([h, p, sig]) => `${b64(h)}.${b64(p)}.${sig}`),
          fc.tuple(b64url, b64url, b64url).map((parts) => parts.join('.')),
          fc.string({ maxLength: 200 }),
        ),
        async (token) => {
          await expect(verifyJwt(token, keys, check)).rejects.toThrow(JwtError);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('parseJwks', () => {
  it('keeps usable signing keys and drops symmetric, encryption, private, weak and broken ones', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const text = JSON.stringify({
      keys: [
        { kty: 'oct', k: 'c2VjcmV0', kid: 'sym' },
        jwk(rsa.publicKey, 'enc', { use: 'enc' }),
        { kty: 'EC', crv: 'P-256', x: 'bad', y: 'bad', kid: 'broken' },
        { ...(ec.privateKey.export({ format: 'jwk' }) as object), kid: 'private' },
        jwk(weak.publicKey, 'weak'),
        'not a key',
        jwk(ec.publicKey, 'ok'),
      ],
    });
    expect(parseJwks(text, 'test').keys.map((k) => k.kid)).toEqual(['ok']);
    expect(() => parseJwks('{"keys":[]}', 'test')).toThrow(/no usable signing key/);
    expect(() => parseJwks('nope', 'test')).toThrow(/not JSON/);
    expect(() => parseJwks('{"kty":"EC"}', 'test')).toThrow(/no "keys" list/);
  });
});

describe('OIDC claims', () => {
  const settings = {
    issuer: ISSUER,
    roleClaim: 'muster_role',
    queuesClaim: 'muster_queues',
    nameClaim: 'preferred_username',
    groupsClaim: 'groups',
    groupRoles: parseGroupRoles(
      JSON.stringify({
        'ml-admins': 'admin',
        readers: 'viewer',
        vision: { role: 'submitter', queues: ['vision'] },
        nlp: { role: 'submitter', queues: ['nlp'] },
      }),
    ),
  };

  it('takes role and queues from the role claim first', () => {
    const p = principalFromClaims(
      { sub: 'u', preferred_username: 'ada', muster_role: 'submitter', muster_queues: 'a, b' },
      settings,
    );
    expect(p).toMatchObject({ name: 'ada', role: 'submitter', via: 'oidc' });
    expect([...p.queues!]).toEqual(['a', 'b']);
    // Names that are no queue name (a DNS-1123 label) are dropped, not trusted.
    const listed = principalFromClaims(
      { sub: 'u', muster_role: 'viewer', muster_queues: ['a', 'Bad_Q', '', 'x'.repeat(64), 7] },
      settings,
    );
    expect([...listed.queues!]).toEqual(['a']);
    expect(principalFromClaims({ sub: 'u', muster_role: 'viewer' }, settings).queues).toBeNull();
    expect(() => principalFromClaims({ sub: 'u', muster_role: 'root' }, settings)).toThrow(
      NoRoleError,
    );
    expect(() => principalFromClaims({ sub: 'u', muster_role: 'submitter' }, settings)).toThrow(
      /needs queues/,
    );
  });

  it('maps groups: the strongest role wins and its groups’ queues are joined', () => {
    const p = principalFromClaims({ sub: 'u', groups: ['readers', 'vision', 'nlp'] }, settings);
    expect(p.role).toBe('submitter');
    expect([...p.queues!].sort()).toEqual(['nlp', 'vision']);
    expect(
      principalFromClaims({ sub: 'u', groups: ['vision', 'ml-admins'] }, settings),
    ).toMatchObject({ role: 'admin', queues: null });
    expect(() => principalFromClaims({ sub: 'u', groups: ['strangers'] }, settings)).toThrow(
      NoRoleError,
    );
  });

  it('rejects a bad group mapping at start-up', () => {
    expect(() => parseGroupRoles('[1]')).toThrow(/JSON object/);
    expect(() => parseGroupRoles('{"a":"root"}')).toThrow(/role must be/);
    expect(() => parseGroupRoles('{"a":{"role":"submitter"}}')).toThrow(/needs queues/);
  });

  it('verifies end to end through a key source', async () => {
    const verifier = new OidcVerifier(
      { ...settings, audience: AUDIENCE, clockSkewSeconds: 0 },
      keys,
    );
    const token = sign('ES256', ec.privateKey, { ...claims, muster_role: 'admin' }, { kid: 'ec' });
    await expect(verifier.verify(token, NOW)).resolves.toMatchObject({
      id: `oidc:${ISSUER}#u-1`,
      role: 'admin',
    });
    await expect(verifier.verify(token, NOW + 601)).rejects.toThrow(JwtError);
  });
});
