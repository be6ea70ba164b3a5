// Which hub to talk to and how: flags win over MUSTER_* environment variables, which win over
// the chosen context of the config file. Each value remembers where it came from so a
// connection failure can say what to change.
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, NotFoundError, UsageError } from '../errors';
import type { MusterConfig, TlsConfig } from './config-file';

export const DEFAULT_HUB = '127.0.0.1:50051';

export interface GlobalFlags {
  hub?: string;
  token?: string;
  context?: string;
}

export interface HubSettings {
  address: string;
  /** Where the address came from, e.g. "--hub", "MUSTER_HUB", 'context "prod"' or "the default". */
  addressSource: string;
  token?: string;
  /** TLS files with paths resolved against the config file's folder; absent means plain text. */
  tls?: TlsConfig;
  contextName?: string;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

export function checkHubAddress(address: string, source: string): string {
  const m = HOST_PORT.exec(address);
  if (!m || Number(m[2]) > 65535) {
    throw new UsageError(
      `${source}: the hub address must be HOST:PORT such as 127.0.0.1:50051 (got "${address}")`,
    );
  }
  return address;
}

export function resolveHubSettings(
  flags: GlobalFlags,
  env: NodeJS.ProcessEnv,
  config: MusterConfig,
  configPath: string,
): HubSettings {
  const contextName = flags.context ?? (env.MUSTER_CONTEXT || undefined) ?? config.currentContext;
  const context =
    contextName === undefined ? undefined : config.contexts.find((c) => c.name === contextName);
  if (contextName !== undefined && !context) {
    const named =
      flags.context !== undefined
        ? '--context'
        : env.MUSTER_CONTEXT
          ? 'MUSTER_CONTEXT'
          : 'currentContext';
    const known = config.contexts.map((c) => c.name).join(', ') || 'none';
    const message = `${named} names context "${contextName}", which is not in ${configPath} (contexts: ${known})`;
    if (named === 'currentContext')
      throw new ConfigError(`${message}; pick one with \`muster config use-context NAME\``);
    throw new NotFoundError(
      `${message}; create it with \`muster config set-context ${contextName} --hub HOST:PORT\``,
    );
  }
  let address = DEFAULT_HUB;
  let addressSource = 'the default';
  if (flags.hub !== undefined) {
    address = flags.hub;
    addressSource = '--hub';
  } else if (env.MUSTER_HUB) {
    address = env.MUSTER_HUB;
    addressSource = 'MUSTER_HUB';
  } else if (context) {
    address = context.hub;
    addressSource = `context "${context.name}" in ${configPath}`;
  }
  checkHubAddress(address, addressSource);
  const token = flags.token ?? (env.MUSTER_TOKEN || undefined) ?? context?.token;
  const settings: HubSettings = { address, addressSource };
  if (token !== undefined && token !== '') settings.token = token;
  if (context) settings.contextName = context.name;
  if (context?.tls) settings.tls = resolveTlsPaths(context.tls, configPath);
  return settings;
}

/** Relative TLS paths are relative to the config file, as kubeconfig's are. */
function resolveTlsPaths(tls: TlsConfig, configPath: string): TlsConfig {
  const base = dirname(configPath);
  const at = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  const out: TlsConfig = { ...tls };
  if (tls.caFile !== undefined) out.caFile = at(tls.caFile);
  if (tls.certFile !== undefined) out.certFile = at(tls.certFile);
  if (tls.keyFile !== undefined) out.keyFile = at(tls.keyFile);
  return out;
}
