// Turns a call's "authorization: Bearer <token>" into a Principal: a static token from the
// tokens file, else (when the token is a JWT and OIDC is configured) an OIDC token. Errors say
// what kind of problem it was and nothing about the token.
import type { Metadata } from '@grpc/grpc-js';
import { ErrorCode, MusterError } from '../common/errors';
import type { Log } from '@muster/log';
import { JwtError, looksLikeJwt, MAX_JWT_BYTES } from './jwt';
import { NoRoleError, type OidcVerifier } from './oidc';
import { insecureDevPrincipal, type Principal } from './principal';
import type { TokenStore } from './token-store';

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

export function unauthenticated(message: string): MusterError {
  return new MusterError(ErrorCode.Unauthenticated, message);
}

export interface AuthenticatorOptions {
  tokens?: TokenStore;
  oidc?: OidcVerifier;
  /** Development mode: without any token source every caller is an anonymous admin. */
  devInsecure: boolean;
  log: Log;
}

export class Authenticator {
  /** True when bearer tokens are checked (a token file or OIDC is configured). */
  readonly enabled: boolean;

  constructor(private readonly options: AuthenticatorOptions) {
    this.enabled = options.tokens !== undefined || options.oidc !== undefined;
    if (!this.enabled && !options.devInsecure)
      throw new Error('no token source configured and not in development mode');
  }

  /** The caller of a call with this metadata; throws UNAUTHENTICATED or PERMISSION_DENIED. */
  async authenticate(metadata: Metadata, peer: string): Promise<Principal> {
    if (!this.enabled) return insecureDevPrincipal(peer);
    const values = metadata.get('authorization');
    if (values.length === 0)
      throw unauthenticated('a bearer token is required ("authorization: Bearer <token>")');
    if (values.length > 1) throw unauthenticated('send exactly one authorization header');
    const header = values[0];
    if (typeof header !== 'string' || header.length > MAX_JWT_BYTES + 16)
      throw unauthenticated('the authorization header must be "Bearer <token>"');
    const match = BEARER.exec(header);
    if (!match) throw unauthenticated('the authorization header must be "Bearer <token>"');
    const token = match[1]!;
    const fromFile = this.options.tokens?.lookup(token);
    if (fromFile) return fromFile;
    if (this.options.oidc && looksLikeJwt(token)) {
      try {
        return await this.options.oidc.verify(token);
      } catch (err) {
        if (err instanceof JwtError) {
          this.options.log.info('bearer token refused', { peer, reason: err.reason });
          throw unauthenticated(
            err.reason === 'expired'
              ? 'the bearer token has expired'
              : 'the bearer token is not valid for this hub',
          );
        }
        if (err instanceof NoRoleError) {
          this.options.log.info('bearer token gives no role', { peer, error: err.message });
          throw new MusterError(
            ErrorCode.PermissionDenied,
            `the bearer token gives no Muster role: ${err.message}`,
          );
        }
        throw err;
      }
    }
    this.options.log.info('bearer token refused', { peer, reason: 'unknown-token' });
    throw unauthenticated('the bearer token is not valid for this hub');
  }
}
