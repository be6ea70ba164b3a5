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
