// How a test hub reaches the worker clusters' API servers the way production does: through the
// clusters' registered access providers (the ClusterProfile access model) and a provider file
// whose exec plugin (infra/inventory/muster-token-plugin.mjs) hands out each worker's token.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessProvider } from '@muster/api';
import { REPO_ROOT } from './hub-process';

export const ACCESS_PROVIDER = 'muster-token';
// From the workspace root: this file also runs compiled, from bench/*/dist.
const PLUGIN = join(REPO_ROOT, 'infra/inventory/muster-token-plugin.mjs');

export interface WorkerEndpoint {
  name: string;
  server: string;
  token: string;
  ca: string;
}

export interface ClusterAccess {
  /** For the hub's MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE. */
  providerFile: string;
  /** The `access_providers` to register a worker with. */
  accessProvidersFor(name: string): AccessProvider[];
  cleanup(): void;
}

/** Writes a token file and a provider file for these workers into a fresh temporary directory. */
export function writeClusterAccess(workers: readonly WorkerEndpoint[]): ClusterAccess {
  const dir = mkdtempSync(join(tmpdir(), 'muster-access-'));
  const tokens = Object.fromEntries(workers.map((w) => [w.server, w.token]));
  writeFileSync(join(dir, 'tokens.json'), JSON.stringify(tokens));
  const providerFile = join(dir, 'providers.json');
  writeFileSync(
    providerFile,
    JSON.stringify({
      providers: [
        {
          name: ACCESS_PROVIDER,
          execConfig: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: process.execPath,
            args: [PLUGIN, '--token-file', join(dir, 'tokens.json')],
            provideClusterInfo: true,
          },
        },
      ],
    }),
  );
  const byName = new Map(workers.map((w) => [w.name, w]));
  return {
    providerFile,
    accessProvidersFor(name) {
      const w = byName.get(name);
      if (!w) throw new Error(`no worker named ${name}`);
      return [
        {
          name: ACCESS_PROVIDER,
          cluster: {
            server: w.server,
            certificateAuthorityData: Buffer.from(w.ca),
            tlsServerName: '',
            proxyUrl: '',
            insecureSkipTlsVerify: false,
            extensions: [],
          },
        },
      ];
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
