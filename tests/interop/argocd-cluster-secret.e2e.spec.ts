// The Argo CD cluster Secret that Argo CD's ClusterProfile controller would write for the
// ClusterProfile Muster publishes (rules restated from the controller's source in ./argocd.ts),
// and proof that the Secret works: Argo CD's way of connecting with it reaches the worker. The
// controller itself cannot be built here (its Go module is not served by the module proxy).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HubClients } from '@muster/api';
import { parseAccessProviderFile, type AccessProviderFile } from '@muster/k8s';
import { startTestbed, type Testbed } from '../../infra/testbed/src';
import { writeClusterAccess, type ClusterAccess } from '../support/cluster-access';
import { stopFleet } from '../support/clusters';
import { eventually } from '../support/eventually';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { testLogDir } from '../support/hub-process';
import { ManagementCluster } from '../cluster-profiles/management-cluster';
import { argoCdClusterSecret, nodesThroughSecret, type ArgoCdClusterConfig } from './argocd';

jest.setTimeout(5 * 60_000);

/** Where Argo CD reads ClusterProfiles by default: its own namespace. */
const ARGOCD_NS = 'argocd';
const WORKER = 'cd-worker';

const TOPOLOGY = {
  clusters: [
    {
      name: 'mgmt',
      role: 'management' as const,
      nodePools: [{ name: 'system', count: 1, resources: { cpu: 4, memory: '8Gi', pods: 110 } }],
    },
    {
      name: WORKER,
      role: 'worker' as const,
      nodePools: [{ name: 'cpu', count: 2, resources: { cpu: 16, memory: '64Gi', pods: 110 } }],
    },
  ],
};

let tb: Testbed;
let access: ClusterAccess;
let providers: AccessProviderFile;
let env: HubEnvironment;
let api: HubClients;
let profiles: ManagementCluster;

beforeAll(async () => {
  tb = await startTestbed(TOPOLOGY, { log: () => undefined });
  const m = tb.management!;
  const w = tb.cluster(WORKER);
  profiles = new ManagementCluster({ server: m.server, token: m.token, ca: m.ca });
  await profiles.installCrd();
  access = writeClusterAccess([{ name: WORKER, server: w.server, token: w.token, ca: w.ca }]);
  providers = parseAccessProviderFile(JSON.parse(readFileSync(access.providerFile, 'utf8')));
  env = await startHubEnvironment({
    logFile: join(testLogDir('argocd-cluster-secret'), 'hub.log'),
    env: {
      MUSTER_INVENTORY_KUBECONFIG: m.kubeconfigPath,
      MUSTER_INVENTORY_NAMESPACE: ARGOCD_NS,
      MUSTER_INVENTORY_POLL_MS: '500',
    },
  });
  ({ api } = env);
  await api.inventory.registerCluster({
    name: WORKER,
    displayName: 'CD worker',
    clusterSet: 'training',
    topologyLevels: [],
    accessProviders: access.accessProvidersFor(WORKER),
    labels: { tier: 'cpu' },
  });
}, 15 * 60_000);

afterAll(async () => {
  await stopFleet([], env, tb);
  access?.cleanup();
});

describe("Argo CD's cluster Secret for a Muster ClusterProfile", () => {
  it('names the worker, carries its server, CA and labels, and connects to it', async () => {
    const profile = await eventually(
      `the ClusterProfile ${ARGOCD_NS}/${WORKER} with its access provider`,
      async () => {
        const p = await profiles.get(ARGOCD_NS, WORKER);
        return p?.status?.accessProviders?.length ? p : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const w = tb.cluster(WORKER);
    const secret = argoCdClusterSecret(profile, providers, ARGOCD_NS);

    expect(secret.metadata).toEqual({
      name: `cluster-${WORKER}`,
      namespace: ARGOCD_NS,
      labels: {
        'x-k8s.io/cluster-manager': 'muster',
        'multicluster.x-k8s.io/clusterset': 'training',
        tier: 'cpu',
        'argocd.argoproj.io/secret-type': 'cluster',
        'argocd.argoproj.io/cluster-profile-origin': `${ARGOCD_NS}-${WORKER}`,
      },
    });
    expect(secret.stringData.name).toBe(WORKER);
    expect(secret.stringData.server).toBe(w.server);
    const config = JSON.parse(secret.stringData.config) as ArgoCdClusterConfig;
    expect(config).toEqual({
      tlsClientConfig: { insecure: false, caData: Buffer.from(w.ca).toString('base64') },
      execProviderConfig: {
        command: process.execPath,
        args: providers.providers[0]!.execConfig.args,
        apiVersion: 'client.authentication.k8s.io/v1',
        provideClusterInfo: true,
      },
    });
    // No token in the Secret: the plugin hands it out when Argo CD connects.
    expect(config.bearerToken).toBeUndefined();

    expect((await nodesThroughSecret(secret)).sort()).toEqual([...w.nodes].sort());
  });
});
