// Builds the hub's security pieces from the configuration, failing start-up (ConfigError, exit
// code 2) on anything missing or broken rather than serving with less protection than asked.
import { ConfigError, type HubConfig } from '../config/hub-config';
import type { Log } from '@muster/log';
import { Authenticator } from './authenticator';
import { FileKeySource, JwksError, UrlKeySource } from './jwks';
import type { KeySource } from './jwt';
import { OidcVerifier, parseGroupRoles } from './oidc';
import { ConcurrencyLimiter, KeyedRateLimiter } from './rate-limiter';
import { TokenStore } from './token-store';
import { transportFor, type Transport } from './tls';

/** The transport and authentication main.ts built from the configuration before startup. */
export const HUB_SECURITY = Symbol('HUB_SECURITY');

export interface HubSecurity {
  transport: Transport;
  auth: Authenticator;
  watchers: ConcurrencyLimiter;
  submits: KeyedRateLimiter;
}

function keySource(c: NonNullable<HubConfig['oidc']>, log: Log): KeySource {
  const onError = (message: string) => log.warn('OIDC keys unavailable', { error: message });
  if (c.jwksFile) {
    try {
      return new FileKeySource(c.jwksFile, onError);
    } catch (err) {
      if (err instanceof JwksError) throw new ConfigError(err.message);
      throw err;
    }
  }
  return new UrlKeySource({
    jwksUrl: c.jwksUrl,
    issuer: c.issuer,
    refreshMs: c.jwksRefreshSeconds * 1000,
    minFetchIntervalMs: 30_000,
    fetchTimeoutMs: 5_000,
    onError,
  });
}

export function buildSecurity(c: HubConfig, logger: Log): HubSecurity {
  const log = logger.child({ component: 'auth' });
  const transport = transportFor(c);
  const tokens = c.authTokensFile
    ? TokenStore.fromFile(c.authTokensFile, (error) =>
        log.warn('tokens file not reloaded; keeping the previous tokens', { error }),
      )
    : undefined;
  const oidc = c.oidc
    ? new OidcVerifier(
        {
          issuer: c.oidc.issuer,
          audience: c.oidc.audience,
          roleClaim: c.oidc.roleClaim,
          queuesClaim: c.oidc.queuesClaim,
          nameClaim: c.oidc.nameClaim,
          groupsClaim: c.oidc.groupsClaim,
          groupRoles: parseGroupRoles(c.oidc.groupRoles),
          clockSkewSeconds: c.oidc.clockSkewSeconds,
        },
        keySource(c.oidc, log),
      )
    : undefined;
  if (!tokens && !oidc && !c.devInsecure)
    throw new ConfigError(
      'no authentication configured: set MUSTER_AUTH_TOKENS_FILE and/or MUSTER_OIDC_ISSUER (no authentication only with MUSTER_DEV_INSECURE=true, for development)',
    );
  const auth = new Authenticator({ tokens, oidc, devInsecure: c.devInsecure, log });
  log.info('security configured', {
    transport: transport.mode,
    staticTokens: tokens?.size ?? 0,
    oidcIssuer: c.oidc?.issuer,
    agentCertificates: transport.mode === 'mtls' ? 'required' : 'not checked',
  });
  return {
    transport,
    auth,
    watchers: new ConcurrencyLimiter(c.maxWatchersPerCaller),
    submits: new KeyedRateLimiter(c.submitsPerSecond, c.submitBurst),
  };
}

/** The start-up warning lines of development mode: what is relaxed, so no one misses it. */
export function devModeWarnings(c: HubConfig): string[] {
  if (!c.devInsecure) return [];
  const relaxed: string[] = [];
  if (!c.tlsCertFile) relaxed.push('gRPC is served in PLAIN TEXT');
  if (!c.authTokensFile && !c.oidc)
    relaxed.push('there is NO AUTHENTICATION: every caller is an admin');
  if (!c.tlsClientCaFile)
    relaxed.push('agents are NOT AUTHENTICATED: any stream may speak for any cluster');
  return [
    `MUSTER_DEV_INSECURE is on: development mode${relaxed.length > 0 ? `; ${relaxed.join('; ')}` : ''}. Never use it in production.`,
  ];
}
