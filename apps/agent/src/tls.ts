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
import { ConfigError } from './config';

export interface HubTransport {
  credentials: ChannelCredentials;
  mode: 'plaintext' | 'tls' | 'mtls';
}

function read(env: NodeJS.ProcessEnv, key: string): Buffer | null {
  const path = env[key]?.trim();
  if (!path) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    // The path and the reason, never the contents.
    throw new ConfigError(
      `${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** The credentials for the hub stream, from MUSTER_TLS_*; throws ConfigError. */
export function hubTransport(env: NodeJS.ProcessEnv = process.env): HubTransport {
  const ca = read(env, 'MUSTER_TLS_CA_FILE');
  const cert = read(env, 'MUSTER_TLS_CERT_FILE');
  const key = read(env, 'MUSTER_TLS_KEY_FILE');
  if ((cert === null) !== (key === null))
    throw new ConfigError('MUSTER_TLS_CERT_FILE and MUSTER_TLS_KEY_FILE go together; set both');
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
