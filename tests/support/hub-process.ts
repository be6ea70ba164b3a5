// Starts the built hub as a separate process, the way operators run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { connectHub, type HubClients } from '@muster/api';

export const REPO_ROOT = join(__dirname, '../..');
const HUB_MAIN = join(REPO_ROOT, 'apps/hub/dist/main.js');

export interface HubProcessOptions {
  databaseUrl: string;
  redisPrefix: string;
  env?: Record<string, string>;
}

export class HubProcess {
  readonly logs: string[] = [];
  grpcPort = 0;
  httpPort = 0;
  private exited: Promise<number | null>;

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
        MUSTER_GRPC_ADDR: '127.0.0.1:0',
        MUSTER_HTTP_PORT: '0',
        MUSTER_EVENT_POLL_MS: '500',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const hub = new HubProcess(child);
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      const onLine = (line: string) => {
        hub.logs.push(line);
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
      child.stderr!.on('data', (chunk: Buffer) => hub.logs.push(chunk.toString()));
      child.once('exit', (code) =>
        reject(new Error(`hub exited with ${code} before starting:\n${hub.logs.join('\n')}`)),
      );
      setTimeout(
        () => reject(new Error(`hub did not start in 60 s:\n${hub.logs.join('\n')}`)),
        60_000,
      ).unref();
    });
    return hub;
  }

  get grpcAddress(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  connect(): HubClients {
    return connectHub(this.grpcAddress);
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
