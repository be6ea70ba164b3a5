// The CLI behaves like a Unix tool when its reader goes away early (`muster --help | head`):
// it stops quietly with status 141 (128 + SIGPIPE) instead of an unhandled EPIPE stack trace.
// The pipe is closed before the CLI has written anything, so every write it makes fails.
import { spawn } from 'node:child_process';
import { buildProgram } from '../../apps/cli/src/cli';
import { CliContext } from '../../apps/cli/src/commands/cli-context';
import { completionTree } from '../../apps/cli/src/completion/command-tree';
import { CLI_MAIN } from './support/cli-process';

/**
 * Every output the CLI can produce without a hub: the help of each command and subcommand (read
 * from the CLI's own command tree, so a new command is covered too), the version, the completions.
 */
const OUTPUTS: string[][] = [
  ...completionTree(
    buildProgram(
      new CliContext({
        stdout: { write: () => true },
        stderr: { write: () => true },
        env: {},
        now: () => new Date(),
        readStdin: () => '',
      }),
    ),
    {},
  ).nodes.map((n) => [...n.path, '--help']),
  ['--version'],
  ['completion', 'bash'],
  ['completion', 'zsh'],
];

interface Ended {
  status: number | null;
  stderr: string;
}

/** Runs the CLI with its stdout closed by the reader at once. */
function runIntoClosedPipe(args: string[]): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MUSTER_CONFIG: '/nonexistent/muster-config.yaml' },
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('muster with a reader that closes early', () => {
  it.each(OUTPUTS.map((a) => [a.join(' ')]))(
    '`muster %s | head` stops quietly with status 141',
    async (line) => {
      const ended = await runIntoClosedPipe(line.split(' '));
      expect(ended).toEqual({ status: 141, stderr: '' });
    },
  );
});
