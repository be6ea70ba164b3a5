import { Client } from 'pg';
import { SCHEDULER_LEADER_LOCK } from '../database/advisory-locks';
import type { ContextLogger } from '../logging/json-logger';

/**
 * One scheduling leader among hub replicas: a session advisory lock on a dedicated Postgres
 * connection. If the leader dies, Postgres drops its connection and the lock with it, and
 * another replica takes over at its next try.
 */
export class LeaderElector {
  private client: Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly retryMs: number,
    private readonly onChange: (leader: boolean) => void,
    private readonly log: ContextLogger,
  ) {}

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
          connectionString: this.databaseUrl,
          application_name: 'muster-hub-leader',
        });
        client.on('error', (err) => this.lose(`leader connection failed: ${err.message}`));
        await client.connect();
        this.client = client;
      }
      if (!this.leading) {
        const [row] = (
          await this.client.query('SELECT pg_try_advisory_lock($1) AS ok', [SCHEDULER_LEADER_LOCK])
        ).rows as { ok: boolean }[];
        if (row?.ok) {
          this.leading = true;
          this.log.info('became scheduling leader');
          this.onChange(true);
        }
      } else {
        await this.client.query('SELECT 1');
      }
    } catch (err) {
      this.lose(`leader check failed: ${(err as Error).message}`);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.retryMs);
  }

  private lose(reason: string): void {
    const client = this.client;
    this.client = undefined;
    void client?.end().catch(() => undefined);
    if (this.leading) {
      this.leading = false;
      this.log.warn('lost scheduling leadership', { reason });
      this.onChange(false);
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
