// What the agent remembers about dispatches, per gang: the highest fencing token seen, the answer
// given for it, a materialisation in flight, cancellations. Decides what a Dispatch means:
// stale (lower token: ignored), a repeat (answered again, nothing created), or new work. Pure.
import type { Outcome } from './materialise';

export type DispatchDecision =
  /** A lower token than one already held or seen: ignore the dispatch. */
  | { kind: 'stale'; known: number }
  /** This token was cancelled: answer REJECTED "Cancelled", create nothing. */
  | { kind: 'cancelled' }
  /** Already answered for this token: send the same answer again. */
  | { kind: 'replay'; outcome: Outcome }
  /** The same token is being materialised right now: answer when it ends. */
  | { kind: 'join'; done: Promise<Outcome> }
  /** Materialise; pods of the listed older tokens must go. */
  | { kind: 'start'; superseded: number[] };

interface Entry {
  token: number;
  cancelledUpTo: number;
  answer?: { token: number; outcome: Outcome; at: number };
  inflight?: { token: number; done: Promise<Outcome>; abandon?: string };
  touchedAt: number;
}

export class GangBook {
  private readonly entries = new Map<string, Entry>();

  private entry(gangId: string, now: number): Entry {
    let e = this.entries.get(gangId);
    if (!e) this.entries.set(gangId, (e = { token: -1, cancelledUpTo: -1, touchedAt: now }));
    e.touchedAt = now;
    return e;
  }

  /** @param present fencing tokens of the gang whose pods are in the cluster. */
  decide(
    gangId: string,
    token: number,
    present: readonly number[],
    now = Date.now(),
  ): DispatchDecision {
    const e = this.entry(gangId, now);
    const known = Math.max(e.token, ...present);
    if (token < known) return { kind: 'stale', known };
    if (token <= e.cancelledUpTo) return { kind: 'cancelled' };
    if (e.inflight?.token === token) return { kind: 'join', done: e.inflight.done };
    if (e.answer?.token === token) return { kind: 'replay', outcome: e.answer.outcome };
    if (e.inflight && e.inflight.token < token) e.inflight.abandon ??= 'Superseded';
    return { kind: 'start', superseded: present.filter((t) => t < token) };
  }

  begin(gangId: string, token: number, done: Promise<Outcome>, now = Date.now()): void {
    const e = this.entry(gangId, now);
    e.token = Math.max(e.token, token);
    e.inflight = { token, done };
  }

  /** Records the answer for `token` (also a later BindTimeout rejection). */
  finish(gangId: string, token: number, outcome: Outcome, now = Date.now()): void {
    const e = this.entry(gangId, now);
    if (e.inflight?.token === token) e.inflight = undefined;
    if (token >= e.token || e.answer?.token === token) {
      e.token = Math.max(e.token, token);
      e.answer = { token, outcome, at: now };
    }
  }

  answerFor(gangId: string, token: number): Outcome | undefined {
    const a = this.entries.get(gangId)?.answer;
    return a?.token === token ? a.outcome : undefined;
  }

  isInflight(gangId: string, token?: number): boolean {
    const f = this.entries.get(gangId)?.inflight;
    return f !== undefined && (token === undefined || f.token === token);
  }

  /** Why the in-flight materialisation of this gang and token must stop, if it must. */
  abandonReason(gangId: string, token: number): string | undefined {
    const f = this.entries.get(gangId)?.inflight;
    return f?.token === token ? f.abandon : undefined;
  }

  /** Marks the in-flight materialisation (if any, and if `keep` does not hold) as given up. */
  abandon(gangId: string, reason: string, keep?: (token: number) => boolean): void {
    const f = this.entries.get(gangId)?.inflight;
    if (f && !keep?.(f.token)) f.abandon ??= reason;
  }

  /** Gangs with a materialisation in flight. */
  inflightGangs(): Array<{ gangId: string; token: number }> {
    const out: Array<{ gangId: string; token: number }> = [];
    for (const [gangId, e] of this.entries)
      if (e.inflight) out.push({ gangId, token: e.inflight.token });
    return out;
  }

  /**
   * Records a Cancel of every token up to `token`: an in-flight materialisation of such a token
   * is given up, and a later dispatch of such a token is answered REJECTED "Cancelled" (a cancel
   * of an older token leaves a newer dispatch alone).
   */
  cancel(gangId: string, token: number, now = Date.now()): void {
    const e = this.entry(gangId, now);
    e.cancelledUpTo = Math.max(e.cancelledUpTo, token);
    e.token = Math.max(e.token, token);
    if (e.inflight && e.inflight.token <= token) e.inflight.abandon ??= 'Cancelled';
  }

  /**
   * Forgets gangs that have nothing in flight, no pods in the cluster and were last touched more
   * than `retentionMs` ago, so memory follows the gangs the cluster holds.
   */
  prune(isPresent: (gangId: string) => boolean, retentionMs: number, now = Date.now()): number {
    let n = 0;
    for (const [gangId, e] of this.entries) {
      if (!e.inflight && !isPresent(gangId) && now - e.touchedAt > retentionMs) {
        this.entries.delete(gangId);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.entries.size;
  }
}
