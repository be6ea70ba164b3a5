// muster completion bash|zsh
import { Argument, type Command } from 'commander';
import { completionTree } from '../completion/command-tree';
import { bashScript, zshScript } from '../completion/shell-scripts';
import { STATE_CHOICES } from '../output/job-states';
import type { CliContext } from './cli-context';

export function registerCompletionCommand(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description('print a shell completion script for bash or zsh')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      `
Examples:
  source <(muster completion bash)                 # in ~/.bashrc
  source <(muster completion zsh)                  # in ~/.zshrc (after compinit)
  muster completion zsh > "\${fpath[1]}/_muster"     # or install it once`,
    )
    .action((shell: 'bash' | 'zsh') => {
      const tree = completionTree(program, { '--state': STATE_CHOICES });
      ctx.print(shell === 'bash' ? bashScript(tree) : zshScript(tree));
    });
}
