/** Where a setting went wrong and what is wrong with it, as a schema reports it. */
export interface SettingProblem {
  /** The setting's name first (an environment variable), then any index inside its value. */
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * A configuration the process refuses to start with. The message names every setting at fault
 * and what is wrong with it, and never a secret.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  /** One error for all of `problems`, each as "NAME: what is wrong" ("NAME[2]: ..." in a list). */
  static of(problems: readonly SettingProblem[]): ConfigError {
    return new ConfigError(problems.map(problemText).join('; '));
  }
}

function problemText({ path, message }: SettingProblem): string {
  const [name, ...inside] = path;
  if (name === undefined) return message;
  return `${String(name)}${inside.map((p) => `[${String(p)}]`).join('')}: ${message}`;
}

/**
 * The values of the settings `names` in `env`, trimmed, a blank one as unset: what a schema of
 * settings parses, so that `NAME=` means the default everywhere.
 */
export function settingValues(
  env: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {};
  for (const name of names) {
    const value = env[name]?.trim();
    values[name] = value === '' ? undefined : value;
  }
  return values;
}
