#!/usr/bin/env node
// clusterprofile-consumer: does what Argo CD's ClusterProfile controller and Kueue's MultiKueue do
// with Muster's ClusterProfiles, as a plain program: list the ClusterProfiles of a namespace on the
// management cluster, pick for each an access provider named in the consumer's provider file, run
// that provider's exec credential plugin, and list the worker cluster's nodes with the credential.
//
//   node infra/inventory/clusterprofile-consumer.mjs \
//     --kubeconfig mgmt.kubeconfig --namespace muster-inventory \
//     --provider-file infra/inventory/provider-file.example.json [--cluster-manager muster]
//
// Prints JSON: { "namespace": ..., "clusters": [{ "name", "clusterManager", "displayName",
// "healthy", "provider", "server", "nodes": [...], "error"? }] }; exits 1 when a cluster failed.
// Needs the built @muster/k8s (npx tsc -b libs/k8s/tsconfig.json).
import process from 'node:process';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import musterK8s from '@muster/k8s';

const {
  CLUSTER_PROFILE_GROUP,
  CLUSTER_PROFILE_PLURAL,
  CLUSTER_PROFILE_VERSION,
  LABEL_CLUSTER_MANAGER,
  kubeConfigForClusterProfile,
  readAccessProviderFile,
  resolveClusterAccess,
} = musterK8s;

function options(argv) {
  const o = { namespace: 'muster-inventory' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = inline ?? argv[++i];
    if (flag === '--kubeconfig') o.kubeconfig = value;
    else if (flag === '--namespace') o.namespace = value;
    else if (flag === '--provider-file') o.providerFile = value;
    else if (flag === '--cluster-manager') o.clusterManager = value;
    else throw new Error(`unknown option ${flag}`);
  }
  if (!o.providerFile) throw new Error('--provider-file is required');
  return o;
}

async function main() {
  const o = options(process.argv.slice(2));
  const providers = readAccessProviderFile(o.providerFile);
  const hub = new KubeConfig();
  if (o.kubeconfig) hub.loadFromFile(o.kubeconfig);
  else hub.loadFromDefault();
  const list = await hub.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
    group: CLUSTER_PROFILE_GROUP,
    version: CLUSTER_PROFILE_VERSION,
    namespace: o.namespace,
    plural: CLUSTER_PROFILE_PLURAL,
    ...(o.clusterManager ? { labelSelector: `${LABEL_CLUSTER_MANAGER}=${o.clusterManager}` } : {}),
  });
  const clusters = [];
  for (const profile of list.items) {
    const healthy = (profile.status?.conditions ?? []).find(
      (c) => c.type === 'ControlPlaneHealthy',
    )?.status;
    const entry = {
      name: profile.metadata.name,
      clusterManager: profile.spec?.clusterManager?.name,
      displayName: profile.spec?.displayName,
      healthy: healthy ?? 'Unknown',
    };
    try {
      const access = resolveClusterAccess(profile, providers);
      entry.provider = access.providerName;
      entry.server = access.cluster.server;
      const kc = await kubeConfigForClusterProfile(profile, providers);
      const nodes = await kc.makeApiClient(CoreV1Api).listNode();
      entry.nodes = nodes.items.map((n) => n.metadata?.name).sort();
    } catch (err) {
      entry.error = err instanceof Error ? err.message.split('\n')[0] : String(err);
    }
    clusters.push(entry);
  }
  process.stdout.write(JSON.stringify({ namespace: o.namespace, clusters }, null, 2) + '\n');
  if (clusters.some((c) => c.error)) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`clusterprofile-consumer: ${err instanceof Error ? err.message : err}\n`);
  process.exit(2);
});
