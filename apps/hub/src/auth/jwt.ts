// JSON Web Token (compact JWS) verification by jose, under Muster's policy: asymmetric
// algorithms only (RS*, PS*, ES*, EdDSA), never "none" nor HMAC, so a public key can never be
// used as a shared secret. Claims checked: iss, aud, exp (required), nbf; jose's errors become
// JwtErrors whose reason the authenticator logs.
import {
  errors,
  jwtVerify,
  type CompactJWSHeaderParameters,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';

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

export const SUPPORTED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** Longest token accepted; longer ones are refused before any parsing. */
export const MAX_JWT_BYTES = 16 * 1024;

/** The issuer's keys: the one for a token's header (alg, kid), as jose's key sets resolve it. */
export interface KeySource {
  key(header: CompactJWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
}

export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

export interface JwtCheck {
  issuer: string;
  audience: string;
  /** Seconds of clock difference tolerated for exp and nbf. */
  clockSkewSeconds: number;
  /** Now, in seconds since the epoch; default the clock. */
  nowSeconds?: number;
}

function claimRefusal(err: errors.JWTClaimValidationFailed): JwtError {
  if (err.claim === 'iss') return new JwtError('issuer', 'issuer is not the configured one');
  if (err.claim === 'aud') return new JwtError('audience', 'audience does not include this hub');
  if (err.reason === 'missing') return new JwtError('malformed', `${err.claim} is required`);
  if (err.claim === 'nbf' && err.reason === 'check_failed')
    return new JwtError('not-yet-valid', 'token is not valid yet');
  return new JwtError('malformed', `${err.claim} is not a number`);
}

/** jose's reason for refusing a token, as Muster names it. */
function refusal(err: unknown): unknown {
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new JwtError(
      'algorithm',
      `algorithm not accepted (use one of ${SUPPORTED_ALGORITHMS.join(', ')})`,
    );
  if (err instanceof errors.JWKSNoMatchingKey)
    return new JwtError('unknown-key', 'no key of the issuer matches the token');
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return new JwtError('signature', 'signature does not verify');
  if (err instanceof errors.JWTExpired) return new JwtError('expired', 'token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) return claimRefusal(err);
  // JOSENotSupported: a critical header extension jose does not know.
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSENotSupported
  )
    return new JwtError('malformed', `token is malformed: ${err.message}`);
  return err;
}

/** jose's verdict; several keys fit a token without a kid (a rotation): the one that verifies wins. */
async function verifiedClaims(
  token: string,
  keys: KeySource,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, (header, jws) => keys.key(header, jws), options)).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** Verifies the signature with the issuer's key for the token and checks the claims. */
export async function verifyJwt(
  token: string,
  keys: KeySource,
  check: JwtCheck,
): Promise<JWTPayload> {
  if (token.length > MAX_JWT_BYTES) throw new JwtError('malformed', 'token is too long');
  const options: JWTVerifyOptions = {
    algorithms: SUPPORTED_ALGORITHMS,
    issuer: check.issuer,
    audience: check.audience,
    requiredClaims: ['exp'],
    clockTolerance: check.clockSkewSeconds,
    currentDate: check.nowSeconds === undefined ? undefined : new Date(check.nowSeconds * 1000),
  };
  try {
    return await verifiedClaims(token, keys, options);
  } catch (err) {
    throw refusal(err);
  }
}
