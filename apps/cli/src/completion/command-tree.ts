// The words a shell can complete at each point of the command tree, read from commander's own
// definitions so completion never lists a flag the CLI does not have.
import type { Command, Option } from 'commander';

export interface CompletionNode {
  /** Subcommand names leading here, e.g. ["clusters", "register"]; [] for the program. */
  path: string[];
  subcommands: string[];
  flags: string[];
  /** Fixed values of this command's flags, e.g. -o → table json yaml (they differ per command). */
  choices: Record<string, string[]>;
}

export interface CompletionTree {
  nodes: CompletionNode[];
  /** Flags that take a value (the next word is not a subcommand). */
  valueFlags: string[];
  /** Flags whose value is a file path. */
  fileFlags: string[];
}

const FILE_FLAG = /file/i;

function flagsOf(option: Option): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined);
}

export function completionTree(
  program: Command,
  extraChoices: Record<string, string[]> = {},
): CompletionTree {
  const nodes: CompletionNode[] = [];
  const valueFlags = new Set<string>();
  const fileFlags = new Set<string>();
  // Options of the program that work after a subcommand too; --version only works alone.
  const globals = program.options.filter((o) => o.long !== '--version').flatMap(flagsOf);
  const globalChoices = choicesOf(program.options, extraChoices);
  const visit = (cmd: Command, path: string[]) => {
    for (const option of cmd.options) {
      const flags = flagsOf(option);
      if (option.required || option.optional) flags.forEach((f) => valueFlags.add(f));
      if (option.long && FILE_FLAG.test(option.long) && option.required)
        flags.forEach((f) => fileFlags.add(f));
    }
    const own = cmd.options.flatMap(flagsOf);
    nodes.push({
      path,
      subcommands: cmd.commands.map((c) => c.name()),
      flags: [...new Set([...own, ...(path.length > 0 ? globals : []), '--help'])],
      choices: { ...globalChoices, ...choicesOf(cmd.options, extraChoices) },
    });
    for (const sub of cmd.commands) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  return { nodes, valueFlags: [...valueFlags].sort(), fileFlags: [...fileFlags].sort() };
}

function choicesOf(
  options: readonly Option[],
  extra: Record<string, string[]>,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const option of options) {
    const values = option.argChoices ?? (option.long ? extra[option.long] : undefined);
    if (values) for (const flag of flagsOf(option)) out[flag] = [...values];
  }
  return out;
}
