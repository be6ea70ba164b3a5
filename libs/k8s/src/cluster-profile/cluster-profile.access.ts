// From a ClusterProfile to a Kubernetes client, the way the Cluster Inventory API's consumers do it
// (sigs.k8s.io/cluster-inventory-api/pkg/access, used by Argo CD and Kueue's MultiKueue):
//
// 1. The consumer's provider file lists access providers, each a `name` and an exec credential
//    plugin (`execConfig`).
// 2. The first provider of the file (in file order) whose name the profile publishes in
//    status.accessProviders (or the deprecated status.credentialProviders; accessProviders wins on a
//    name clash) is used: the profile gives the server, CA and proxy, the file gives the plugin.
// 3. Cluster extensions feed the plugin: `client.authentication.k8s.io/exec` becomes
//    ExecCredential spec.cluster.config; the KEP-5339 additional-args/additional-envs extensions are
//    applied only when the provider's profileSourcedCLIArgsPolicy / profileSourcedEnvVarsPolicy allow.
// 4. With `provideClusterInfo`, the plugin gets the cluster in KUBERNETES_EXEC_INFO (client-go sets
//    it; @kubernetes/client-node does not, so it is put into the exec env here).
//
// Everything but the last step (creating the KubeConfig) is pure; @kubernetes/client-node is loaded
// lazily so that importing this library never pulls in the ESM-only client.
import { isRecord } from '@muster/common';
import { readFileSync } from 'node:fs';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import {
  ADDITIONAL_ARGS_EXTENSION_KEY,
  ADDITIONAL_ENVS_EXTENSION_KEY,
  EXEC_EXTENSION_KEY,
  type ClusterProfile,
  type KubeconfigCluster,
  type ProfileAccessProvider,
} from './cluster-profile.types';

export interface ExecEnvVar {
  name: string;
  value: string;
}

/** clientcmd ExecConfig, as written in a provider file. */
export interface ExecConfig {
  /** client.authentication.k8s.io/v1 or v1beta1. */
  apiVersion: string;
  command: string;
  args?: string[];
  env?: ExecEnvVar[];
  /** Pass the cluster to the plugin in KUBERNETES_EXEC_INFO. */
  provideClusterInfo?: boolean;
  /** Always "Never" for consumers (no terminal). */
  interactiveMode?: string;
  installHint?: string;
}

export type CliArgsPolicy = '' | 'Append' | 'Ignore';
export type EnvVarsPolicy = '' | 'AppendIfNotExists' | 'Replace' | 'Ignore';

export interface AccessProviderConfig {
  name: string;
  execConfig: ExecConfig;
  profileSourcedCLIArgsPolicy?: CliArgsPolicy;
  profileSourcedEnvVarsPolicy?: EnvVarsPolicy;
}

/** The consumer's provider file (e.g. Argo CD's --cluster-profile-providers-file). */
export interface AccessProviderFile {
  providers: AccessProviderConfig[];
}

/** A provider file or ClusterProfile that cannot give a client; `field` says where. */
export class ClusterAccessError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ClusterAccessError';
  }
}

const EXEC_API_VERSIONS = new Set([
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
]);
const CLI_POLICIES = new Set<string>(['', 'Append', 'Ignore']);
const ENV_POLICIES = new Set<string>(['', 'AppendIfNotExists', 'Replace', 'Ignore']);

function stringList(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((a) => typeof a !== 'string'))
    throw new ClusterAccessError(field, 'must be a list of strings');
  return [...(v as string[])];
}

function envList(v: unknown, field: string): ExecEnvVar[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ClusterAccessError(field, 'must be a list of {name, value}');
  return v.map((e, i) => {
    if (!isRecord(e) || typeof e.name !== 'string' || e.name === '')
      throw new ClusterAccessError(`${field}[${i}].name`, 'must be a non-empty string');
    if (typeof e.value !== 'string')
      throw new ClusterAccessError(`${field}[${i}].value`, 'must be a string');
    return { name: e.name, value: e.value };
  });
}

