// The Argo CD cluster Secret that Argo CD's ClusterProfile controller
// (github.com/argoproj-labs/clusterprofile-integration-for-argocd, controller.go: mutateSecret and
// buildClusterConfig) writes for a ClusterProfile, restated from that source, and what Argo CD's
// application controller does with it. The controller's Go module is not served by the Go module
// proxy (403), so its logic is checked here instead of run; see docs/multikueue.md, "Argo CD".
import { execFileSync } from 'node:child_process';
import {
  execCredentialInfo,
  selectAccessProvider,
  type AccessProviderFile,
  type ClusterProfile,
} from '@muster/k8s';
import { kubeJSON } from '../../infra/testbed/src';

/** The `config` key of an Argo CD cluster Secret (v1alpha1.ClusterConfig, as JSON). */
export interface ArgoCdClusterConfig {
  bearerToken?: string;
  tlsClientConfig: { insecure: boolean; serverName?: string; caData?: string };
  execProviderConfig?: {
    command: string;
    args?: string[];
    env?: Record<string, string>;
    apiVersion: string;
    provideClusterInfo?: boolean;
  };
}

export interface ArgoCdClusterSecret {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  stringData: { name: string; server: string; config: string };
}

/**
 * The Secret the controller derives from `profile` with the provider file `providers`: named
 * `cluster-<profile>`, the profile's labels plus Argo CD's cluster type and the origin label,
 * the server and CA of the first provider of the file the profile lists, and that provider's exec
 * plugin (the `{{ .ClusterProfileName }}` / `{{ .ClusterProfileServer }}` placeholders replaced).
 */
export function argoCdClusterSecret(
  profile: ClusterProfile,
  providers: AccessProviderFile,
  namespace: string,
): ArgoCdClusterSecret {
  const selected = selectAccessProvider(profile, providers);
  if (!selected) throw new Error(`no access provider of the file in ${profile.metadata.name}`);
  const cluster = selected.provider.cluster;
  const exec = selected.config.execConfig;
  const replace = (arg: string) =>
    arg
      .replaceAll('{{ .ClusterProfileName }}', profile.metadata.name)
      .replaceAll('{{ .ClusterProfileServer }}', cluster.server);
  const config: ArgoCdClusterConfig = {
    tlsClientConfig: {
      insecure: cluster['insecure-skip-tls-verify'] === true,
      ...(cluster['tls-server-name'] ? { serverName: cluster['tls-server-name'] } : {}),
      ...(cluster['certificate-authority-data']
        ? { caData: cluster['certificate-authority-data'] }
        : {}),
    },
    execProviderConfig: {
      command: exec.command,
      ...(exec.args?.length ? { args: exec.args.map(replace) } : {}),
      ...(exec.env?.length
        ? { env: Object.fromEntries(exec.env.map((e) => [e.name, e.value])) }
        : {}),
      apiVersion: exec.apiVersion,
      ...(exec.provideClusterInfo ? { provideClusterInfo: true } : {}),
    },
  };
  return {
    metadata: {
      name: `cluster-${profile.metadata.name}`,
      namespace,
      labels: {
        ...profile.metadata.labels,
        'argocd.argoproj.io/secret-type': 'cluster',
        'argocd.argoproj.io/cluster-profile-origin': `${profile.metadata.namespace}-${profile.metadata.name}`,
      },
    },
    stringData: {
      name: profile.metadata.name,
      server: cluster.server,
      config: JSON.stringify(config),
    },
  };
}

/**
 * Reaches the cluster of `secret` as Argo CD's application controller does with it: runs the exec
 * plugin (KUBERNETES_EXEC_INFO carrying the cluster when provideClusterInfo is set), then calls the server with
 * the returned token, trusting caData. Returns the cluster's node names.
 */
export async function nodesThroughSecret(secret: ArgoCdClusterSecret): Promise<string[]> {
  const server = secret.stringData.server;
  const config = JSON.parse(secret.stringData.config) as ArgoCdClusterConfig;
  const exec = config.execProviderConfig!;
  const ca = Buffer.from(config.tlsClientConfig.caData ?? '', 'base64').toString('utf8');
  // client-go always sets KUBERNETES_EXEC_INFO; the cluster is in it only with provideClusterInfo.
  const info = execCredentialInfo(
    exec.apiVersion,
    {
      server,
      ...(config.tlsClientConfig.caData
        ? { 'certificate-authority-data': config.tlsClientConfig.caData }
        : {}),
    },
    exec.provideClusterInfo === true,
  );
  const out = execFileSync(exec.command, exec.args ?? [], {
    env: {
      ...process.env,
      ...exec.env,
      KUBERNETES_EXEC_INFO: JSON.stringify(info),
    },
    encoding: 'utf8',
  });
  const token = (JSON.parse(out) as { status: { token: string } }).status.token;
  const nodes = await kubeJSON<{ items: { metadata: { name: string } }[] }>(
    { server, token, ca },
    'GET',
    '/api/v1/nodes',
  );
  return nodes.items.map((n) => n.metadata.name);
}
