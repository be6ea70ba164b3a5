// gRPC channel credentials of a context: plain text without a tls block, else TLS with the
// configured CA and (for mutual TLS) client certificate.
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { ConfigError } from '../errors';
import type { TlsConfig } from './config-file';

export function channelCredentials(
  tls: TlsConfig | undefined,
  contextName = '(flags)',
): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  const read = (field: keyof TlsConfig, path: string | undefined): Buffer | null => {
    if (path === undefined) return null;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(
        `context "${contextName}": tls.${field}: cannot read ${path}: ${(err as Error).message}`,
      );
    }
  };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ConfigError(
      `context "${contextName}": tls.certFile and tls.keyFile go together; set both or neither`,
    );
  }
  const ca = read('caFile', tls.caFile);
  const key = read('keyFile', tls.keyFile);
  const cert = read('certFile', tls.certFile);
  return credentials.createSsl(
    ca,
    key,
    cert,
    tls.insecure ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : undefined,
  );
}