/** Validates a parsed provider file (JSON) into its typed form. */
export function parseAccessProviderFile(input: unknown): AccessProviderFile {
  if (!isRecord(input) || !Array.isArray(input.providers))
    throw new ClusterAccessError('providers', 'the provider file must be {"providers": [...]}');
  const names = new Set<string>();
  const providers = input.providers.map((p, i): AccessProviderConfig => {
    const f = `providers[${i}]`;
    if (!isRecord(p)) throw new ClusterAccessError(f, 'must be an object');
    if (typeof p.name !== 'string' || p.name === '')
      throw new ClusterAccessError(`${f}.name`, 'must be a non-empty string');
    if (names.has(p.name)) throw new ClusterAccessError(`${f}.name`, `duplicate "${p.name}"`);
    names.add(p.name);
    const e = p.execConfig;
    if (!isRecord(e)) throw new ClusterAccessError(`${f}.execConfig`, 'is required');
    if (typeof e.command !== 'string' || e.command === '')
      throw new ClusterAccessError(`${f}.execConfig.command`, 'must be a non-empty string');
    if (typeof e.apiVersion !== 'string' || !EXEC_API_VERSIONS.has(e.apiVersion)) {
      throw new ClusterAccessError(
        `${f}.execConfig.apiVersion`,
        `must be one of ${[...EXEC_API_VERSIONS].join(', ')}`,
      );
    }
    if (e.provideClusterInfo !== undefined && typeof e.provideClusterInfo !== 'boolean')
      throw new ClusterAccessError(`${f}.execConfig.provideClusterInfo`, 'must be a boolean');
    const cli = p.profileSourcedCLIArgsPolicy ?? '';
    if (typeof cli !== 'string' || !CLI_POLICIES.has(cli))
      throw new ClusterAccessError(`${f}.profileSourcedCLIArgsPolicy`, 'must be Append or Ignore');
    const env = p.profileSourcedEnvVarsPolicy ?? '';
    if (typeof env !== 'string' || !ENV_POLICIES.has(env)) {
      throw new ClusterAccessError(
        `${f}.profileSourcedEnvVarsPolicy`,
        'must be AppendIfNotExists, Replace or Ignore',
      );
    }
    return {
      name: p.name,
      execConfig: {
        apiVersion: e.apiVersion,
        command: e.command,
        args: stringList(e.args, `${f}.execConfig.args`),
        env: envList(e.env, `${f}.execConfig.env`),
        provideClusterInfo: e.provideClusterInfo === true,
        interactiveMode: 'Never',
        ...(typeof e.installHint === 'string' ? { installHint: e.installHint } : {}),
      },
      profileSourcedCLIArgsPolicy: cli as CliArgsPolicy,
      profileSourcedEnvVarsPolicy: env as EnvVarsPolicy,
    };
  });
  return { providers };
}

/** Reads and validates a provider file (JSON) from disk. */
export function readAccessProviderFile(path: string): AccessProviderFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ClusterAccessError(path, `cannot read the provider file: ${(err as Error).message}`);
  }
  return parseAccessProviderFile(parsed);
}

function providersOf(value: unknown): ProfileAccessProvider[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (p): p is ProfileAccessProvider =>
      isRecord(p) && typeof p.name === 'string' && isRecord(p.cluster),
  );
}

export interface SelectedAccessProvider {
  /** The profile's provider (server, CA, extensions). */
  provider: ProfileAccessProvider;
  /** The consumer's provider (exec plugin). */
  config: AccessProviderConfig;
  /** Found only in the deprecated status.credentialProviders. */
  fromCredentialProviders: boolean;
}

/** The first provider of the file that the profile publishes, or undefined when none matches. */
export function selectAccessProvider(
  profile: ClusterProfile,
  file: AccessProviderFile,
): SelectedAccessProvider | undefined {
  const published = new Map<string, { provider: ProfileAccessProvider; deprecated: boolean }>();
  for (const p of providersOf(profile.status?.credentialProviders))
    published.set(p.name, { provider: p, deprecated: true });
  for (const p of providersOf(profile.status?.accessProviders))
    published.set(p.name, { provider: p, deprecated: false });
  for (const config of file.providers) {
    const found = published.get(config.name);
    if (found)
      return { provider: found.provider, config, fromCredentialProviders: found.deprecated };
  }
  return undefined;
}

