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

export class HubProcess {
  readonly logs: string[] = [];
  grpcPort = 0;
  httpPort = 0;
  private exited: Promise<number | null>;

  private tls: HubProcessOptions['tls'];

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(options: HubProcessOptions): Promise<HubProcess> {
    const child = spawn(process.execPath, [HUB_MAIN], {
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
      child.once('exit', (code) =>
        reject(new Error(`hub exited with ${code} before starting:\n${hub.logs.join('\n')}`)),
      );
      setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`hub did not start in 180 s:\n${hub.logs.join('\n')}`));
      }, 180_000).unref();
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

  /** SIGKILL: no shutdown hooks run, as in a crash. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for a clean exit. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** A folder for one suite's process logs under .muster/test-logs (ignored by git). */
export function testLogDir(suite: string): string {
  const dir = join(REPO_ROOT, '.muster/test-logs', `${suite}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}
