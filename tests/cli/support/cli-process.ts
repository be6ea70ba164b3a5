// Runs the built CLI (apps/cli/dist/main.js) as a separate process, the way people run it, with
// an environment of its own: a temporary HOME and config file, and no MUSTER_* variable of the
// machine leaking in.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../support/hub-process';

export const CLI_MAIN = join(REPO_ROOT, 'apps/cli/dist/main.js');
export const EXAMPLES = join(REPO_ROOT, 'apps/cli/examples');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class CliSandbox {
  readonly home: string;
  readonly configPath: string;

  constructor(
    /** MUSTER_HUB for every run, unless a run overrides it. */
    readonly hubAddress: string | undefined,
  ) {
    this.home = mkdtempSync(join(tmpdir(), 'muster-cli-e2e-'));
    this.configPath = join(this.home, 'muster-config.yaml');
  }

  env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('MUSTER_')),
    );
    const env: NodeJS.ProcessEnv = {
      ...base,
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      MUSTER_CONFIG: this.configPath,
    };
    if (this.hubAddress) env.MUSTER_HUB = this.hubAddress;
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return env;
  }

  /** Runs one command to its end. */
  run(
    args: string[],
    options: { env?: Record<string, string | undefined>; input?: string } = {},
  ): Promise<CliResult> {
    const child = this.spawn(args, options.env);
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
    return collect(child).exited;
  }

  /** Starts a long-running command (watch) and lets the test look at its output as it comes. */
  start(args: string[], env?: Record<string, string | undefined>): RunningCli {
    const child = this.spawn(args, env);
    child.stdin!.end();
    return collect(child);
  }

  private spawn(args: string[], env?: Record<string, string | undefined>): ChildProcess {
    return spawn(process.execPath, [CLI_MAIN, ...args], {
      cwd: REPO_ROOT,
      env: this.env(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }
}

export interface RunningCli {
  child: ChildProcess;
  output(): CliResult;
  exited: Promise<CliResult>;
  /** Resolves once stdout holds `text` (rejects if the process ends first). */
  waitForOutput(text: string | RegExp): Promise<void>;
}

function collect(child: ChildProcess): RunningCli {
  let stdout = '';
  let stderr = '';
  const waiters: {
    test: (s: string) => boolean;
    resolve: () => void;
    reject: (e: Error) => void;
  }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.test(stdout)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code) => {
      for (const w of waiters)
        w.reject(
          new Error(
            `the CLI ended (code ${code}) before printing the text waited for.\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          ),
        );
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    output: () => ({ code: child.exitCode, stdout, stderr }),
    exited,
    waitForOutput(text) {
      const test = (s: string) => (typeof text === 'string' ? s.includes(text) : text.test(s));
      if (test(stdout)) return Promise.resolve();
      return new Promise((resolve, reject) => waiters.push({ test, resolve, reject }));
    },
  };
}

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** The job id of a "job <id> submitted: ..." line. */
export function submittedIds(stdout: string): string[] {
  return [...stdout.matchAll(/^job ([0-9a-f-]{36}) (?:submitted|was already submitted)/gm)].map(
    (m) => m[1]!,
  );
}
