// JSON Web Token (compact JWS) verification with Node's crypto alone: asymmetric algorithms
// only (RS*, PS*, ES*, EdDSA), never "none" nor HMAC, so a public key can never be used as a
// shared secret. Claims checked: iss, aud, exp (required), nbf.
import { createPublicKey, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';

export type JwtFailure =
  | 'malformed'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'expired'
  | 'not-yet-valid'
  | 'issuer'
  | 'audience';

/** Why a token was refused. The message names the check, never the token or its claims' values. */
export class JwtError extends Error {
  constructor(
    readonly reason: JwtFailure,
    message: string,
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

interface AlgSpec {
  hash: string | null;
  kty: 'RSA' | 'EC' | 'OKP';
  pss?: boolean;
  curve?: string;
}

const ALGORITHMS: Record<string, AlgSpec> = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  PS256: { hash: 'sha256', kty: 'RSA', pss: true },
  PS384: { hash: 'sha384', kty: 'RSA', pss: true },
  PS512: { hash: 'sha512', kty: 'RSA', pss: true },
  ES256: { hash: 'sha256', kty: 'EC', curve: 'prime256v1' },
  ES384: { hash: 'sha384', kty: 'EC', curve: 'secp384r1' },
  ES512: { hash: 'sha512', kty: 'EC', curve: 'secp521r1' },
  EdDSA: { hash: null, kty: 'OKP' },
};

export const SUPPORTED_ALGORITHMS = Object.keys(ALGORITHMS);

/** Longest token accepted; longer ones are refused before any parsing. */
export const MAX_JWT_BYTES = 16 * 1024;

export interface PublicJwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [field: string]: unknown;
}

/** A verification key with what the JWKS said about it. */
export interface VerificationKey {
  kid: string | undefined;
  alg: string | undefined;
  key: KeyObject;
}

/** Turns one JWK into a key; undefined for keys that cannot verify signatures (e.g. "oct"). */
export function keyFromJwk(jwk: PublicJwk): VerificationKey | undefined {
  if (!['RSA', 'EC', 'OKP'].includes(jwk.kty)) return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  // Only the public members, so a JWKS that (wrongly) holds a private key still yields a public one.
  const pub: Record<string, unknown> = { kty: jwk.kty };
  for (const f of ['n', 'e', 'crv', 'x', 'y']) if (jwk[f] !== undefined) pub[f] = jwk[f];
  try {
    const key = createPublicKey({ key: pub as never, format: 'jwk' });
    return {
      kid: typeof jwk.kid === 'string' ? jwk.kid : undefined,
      alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
      key,
    };
  } catch {
    return undefined;
  }
}

function b64urlJson(part: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new JwtError('malformed', `${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed', `${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new JwtError('malformed', `${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

export function decodeJwt(token: string): DecodedJwt {
  if (token.length > MAX_JWT_BYTES) throw new JwtError('malformed', 'token is too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('malformed', 'token is not a compact JWS');
  const [h, p, s] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new JwtError('malformed', 'signature is not base64url');
  return {
    header: b64urlJson(h, 'header'),
    payload: b64urlJson(p, 'payload'),
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

function keyMatches(alg: string, spec: AlgSpec, k: VerificationKey): boolean {
  if (k.alg !== undefined && k.alg !== alg) return false;
  const type = k.key.asymmetricKeyType;
  if (spec.kty === 'RSA') {
    if (type !== 'rsa' && type !== 'rsa-pss') return false;
    return (k.key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  }
  if (spec.kty === 'EC')
    return type === 'ec' && k.key.asymmetricKeyDetails?.namedCurve === spec.curve;
  return type === 'ed25519' || type === 'ed448';
}

function signatureValid(spec: AlgSpec, d: DecodedJwt, key: KeyObject): boolean {
  const data = Buffer.from(d.signingInput, 'ascii');
  try {
    if (spec.kty === 'EC')
      return cryptoVerify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, d.signature);
    if (spec.pss)
      return cryptoVerify(
        spec.hash,
        data,
        {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        },
        d.signature,
      );
    return cryptoVerify(spec.hash, data, key, d.signature);
  } catch {
    return false;
  }
}

export interface JwtCheck {
  issuer: string;
  audience: string;
  /** Seconds of clock difference tolerated for exp and nbf. */
  clockSkewSeconds: number;
  /** Now, in seconds since the epoch; default the clock. */
  nowSeconds?: number;
}

/** The header's alg and kid, checked before any key is looked up. */
export function jwtKeyHint(d: DecodedJwt): { alg: string; kid: string | undefined } {
  const alg = d.header.alg;
  if (typeof alg !== 'string' || !(alg in ALGORITHMS))
    throw new JwtError(
      'algorithm',
      `algorithm not accepted (use one of ${SUPPORTED_ALGORITHMS.join(', ')})`,
    );
  if (d.header.crit !== undefined)
    throw new JwtError('malformed', 'critical header extensions are not supported');
  const kid = d.header.kid;
  if (kid !== undefined && typeof kid !== 'string')
    throw new JwtError('malformed', 'kid is not a string');
  return { alg, kid };
}

/**
 * Verifies the signature with one of `keys` (those whose kid matches when the token names one)
 * and checks the claims; returns the payload.
 */
export function verifyJwt(
  d: DecodedJwt,
  keys: readonly VerificationKey[],
  check: JwtCheck,
): Record<string, unknown> {
  const { alg, kid } = jwtKeyHint(d);
  const spec = ALGORITHMS[alg]!;
  const candidates = keys.filter(
    (k) => (kid === undefined || k.kid === kid) && keyMatches(alg, spec, k),
  );
  if (candidates.length === 0)
    throw new JwtError('unknown-key', 'no key of the issuer matches the token');
  if (!candidates.some((k) => signatureValid(spec, d, k.key)))
    throw new JwtError('signature', 'signature does not verify');
  const claims = d.payload;
  const now = check.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (claims.iss !== check.issuer) throw new JwtError('issuer', 'issuer is not the configured one');
  const aud = claims.aud;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(check.audience))
    throw new JwtError('audience', 'audience does not include this hub');
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp))
    throw new JwtError('malformed', 'exp is required');
  if (now >= claims.exp + check.clockSkewSeconds)
    throw new JwtError('expired', 'token has expired');
  if (claims.nbf !== undefined) {
    if (typeof claims.nbf !== 'number' || !Number.isFinite(claims.nbf))
      throw new JwtError('malformed', 'nbf is not a number');
    if (now < claims.nbf - check.clockSkewSeconds)
      throw new JwtError('not-yet-valid', 'token is not valid yet');
  }
  return claims;
}
