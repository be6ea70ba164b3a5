// The hub's transport security. One port serves people (bearer tokens; a client certificate is
// neither needed nor used) and agents (a client certificate signed by the agent CA is required).
// TLS therefore asks every client for a certificate but lets the handshake finish without one
// (requestCert true, rejectUnauthorized false); a presented certificate is verified against the
// agent CA by TLS itself, and only a verified one shows in the call's auth context
// (getAuthContext().sslPeerCertificate). AgentService refuses calls without one.
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import { ConfigError, type HubConfig } from '../config/hub-config';

/** TLS that requests, but does not require, a client certificate. */
class OptionalClientCertServerCredentials extends ServerCredentials {
  constructor(context: SecureContextOptions) {
    super(
      {
        requestCert: true,
        rejectUnauthorized: false,
        // grpc-js sets the same option from GRPC_SSL_CIPHER_SUITES for its own credentials.
        ...(process.env.GRPC_SSL_CIPHER_SUITES
          ? { ciphers: process.env.GRPC_SSL_CIPHER_SUITES }
          : {}),
      },
      context,
    );
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export type TransportMode = 'plaintext' | 'tls' | 'mtls';

export interface Transport {
  credentials: ServerCredentials;
  mode: TransportMode;
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      `${variable}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/**
 * Server credentials from the configuration: mutual TLS with cert, key and client CA; TLS
 * without client certificates only in development mode (agents then authenticate as nobody);
 * plain text only in development mode. Throws ConfigError with the variable at fault.
 */
export function transportFor(
  c: Pick<HubConfig, 'devInsecure' | 'tlsCertFile' | 'tlsKeyFile' | 'tlsClientCaFile'>,
): Transport {
  if (!c.tlsCertFile && !c.tlsKeyFile) {
    if (c.tlsClientCaFile)
      throw new ConfigError(
        'MUSTER_TLS_CLIENT_CA_FILE is set but MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE are not',
      );
    if (!c.devInsecure)
      throw new ConfigError(
        'MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE are required (plain text only with MUSTER_DEV_INSECURE=true, for development)',
      );
    return { credentials: ServerCredentials.createInsecure(), mode: 'plaintext' };
  }
  if (!c.tlsCertFile || !c.tlsKeyFile)
    throw new ConfigError('MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE go together; set both');
  const cert = readPem('MUSTER_TLS_CERT_FILE', c.tlsCertFile);
  const key = readPem('MUSTER_TLS_KEY_FILE', c.tlsKeyFile);
  const ca = c.tlsClientCaFile
    ? readPem('MUSTER_TLS_CLIENT_CA_FILE', c.tlsClientCaFile)
    : undefined;
  try {
    // Fails now, with a clear message, on a key that does not fit the certificate or bad PEM.
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (err) {
    // OpenSSL's message names the failing check (e.g. "key values mismatch"), never key bytes.
    throw new ConfigError(
      `MUSTER_TLS_CERT_FILE / MUSTER_TLS_KEY_FILE${ca ? ' / MUSTER_TLS_CLIENT_CA_FILE' : ''}: ${(err as Error).message}`,
    );
  }
  if (!ca) {
    if (!c.devInsecure)
      throw new ConfigError(
        'MUSTER_TLS_CLIENT_CA_FILE is required: agents authenticate with client certificates it signed',
      );
    return {
      credentials: ServerCredentials.createSsl(
        null,
        [{ cert_chain: cert, private_key: key }],
        false,
      ),
      mode: 'tls',
    };
  }
  return {
    credentials: new OptionalClientCertServerCredentials({ cert, key, ca }),
    mode: 'mtls',
  };
}
