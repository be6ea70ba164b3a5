// Runs the built agent as a separate process against one testbed cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './hub-process';

const AGENT_MAIN = join(REPO_ROOT, 'apps/agent/dist/main.js');

export interface AgentProcessOptions {
  cluster: string;
  hub: string;
  kubeconfigPath: string;
  env?: Record<string, string>;
  /** Also append the agent's output to this file (kept after the test, for diagnosis). */
  logFile?: string;
}

export class AgentProcess {
  readonly logs: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly options: AgentProcessOptions,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const keep = (chunk: Buffer) => {
      this.logs.push(chunk.toString());
      if (options.logFile) appendFileSync(options.logFile, chunk);
      if (this.logs.length > 2000) this.logs.splice(0, this.logs.length - 2000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  static start(options: AgentProcessOptions): AgentProcess {
    const child = spawn(process.execPath, [AGENT_MAIN], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        MUSTER_HUB: options.hub,
        MUSTER_CLUSTER: options.cluster,
        KUBECONFIG: options.kubeconfigPath,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new AgentProcess(child, options);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
