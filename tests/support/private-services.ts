// A Postgres and a Redis of one suite's own, for tests that restart, crash or empty them: the
// shared servers of services.ts are used by every other suite running at the same time.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { freePort } from './hub-process';

const POSTGRES_BIN_DIRS = ['/usr/local/bin', '/usr/lib/postgresql/15/bin'];

function postgresBin(name: string): string {
  for (const dir of [process.env.MUSTER_POSTGRES_BIN_DIR, ...POSTGRES_BIN_DIRS]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(
    `${name} not found in ${POSTGRES_BIN_DIRS.join(' or ')} (set MUSTER_POSTGRES_BIN_DIR)`,
  );
}

/** Postgres refuses to run as root: as root, its programs run as the `postgres` user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, but there is no postgres user to run Postgres as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function run(cmd: string, args: string[], options: SpawnOptions): void {
  const r = spawnSync(cmd, args, { ...options, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`,
    );
}

export interface PrivatePostgres {
  port: number;
  /** The admin database of the instance. */
  adminUrl: string;
  /** A database created for the suite. */
  url: string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Restarts the server. `immediate` is a crash as far as clients and data are concerned (no
   * checkpoint; recovery replays the WAL); `fast` is an orderly restart that ends every session.
   */
  restart(mode: 'immediate' | 'fast'): Promise<void>;
  stop(): Promise<void>;
}

/** initdb into a fresh temporary directory and start it on a free loopback port, trust auth. */
export async function startPrivatePostgres(database = 'muster'): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'muster-pg-'));
  const data = join(dir, 'data');
  const owner = postgresUser();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const as: SpawnOptions = { cwd: dir, env: { PATH: process.env.PATH ?? '', LANG: 'C' }, ...owner };
  run(
    postgresBin('initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'],
    as,
  );
  const port = await freePort();
  // fsync off: the faults here crash processes, not the machine, and the page cache survives a
  // process crash, so what a commit wrote is still replayed; it spares the shared disk.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const pgCtl = (...args: string[]) =>
    run(postgresBin('pg_ctl'), ['-D', data, '-l', join(dir, 'postgres.log'), ...args], as);
  pgCtl('-o', serverOptions, '-w', '-t', '60', 'start');
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const url = `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    port,
    adminUrl,
    url,
    async query<T>(sql: string, params?: unknown[]) {
      // A connection per query: the suite restarts this server, which ends every session.
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query(sql, params)).rows as T[];
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    async restart(mode) {
      pgCtl('-m', mode, '-o', serverOptions, '-w', '-t', '60', 'restart');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        pgCtl('-m', 'immediate', 'stop');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export interface PrivateRedis {
  port: number;
  url: string;
  client: Redis;
  /** FLUSHALL: every key of the instance, at once, while its clients keep running. */
  flushAll(): Promise<void>;
  stop(): Promise<void>;
}

/** redis-server on a free loopback port as a child process, with no persistence. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.resume();
  child.stderr!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: true });
  // Connection errors reach the awaited calls; unhandled, ioredis would also print each one.
  client.on('error', () => undefined);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`redis-server on port ${port} did not answer: ${(err as Error).message}`);
      client.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    url,
    client,
    async flushAll() {
      await client.flushall();
    },
    async stop() {
      client.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