/** client.authentication.k8s.io ExecCredential input, as KUBERNETES_EXEC_INFO carries it. */
export interface ExecCredentialInfo {
  apiVersion: string;
  kind: 'ExecCredential';
  spec: {
    interactive: false;
    cluster?: {
      server: string;
      'tls-server-name'?: string;
      'insecure-skip-tls-verify'?: boolean;
      'certificate-authority-data'?: string;
      'proxy-url'?: string;
      'disable-compression'?: boolean;
      config?: unknown;
    };
  };
}

export interface ResolvedClusterAccess {
  /** "<namespace>/<name>" of the profile. */
  profile: string;
  providerName: string;
  cluster: KubeconfigCluster;
  /** The plugin to run, with profile-sourced args/env applied and KUBERNETES_EXEC_INFO set. */
  exec: ExecConfig;
  fromCredentialProviders: boolean;
}

function extensionValue(cluster: KubeconfigCluster, name: string): unknown {
  const exts = Array.isArray(cluster.extensions) ? cluster.extensions : [];
  return exts.find((e) => isRecord(e) && e.name === name)?.extension;
}

function profileArgs(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((a) => typeof a !== 'string'))
    throw new ClusterAccessError(field, 'must be a list of strings');
  return value as string[];
}

function profileEnvs(value: unknown, field: string): Map<string, string> {
  if (!isRecord(value) || Object.values(value).some((v) => typeof v !== 'string'))
    throw new ClusterAccessError(field, 'must be a map of strings');
  return new Map(Object.entries(value as Record<string, string>));
}

/** Merges exec env: policy Replace lets the profile win, AppendIfNotExists lets the file win. */
function mergeEnv(
  fileEnv: ExecEnvVar[],
  profile: Map<string, string>,
  policy: EnvVarsPolicy,
): ExecEnvVar[] {
  const out = new Map<string, string>();
  for (const e of fileEnv) out.set(e.name, e.value);
  for (const [name, value] of profile) {
    if (policy === 'Replace' || !out.has(name)) out.set(name, value);
  }
  return [...out.entries()].map(([name, value]) => ({ name, value }));
}

/** The KUBERNETES_EXEC_INFO value a plugin gets for this cluster. */
export function execCredentialInfo(
  apiVersion: string,
  cluster: KubeconfigCluster,
  provideClusterInfo: boolean,
): ExecCredentialInfo {
  const info: ExecCredentialInfo = {
    apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false },
  };
  if (!provideClusterInfo) return info;
  const c: NonNullable<ExecCredentialInfo['spec']['cluster']> = { server: cluster.server };
  if (cluster['tls-server-name']) c['tls-server-name'] = cluster['tls-server-name'];
  if (cluster['insecure-skip-tls-verify']) c['insecure-skip-tls-verify'] = true;
  if (cluster['certificate-authority-data'])
    c['certificate-authority-data'] = cluster['certificate-authority-data'];
  if (cluster['proxy-url']) c['proxy-url'] = cluster['proxy-url'];
  if (cluster['disable-compression']) c['disable-compression'] = true;
  const config = extensionValue(cluster, EXEC_EXTENSION_KEY);
  if (config !== undefined) c.config = config;
  info.spec.cluster = c;
  return info;
}

/**
 * Resolves how to reach the cluster of a profile with the consumer's provider file; throws
 * ClusterAccessError when the profile publishes no provider the file knows, or its data is unusable.
 */
