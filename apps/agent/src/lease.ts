// The agent's lease as it stands: when the hub was last heard from, the fence terms the hub told in
// this process (HelloAck), and the shortest self-fence timeout recorded on any member pod seen.
// It gives the ledger its Moment and each gang its terms; what they mean is decided in fencing.ts
// and ledger.ts. No I/O.
import type { AgentConfig } from './config';
import { fenceTermsFor, HubLease, type FenceTerms } from './fencing';
import type { Moment } from './ledger';

export class Lease {
  /** What the hub last told about fencing in this process (HelloAck); undefined until then. */
  told: FenceTerms | undefined;
  /**
   * When the hub was last heard from (performance.now()). It runs from the process start until
   * the first message, so a restarted agent that never reaches the hub lapses too.
   */
  private readonly hub = new HubLease(performance.now());
  /** The shortest self-fence timeout recorded on any member pod seen (never grows back). */
  private shortestRecordedMs = Infinity;

  constructor(private readonly config: Pick<AgentConfig, 'selfFenceTimeoutMs' | 'bindTimeoutMs'>) {}

  /** A message from the hub arrived at `now`. */
  heard(now: number): void {
    this.hub.heard(now);
  }

  silentFor(now: number): number {
    return this.hub.silentFor(now);
  }

  /** A member pod recorded this self-fence timeout (undefined: none). */
  recorded(timeoutMs: number | undefined): void {
    if (timeoutMs !== undefined && timeoutMs < this.shortestRecordedMs)
      this.shortestRecordedMs = timeoutMs;
  }

  /** The clock and the lease now (monotonic: review 2.19). */
  moment(): Moment {
    return {
      now: performance.now(),
      lastHeardAt: this.hub.lastHeardAt,
      told: this.told,
      fallbackTimeoutMs: this.config.selfFenceTimeoutMs,
      bindTimeoutMs: this.config.bindTimeoutMs,
    };
  }

  /** The shortest self-fence timeout any gang can be under: told, configured, or recorded. */
  get shortestTimeoutMs(): number {
    return Math.min(
      this.told?.selfFenceTimeoutMs ?? Infinity,
      this.config.selfFenceTimeoutMs ?? Infinity,
      this.shortestRecordedMs,
    );
  }

  /** The fence terms of a gang present in the cluster (see fenceTermsFor). */
  termsOfGang(g: { recordedTerms: Partial<FenceTerms> }): FenceTerms | undefined {
    return fenceTermsFor(this.told, g.recordedTerms, this.config.selfFenceTimeoutMs);
  }
}

/** Heartbeat pings remembered per stream; an echo older than these renews nothing. */
const PINGS_KEPT = 1024;

/**
 * What the hub's messages on one stream prove about when the hub was last alive. A message
 * proves the hub was up after the agent sent what the message answers: the stream's Hello for
 * the HelloAck and for messages sent before any heartbeat arrived, else the heartbeat ping the
 * hub echoes. So the lease renews from that send time, never from the arrival: a message held up
 * in the network (a blackhole that lifts after the lease ran out) does not extend the lease. A
 * hub that does not echo (older than `echoes_heartbeats`) renews from the arrival, as it did.
 */
export class StreamEcho {
  private readonly pings = new Map<number, number>();
  private echoes = false;

  constructor(private readonly helloSentAt: number) {}

  /** A heartbeat with this ping went out at `at`. */
  sent(ping: number, at: number): void {
    this.pings.set(ping, at);
    if (this.pings.size > PINGS_KEPT) this.pings.delete(this.pings.keys().next().value!);
  }

  /** The HelloAck said whether the hub echoes pings. */
  acknowledged(echoes: boolean): void {
    this.echoes = echoes;
  }

  /** From when a message proves the hub alive; undefined when it proves nothing the lease uses. */
  aliveSince(
    m: { heartbeatEcho: number; helloAck: boolean },
    arrivedAt: number,
  ): number | undefined {
    if (m.helloAck) return this.helloSentAt;
    if (!this.echoes) return arrivedAt;
    if (m.heartbeatEcho === 0) return this.helloSentAt;
    return this.pings.get(m.heartbeatEcho);
  }
}
