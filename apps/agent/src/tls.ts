// TLS to the hub. The hub authenticates agents with mutual TLS: the agent presents a client
// certificate (SAN URI muster://cluster/<name>, see infra/pki/README.md) and verifies the hub's
// certificate against the CA that signed it.
//
//   MUSTER_TLS_CA_FILE    PEM CA(s) that signed the hub's certificate (default: system roots)
//   MUSTER_TLS_CERT_FILE  PEM client certificate of this cluster's agent
//   MUSTER_TLS_KEY_FILE   its private key (with MUSTER_TLS_CERT_FILE; both or neither)
//
// The hub's certificate must name the host of MUSTER_HUB (DNS name or IP address SAN).
// None of them set: plain text, for a hub in development mode only.
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { ConfigError, type AgentConfig } from './config';

export interface HubTransport {
  credentials: ChannelCredentials;
  mode: 'plaintext' | 'tls' | 'mtls';
}

function read(key: string, path: string | undefined): Buffer | null {
  if (path === undefined) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    // The path and the reason, never the contents.
    throw new ConfigError(
      `${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** The credentials for the hub stream, from the MUSTER_TLS_* files; throws ConfigError. */
export function hubTransport(
  config: Pick<AgentConfig, 'tlsCaFile' | 'tlsCertFile' | 'tlsKeyFile'>,
): HubTransport {
  const ca = read('MUSTER_TLS_CA_FILE', config.tlsCaFile);
  // Both or neither: the configuration has checked that.
  const cert = read('MUSTER_TLS_CERT_FILE', config.tlsCertFile);
  const key = read('MUSTER_TLS_KEY_FILE', config.tlsKeyFile);
  if (ca === null && cert === null)
    return { credentials: credentials.createInsecure(), mode: 'plaintext' };
  let creds: ChannelCredentials;
  try {
    creds = credentials.createSsl(ca, key, cert);
  } catch (err) {
    throw new ConfigError(`MUSTER_TLS_*: ${(err as Error).message}`);
  }
  return { credentials: creds, mode: cert ? 'mtls' : 'tls' };
}