export function resolveClusterAccess(
  profile: ClusterProfile,
  file: AccessProviderFile,
): ResolvedClusterAccess {
  const id = `${profile.metadata?.namespace ?? ''}/${profile.metadata?.name ?? ''}`;
  const selected = selectAccessProvider(profile, file);
  if (!selected) {
    throw new ClusterAccessError(
      'status.accessProviders',
      `ClusterProfile ${id} publishes no access provider named in the provider file (${file.providers.map((p) => p.name).join(', ') || 'none'})`,
    );
  }
  const { provider, config } = selected;
  const list = selected.fromCredentialProviders ? 'credentialProviders' : 'accessProviders';
  const field = `status.${list}[name=${provider.name}].cluster`;
  const cluster = provider.cluster;
  if (typeof cluster.server !== 'string' || cluster.server === '')
    throw new ClusterAccessError(`${field}.server`, 'is required');
  try {
    const url = new URL(cluster.server);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw new ClusterAccessError(
      `${field}.server`,
      `must be an https:// URL (got "${cluster.server}")`,
    );
  }
  const exec = config.execConfig;
  let args = [...(exec.args ?? [])];
  let env = [...(exec.env ?? [])];
  const cliPolicy = config.profileSourcedCLIArgsPolicy ?? '';
  const envPolicy = config.profileSourcedEnvVarsPolicy ?? '';
  const extraArgs = extensionValue(cluster, ADDITIONAL_ARGS_EXTENSION_KEY);
  if (extraArgs !== undefined && cliPolicy === 'Append')
    args = [
      ...args,
      ...profileArgs(extraArgs, `${field}.extensions[${ADDITIONAL_ARGS_EXTENSION_KEY}]`),
    ];
  const extraEnv = extensionValue(cluster, ADDITIONAL_ENVS_EXTENSION_KEY);
  if (extraEnv !== undefined && (envPolicy === 'AppendIfNotExists' || envPolicy === 'Replace')) {
    const profile = profileEnvs(extraEnv, `${field}.extensions[${ADDITIONAL_ENVS_EXTENSION_KEY}]`);
    env = mergeEnv(env, profile, envPolicy);
  }
  const info = execCredentialInfo(exec.apiVersion, cluster, exec.provideClusterInfo === true);
  env = [
    ...env.filter((e) => e.name !== 'KUBERNETES_EXEC_INFO'),
    { name: 'KUBERNETES_EXEC_INFO', value: JSON.stringify(info) },
  ];
  return {
    profile: id,
    providerName: provider.name,
    cluster,
    exec: {
      apiVersion: exec.apiVersion,
      command: exec.command,
      args,
      env,
      provideClusterInfo: exec.provideClusterInfo === true,
      interactiveMode: 'Never',
    },
    fromCredentialProviders: selected.fromCredentialProviders,
  };
}

/** Options for @kubernetes/client-node KubeConfig.loadFromOptions. */
export interface KubeConfigOptions {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
}

/** One cluster, one exec user, one context: what KubeConfig.loadFromOptions takes. */
export function kubeConfigOptions(access: ResolvedClusterAccess): KubeConfigOptions {
  // Names are unique per profile and provider: client-node caches exec tokens by user name.
  const name = `${access.profile}/${access.providerName}`;
  const c = access.cluster;
  const cluster: Cluster = {
    name,
    server: c.server.replace(/\/$/, ''),
    skipTLSVerify: c['insecure-skip-tls-verify'] === true,
    ...(c['certificate-authority-data'] ? { caData: c['certificate-authority-data'] } : {}),
    ...(c['tls-server-name'] ? { tlsServerName: c['tls-server-name'] } : {}),
    ...(c['proxy-url'] ? { proxyUrl: c['proxy-url'] } : {}),
  };
  const user: User = { name, exec: access.exec };
  return {
    clusters: [cluster],
    users: [user],
    contexts: [{ name, cluster: name, user: name }],
    currentContext: name,
  };
}

/**
 * A @kubernetes/client-node KubeConfig that reaches the profile's cluster through the exec plugin of
 * the matching provider. Loads the client on first use.
 */
export async function kubeConfigForClusterProfile(
  profile: ClusterProfile,
  file: AccessProviderFile,
): Promise<KubeConfig> {
  const options = kubeConfigOptions(resolveClusterAccess(profile, file));
  const { KubeConfig: KubeConfigClass } = await import('@kubernetes/client-node');
  const kc = new KubeConfigClass();
  kc.loadFromOptions(options);
  return kc;
}
