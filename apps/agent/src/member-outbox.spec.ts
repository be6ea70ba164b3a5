import { MemberPhase, type MemberState } from '@muster/api';
import { MemberOutbox } from './member-outbox';

function state(index: number, phase: MemberPhase, gangId = 'g'): MemberState {
  return {
    gangId,
    fencingToken: 1,
    podSet: 'w',
    index,
    phase,
    reason: '',
    exitCode: 0,
    nodeName: 'n1',
    podName: `p-${index}`,
  };
}

const { RUNNING, SUCCEEDED, LOST } = {
  RUNNING: MemberPhase.MEMBER_PHASE_RUNNING,
  SUCCEEDED: MemberPhase.MEMBER_PHASE_SUCCEEDED,
  LOST: MemberPhase.MEMBER_PHASE_LOST,
};

const phases = (b: { members: MemberState[] }) => b.members.map((m) => [m.index, m.phase]);

describe('MemberOutbox', () => {
  it('keeps a state until the batch that carried it is acknowledged', () => {
    const o = new MemberOutbox({ ackTimeoutMs: 1000, maxBatchMembers: 100 });
    o.put([state(0, RUNNING), state(1, RUNNING)]);
    const [b] = o.take(0);
    expect(phases(b!)).toEqual([
      [0, RUNNING],
      [1, RUNNING],
    ]);
    expect(o.take(10)).toEqual([]); // sent, not yet due again
    expect(o.size).toBe(2);
    expect(o.ack(b!.batchId)).toBe(2);
    expect(o.size).toBe(0);
    expect(o.take(5000)).toEqual([]);
  });

  it('sends an unacknowledged batch again after the ack timeout, on the same stream', () => {
    const o = new MemberOutbox({ ackTimeoutMs: 1000, maxBatchMembers: 100 });
    o.put([state(0, SUCCEEDED)]);
    const [first] = o.take(0);
    expect(o.take(999)).toEqual([]);
    const [again] = o.take(1000);
    expect(phases(again!)).toEqual([[0, SUCCEEDED]]);
    expect(again!.batchId).toBeGreaterThan(first!.batchId);
    // The late ack of the first batch is still the truth: that state is committed.
    expect(o.ack(again!.batchId)).toBe(1);
    expect(o.size).toBe(0);
  });

  it('sends everything unacknowledged again on a new stream', () => {
    const o = new MemberOutbox({ ackTimeoutMs: 60_000, maxBatchMembers: 100 });
    o.put([state(0, RUNNING), state(1, SUCCEEDED)]);
    const [old] = o.take(0);
    o.resendAll(); // the stream died before the hub answered
    const [fresh] = o.take(1);
    expect(phases(fresh!)).toEqual([
      [0, RUNNING],
      [1, SUCCEEDED],
    ]);
    expect(fresh!.batchId).toBeGreaterThan(old!.batchId);
    expect(o.ack(old!.batchId)).toBe(0); // an answer of the dead stream matches nothing now
    expect(o.ack(fresh!.batchId)).toBe(2);
  });

  it('keeps only the latest state per member, and a newer state survives the ack of an older one', () => {
    const o = new MemberOutbox({ ackTimeoutMs: 1000, maxBatchMembers: 100 });
    o.put([state(0, RUNNING)]);
    const [running] = o.take(0);
    o.put([state(0, SUCCEEDED)]);
    o.put([state(0, LOST)]);
    expect(o.size).toBe(1);
    expect(o.ack(running!.batchId)).toBe(0);
    const [next] = o.take(1);
    expect(phases(next!)).toEqual([[0, LOST]]);
    expect(o.ack(next!.batchId)).toBe(1);
  });

  it('stays bounded by the number of members, however often they change', () => {
    const o = new MemberOutbox({ ackTimeoutMs: 1000, maxBatchMembers: 100 });
    for (let round = 0; round < 50; round++) {
      o.put(Array.from({ length: 20 }, (_, i) => state(i, round % 2 ? RUNNING : SUCCEEDED)));
      o.take(round);
    }
    expect(o.size).toBe(20);
  });

  it('splits large batches and tells members of different gangs and tokens apart', () => {
    const o = new MemberOutbox({ ackTimeoutMs: 1000, maxBatchMembers: 2 });
    o.put([
      state(0, RUNNING, 'a'),
      state(0, RUNNING, 'b'),
      { ...state(0, RUNNING, 'a'), fencingToken: 2 },
    ]);
    const batches = o.take(0);
    expect(batches.map((b) => b.members.length)).toEqual([2, 1]);
    expect(new Set(batches.map((b) => b.batchId)).size).toBe(2);
    o.ack(batches[0]!.batchId);
    expect(o.size).toBe(1);
  });
});
