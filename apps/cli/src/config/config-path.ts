// Where the CLI keeps its contexts: $MUSTER_CONFIG, else $XDG_CONFIG_HOME/muster/config.yaml,
// else ~/.config/muster/config.yaml.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export function configFilePath(
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string {
  if (env.MUSTER_CONFIG) return env.MUSTER_CONFIG;
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const base =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : join(home, '.config');
  return join(base, 'muster', 'config.yaml');
}
