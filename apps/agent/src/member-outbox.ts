// Member states the hub has not acknowledged yet. A state leaves the outbox only when the hub says
// it committed the batch that carried it (MemberStatesAck); until then it is sent again on every
// new stream and, on the same stream, after the ack timeout. A stream that dies, or a hub that
// dies or fails before it applies a batch, therefore loses nothing. Only the latest state per
// member is kept, so the outbox holds at most one entry per member with an unacknowledged change.
// Sending twice is harmless: the hub stores the latest state per member (an upsert). Pure.
import { gangRefKey } from '@muster/common';
import type { MemberState } from '@muster/api';

export interface MemberStatesBatch {
  batchId: number;
  members: MemberState[];
}

export interface MemberOutboxOptions {
  /** A batch still unacknowledged this long after it was sent goes again, in ms. */
  ackTimeoutMs: number;
  /** Most members per batch (one gRPC message each). */
  maxBatchMembers: number;
}

interface Entry {
  state: MemberState;
  /** The batch that last carried this state; 0 while it waits to be sent. */
  batch: number;
  sentAt: number;
}

/** The identity of a member at the hub. */
export function memberId(s: Pick<MemberState, 'gangId' | 'fencingToken' | 'podSet' | 'index'>) {
  return `${gangRefKey(s.gangId, s.fencingToken)}/${s.podSet}/${s.index}`;
}

export class MemberOutbox {
  private readonly entries = new Map<string, Entry>();
  private lastBatch = 0;

  constructor(private readonly options: MemberOutboxOptions) {}

  /** Records states to deliver; a newer state of a member replaces its older unacknowledged one. */
  put(states: readonly MemberState[]): void {
    for (const state of states) this.entries.set(memberId(state), { state, batch: 0, sentAt: 0 });
  }

  /**
   * The batches to send now: states never sent on this stream, and states sent more than the ack
   * timeout ago without an ack. Each is marked as carried by its new batch.
   */
  take(now: number): MemberStatesBatch[] {
    const due: Entry[] = [];
    for (const e of this.entries.values()) {
      if (e.batch === 0 || now - e.sentAt >= this.options.ackTimeoutMs) due.push(e);
    }
    const batches: MemberStatesBatch[] = [];
    for (let i = 0; i < due.length; i += this.options.maxBatchMembers) {
      const batchId = ++this.lastBatch;
      const part = due.slice(i, i + this.options.maxBatchMembers);
      for (const e of part) {
        e.batch = batchId;
        e.sentAt = now;
      }
      batches.push({ batchId, members: part.map((e) => e.state) });
    }
    return batches;
  }

  /**
   * The hub committed batch `batchId`: its states are delivered. A member whose state changed (or
   * that went again in a later batch) since stays until that is acknowledged. Returns how many
   * states left the outbox.
   */
  ack(batchId: number): number {
    let n = 0;
    for (const [id, e] of this.entries) {
      if (e.batch === batchId) {
        this.entries.delete(id);
        n++;
      }
    }
    return n;
  }

  /** A new stream: the old one's batches will never be answered, so everything goes again. */
  resendAll(): void {
    for (const e of this.entries.values()) e.batch = 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
