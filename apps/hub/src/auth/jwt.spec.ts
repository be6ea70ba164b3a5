import {
  constants,
  createHmac,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import { decodeJwt, keyFromJwk, verifyJwt, JwtError, type VerificationKey } from './jwt';
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

function vk(pub: KeyObject, kid: string): VerificationKey {
  return keyFromJwk({ ...(pub.export({ format: 'jwk' }) as { kty: string }), kid })!;
}

const keys = [vk(rsa.publicKey, 'rsa'), vk(ec.publicKey, 'ec'), vk(ed.publicKey, 'ed')];
const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u-1', exp: NOW + 600 };

function reason(token: string, ks: readonly VerificationKey[] = keys): string {
  try {
    verifyJwt(decodeJwt(token), ks, check);
  } catch (err) {
    if (err instanceof JwtError) return err.reason;
    throw err;
  }
  return 'ok';
}

describe('verifyJwt', () => {
  it.each([
    ['RS256', rsa.privateKey, 'rsa'],
    ['RS512', rsa.privateKey, 'rsa'],
    ['PS256', rsa.privateKey, 'rsa'],
    ['ES256', ec.privateKey, 'ec'],
    ['EdDSA', ed.privateKey, 'ed'],
  ])('accepts a good %s token', (alg, key, kid) => {
    expect(reason(sign(alg, key, claims, { kid }))).toBe('ok');
    // Without a kid every matching key is tried.
    expect(reason(sign(alg, key, claims))).toBe('ok');
  });

  it('refuses "none", HMAC with the public key as secret, and unknown algorithms', () => {
    const none = `${b64({ alg: 'none' })}.${b64(claims)}.`;
    expect(reason(none)).toBe('algorithm');
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const input = `${b64({ alg: 'HS256', kid: 'rsa' })}.${b64(claims)}`;
    const hs = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    expect(reason(hs)).toBe('algorithm');
    expect(reason(sign('RS256', rsa.privateKey, claims, { alg: 'XX999' }))).toBe('algorithm');
  });

  it('refuses a signature by another key, a tampered payload and a wrong kid', () => {
    expect(reason(sign('RS256', other.privateKey, claims, { kid: 'rsa' }))).toBe('signature');
    const [h, , s] = sign('RS256', rsa.privateKey, claims, { kid: 'rsa' }).split('.');
    expect(reason(`${h}.${b64({ ...claims, sub: 'admin' })}.${s}`)).toBe('signature');
    expect(reason(sign('RS256', rsa.privateKey, claims, { kid: 'nope' }))).toBe('unknown-key');
    // An EC token cannot be checked with an RSA key of the same kid.
    expect(reason(sign('ES256', ec.privateKey, claims, { kid: 'rsa' }))).toBe('unknown-key');
  });

  it('refuses RSA keys shorter than 2048 bits', () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(reason(sign('RS256', weak.privateKey, claims), [vk(weak.publicKey, 'w')])).toBe(
      'unknown-key',
    );
  });

  it('checks issuer, audience, expiry and not-before, with the clock skew', () => {
    const t = (c: Record<string, unknown>) => reason(sign('ES256', ec.privateKey, c));
    expect(t({ ...claims, iss: 'https://evil.test' })).toBe('issuer');
    expect(t({ ...claims, aud: 'other' })).toBe('audience');
    expect(t({ ...claims, aud: ['other', AUDIENCE] })).toBe('ok');
    expect(t({ ...claims, exp: undefined })).toBe('malformed');
    expect(t({ ...claims, exp: NOW - 31 })).toBe('expired');
    expect(t({ ...claims, exp: NOW - 29 })).toBe('ok');
    expect(t({ ...claims, nbf: NOW + 31 })).toBe('not-yet-valid');
    expect(t({ ...claims, nbf: NOW + 29 })).toBe('ok');
  });

  it('refuses malformed tokens without throwing anything but JwtError', () => {
    for (const bad of [
      '',
      'a.b',
      'a.b.c.d',
      '!!.!!.!!',
      `${b64([1])}.${b64(claims)}.x`,
      'x'.repeat(20000),
    ])
      expect(() => verifyJwt(decodeJwt(bad), keys, check)).toThrow(JwtError);
  });
});

describe('parseJwks', () => {
  it('keeps usable signing keys and drops symmetric, encryption and broken ones', () => {
    const text = JSON.stringify({
      keys: [
        { kty: 'oct', k: 'c2VjcmV0', kid: 'sym' },
        { ...(rsa.publicKey.export({ format: 'jwk' }) as object), kid: 'enc', use: 'enc' },
        { kty: 'EC', crv: 'P-256', x: 'bad', y: 'bad', kid: 'broken' },
        { ...(ec.publicKey.export({ format: 'jwk' }) as object), kid: 'ok' },
      ],
    });
    expect(parseJwks(text, 'test').map((k) => k.kid)).toEqual(['ok']);
    expect(() => parseJwks('{"keys":[]}', 'test')).toThrow(/no usable signing key/);
    expect(() => parseJwks('nope', 'test')).toThrow(/not JSON/);
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
      { keys: () => Promise.resolve(keys) },
    );
    const token = sign('ES256', ec.privateKey, { ...claims, muster_role: 'admin' }, { kid: 'ec' });
    await expect(verifier.verify(token, NOW)).resolves.toMatchObject({
      id: `oidc:${ISSUER}#u-1`,
      role: 'admin',
    });
    await expect(verifier.verify(token, NOW + 601)).rejects.toThrow(JwtError);
  });
});
