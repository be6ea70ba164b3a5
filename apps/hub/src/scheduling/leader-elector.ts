import { hostname } from 'node:os';
import { Client } from 'pg';
import { SCHEDULER_LEADER_LOCK } from '../database/advisory-locks';
import type { Log } from '@muster/log';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';
import { Scheduler } from './scheduler';

/** Bound of every query on the leader connection, in ms: a stalled one loses leadership. */
const LEADER_QUERY_TIMEOUT_MS = 10_000;
/** A leader connection idle this long (the leader checks it every ≤ 2 s) is closed by Postgres. */
const LEADER_IDLE_LIMIT_S = 15;

/**
 * One scheduling leader among hub replicas: a session advisory lock on a dedicated Postgres
 * connection. If the leader dies, Postgres drops its connection and the lock with it, and
 * another replica takes over at its next try. TCP keepalives on both ends and a query timeout
 * make a half-open connection (a partition, a frozen host) let go of the lock in seconds, not
 * hours. Each new leader raises the leader epoch, which every cycle commit checks.
 */
export const LEADER_SETTINGS = Symbol('LEADER_SETTINGS');

export interface LeaderSettings {
  /** The Postgres the lock lives in (a dedicated connection). */
  databaseUrl: string;
  /** A follower tries to take the lead this often, in ms. */
  retryMs: number;
  /** Who leads, for people reading scheduler_leader; default host:pid. */
  holder?: string;
}

@Injectable()
export class LeaderElector {
  private client: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;

  private readonly holder: string;

  constructor(
    @Inject(LEADER_SETTINGS) private readonly settings: LeaderSettings,
    /** Told when this replica takes or loses the lead, with the epoch it raised. */
    private readonly scheduler: Scheduler,
    @InjectLog('leader') private readonly log: Log,
  ) {
    this.holder = settings.holder ?? `${hostname()}:${process.pid}`;
  }

  private onChange(leader: boolean, epoch: number): void {
    this.scheduler.setLeader(leader, epoch);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.client) {
        const client = new Client({
          connectionString: this.settings.databaseUrl,
          application_name: 'muster-hub-leader',
          keepAlive: true,
          keepAliveInitialDelayMillis: 5_000,
          query_timeout: LEADER_QUERY_TIMEOUT_MS,
          statement_timeout: LEADER_QUERY_TIMEOUT_MS,
          connectionTimeoutMillis: LEADER_QUERY_TIMEOUT_MS,
        });
        client.on('error', (err) => this.lose(`leader connection failed: ${err.message}`));
        await client.connect();
        // The server side too: a leader whose host vanished without a FIN frees the lock in
        // ~25 s, and one that stopped talking (a frozen or SIGSTOPped process, whose kernel still
        // answers keepalives) is cut off after LEADER_IDLE_LIMIT: the lock is a lease.
        await client.query(
          `SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3; SET idle_session_timeout = '${LEADER_IDLE_LIMIT_S}s'`,
        );
        this.client = client;
      }
      if (!this.leading) {
        const [row] = (
          await this.client.query('SELECT pg_try_advisory_lock($1) AS ok', [SCHEDULER_LEADER_LOCK])
        ).rows as { ok: boolean }[];
        if (row?.ok) {
          const [bumped] = (
            await this.client.query(
              `UPDATE scheduler_leader SET epoch = epoch + 1, holder = $1, since = now() WHERE id = 1 RETURNING epoch`,
              [this.holder],
            )
          ).rows as { epoch: string }[];
          const epoch = Number(bumped!.epoch);
          this.leading = true;
          this.log.info('became scheduling leader', { epoch });
          this.onChange(true, epoch);
        }
      } else {
        await this.client.query('SELECT 1');
      }
    } catch (err) {
      this.lose(`leader check failed: ${(err as Error).message}`);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.settings.retryMs);
  }

  private lose(reason: string): void {
    const client = this.client;
    this.client = undefined;
    void client?.end().catch(() => undefined);
    if (this.leading) {
      this.leading = false;
      this.log.warn('lost scheduling leadership', { reason });
      this.onChange(false, 0);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    this.leading = false;
    await client?.end().catch(() => undefined);
  }
}
