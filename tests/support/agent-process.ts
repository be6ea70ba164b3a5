// Runs the built agent (apps/agent/dist/main.js) as a separate process, the way it is deployed.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './hub-process';

const AGENT_MAIN = join(REPO_ROOT, 'apps/agent/dist/main.js');

export interface AgentLogLine {
  time: string;
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface AgentProcessOptions {
  cluster: string;
  hub: string;
  /** Kubeconfig path of the worker cluster. */
  kubeconfig: string;
  env?: Record<string, string>;
  /** Also append the agent's output to this file (kept after the test, for diagnosis). */
  logFile?: string;
}

export class AgentProcess {
  readonly lines: AgentLogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    private readonly child: ChildProcess,
    logFile: string | undefined,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : code);
        resolve(code);
      }),
    );
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (logFile) appendFileSync(logFile, chunk);
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as AgentLogLine);
        } catch {
          this.stderr.push(`stdout: ${line}`);
        }
      }
      // Long runs (the end-to-end and benchmark suites) keep only the recent past in memory.
      if (this.lines.length > 20_000) this.lines.splice(0, this.lines.length - 10_000);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (logFile) appendFileSync(logFile, chunk);
      this.stderr.push(chunk.toString());
    });
  }

  /** Starts the agent with a short report interval, heartbeat and redial, as tests want. */
  static start(options: AgentProcessOptions): AgentProcess {
    const child = spawn(process.execPath, [AGENT_MAIN], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        MUSTER_CLUSTER: options.cluster,
        MUSTER_HUB: options.hub,
        KUBECONFIG: options.kubeconfig,
        MUSTER_REPORT_INTERVAL_MS: '200',
        MUSTER_HEARTBEAT_INTERVAL_MS: '1000',
        MUSTER_RECONNECT_INITIAL_MS: '100',
        MUSTER_RECONNECT_MAX_MS: '1000',
        MUSTER_LOG_LEVEL: 'debug',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new AgentProcess(child, options.logFile);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Log lines whose msg equals `msg`. */
  logs(msg: string): AgentLogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  /** The tail of the output, for failure messages. */
  tail(n = 30): string {
    return [...this.lines.slice(-n).map((l) => JSON.stringify(l)), ...this.stderr.slice(-5)].join(
      '\n',
    );
  }

  /** SIGKILL: no shutdown code runs, as in a crash or an OOM kill. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill('SIGTERM');
    return this.exited;
  }
}
