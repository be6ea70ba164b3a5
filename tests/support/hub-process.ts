// Starts the built hub as a separate process, the way operators run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { connectHub, type HubClientOptions, type HubClients } from '@muster/api';

/** The workspace root, found upwards from here (this file also runs compiled, from bench/). */
export const REPO_ROOT = ((): string => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'nx.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
const HUB_MAIN = join(REPO_ROOT, 'apps/hub/dist/main.js');

export interface HubProcessOptions {
  databaseUrl: string;
  redisPrefix: string;
  /** Fixed gRPC port (so agents can reconnect after a restart); default: any free port. */
  grpcPort?: number;
  /** Also append the hub's output to this file (kept after the test, for diagnosis). */
  logFile?: string;
  env?: Record<string, string>;
  /**
   * Development mode (MUSTER_DEV_INSECURE=true: plain text and no authentication unless
   * configured in `env`) and no submit rate limit, as every test before security had it.
   * Default true; false starts the hub as production would (TLS and tokens in `env`).
   */
  devInsecure?: boolean;
  /** How connect() reaches a TLS hub: the CA that signed the hub's certificate. */
  tls?: { caFile: string; serverName?: string };
  /** Node flags for the hub process, before any from MUSTER_HUB_NODE_ARGS. */
  nodeArgs?: string[];
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * How a hub process ended: 0 when it exited cleanly after stop() asked it to (exit code 0, or
 * Nest's shutdown hooks re-raising the SIGTERM it was sent), otherwise a sentence saying how.
 */
export type HubEnd = 0 | string;

const STOP_TIMEOUT_MS = 30_000;

export class HubProcess {
  readonly logs: string[] = [];
  grpcPort = 0;
  httpPort = 0;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Why the harness itself ended the process, if it did (kill(), start-up timeout). */
  private endedBy: string | undefined;
  private stopping: Promise<HubEnd> | undefined;
  private startTimer: NodeJS.Timeout | undefined;

  private tls: HubProcessOptions['tls'];

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.ended = { code, signal };
        this.clearStartTimer();
        resolve(this.ended);
      }),
    );
  }

  private clearStartTimer(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  static async start(options: HubProcessOptions): Promise<HubProcess> {
    // MUSTER_HUB_NODE_ARGS: node flags for the hub, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
    // to profile it under a benchmark (NODE_OPTIONS refuses --cpu-prof).
    const nodeArgs = [
      ...(options.nodeArgs ?? []),
      ...(process.env.MUSTER_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ];
    const child = spawn(process.execPath, [...nodeArgs, HUB_MAIN], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        MUSTER_DATABASE_URL: options.databaseUrl,
        MUSTER_REDIS_PREFIX: options.redisPrefix,
        MUSTER_GRPC_ADDR: `127.0.0.1:${options.grpcPort ?? 0}`,
        MUSTER_HTTP_PORT: '0',
        MUSTER_EVENT_POLL_MS: '500',
        ...(options.devInsecure === false
          ? {}
          : { MUSTER_DEV_INSECURE: 'true', MUSTER_SUBMITS_PER_SECOND: '0' }),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const hub = new HubProcess(child);
    hub.tls = options.tls;
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      const onLine = (line: string) => {
        hub.logs.push(line);
        if (options.logFile) appendFileSync(options.logFile, line + '\n');
        try {
          const entry = JSON.parse(line) as { msg?: string; grpcPort?: number; httpPort?: number };
          if (entry.msg === 'hub started') {
            hub.grpcPort = entry.grpcPort ?? 0;
            hub.httpPort = entry.httpPort ?? 0;
            hub.clearStartTimer();
            resolve();
          }
        } catch {
          // not JSON: kept in logs
        }
      };
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          onLine(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        hub.logs.push(chunk.toString());
        if (options.logFile) appendFileSync(options.logFile, chunk);
      });
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `hub exited (${hub.endedBy ?? describeExit(code, signal)}) before starting:\n${hub.logs.join('\n')}`,
          ),
        ),
      );
      // Only start-up is bounded: the handle is cleared on "hub started" and on exit.
      hub.startTimer = setTimeout(() => {
        hub.endedBy = 'SIGKILL by the harness: no "hub started" within 180 s';
        child.kill('SIGKILL');
      }, 180_000);
      hub.startTimer.unref();
    });
    return hub;
  }

  get grpcAddress(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Clients of the hub; over TLS when the hub was started with `tls`, with `token` if given. */
  connect(options: { token?: string } & HubClientOptions = {}): HubClients {
    if (!this.tls || options.credentials) return connectHub(this.grpcAddress, options);
    return connectHub(this.grpcAddress, {
      ...options,
      credentials: credentials.createSsl(readFileSync(this.tls.caFile)),
      channelOptions: {
        ...(this.tls.serverName ? { 'grpc.ssl_target_name_override': this.tls.serverName } : {}),
        ...options.channelOptions,
      },
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves when the process ends, saying how (for watchdogs: benchmarks, long suites). */
  async whenExited(): Promise<string> {
    const { code, signal } = await this.exited;
    return this.endedBy ?? describeExit(code, signal);
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.ended === undefined;
  }

  /** SIGKILL: no shutdown hooks run, as in a crash. */
  async kill(): Promise<void> {
    if (this.running) this.endedBy = 'SIGKILL by kill()';
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * SIGTERM and wait for the exit (SIGKILL after 30 s). Resolves to 0 when the hub was running
   * and shut down cleanly, else to how it ended — an exit before stop() was called, a non-zero
   * code, a signal, a kill by the harness — so afterAll can `expect(await hub.stop()).toBe(0)`.
   */
  stop(): Promise<HubEnd> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(): Promise<HubEnd> {
    if (this.running) {
      const askedAt = Date.now();
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        this.endedBy = `SIGKILL by stop(): still running ${STOP_TIMEOUT_MS} ms after SIGTERM`;
        this.child.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
      const { code, signal } = this.ended!;
      if (this.endedBy) return this.endedBy;
      if (code === 0 || (code === null && signal === 'SIGTERM')) return 0;
      return `${describeExit(code, signal)} after SIGTERM (${Date.now() - askedAt} ms)`;
    }
    const { code, signal } = await this.exited;
    if (this.endedBy) return this.endedBy;
    return `${describeExit(code, signal)} before stop() was called`;
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exit code ${code}` : `signal ${signal ?? 'unknown'}`;
}

/** A folder for one suite's process logs under .muster/test-logs (ignored by git). */
export function testLogDir(suite: string): string {
  const dir = join(REPO_ROOT, '.muster/test-logs', `${suite}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
