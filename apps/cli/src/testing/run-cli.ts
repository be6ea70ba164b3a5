// The CLI run in-process as its unit tests run it: output captured, no config file (MUSTER_CONFIG
// names one that does not exist), a fixed clock and empty standard input.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `muster ARGV` at `now` with `env` added. */
export async function runCapturing(
  argv: string[],
  options: { now?: Date; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const now = options.now ?? new Date('2025-01-01T00:00:00Z');
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { MUSTER_CONFIG: join(tmpdir(), 'muster-spec-no-config.yaml'), ...options.env },
    now: () => now,
    readStdin: () => '',
  });
  return { code, stdout, stderr };
}
