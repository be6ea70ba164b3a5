import {
  fenceDeleteGrace,
  fencedByList,
  fenceTermsFor,
  GenerationGate,
  HubLease,
  selfFenceDue,
  termsOfHelloAck,
} from './fencing';

describe('fencing', () => {
  it('fences gangs missing from the list or held with another token', () => {
    const held = [
      { gangId: 'a', token: 1 },
      { gangId: 'b', token: 2 },
      { gangId: 'b', token: 3 },
      { gangId: 'c', token: 1 },
    ];
    const list = [
      { gangId: 'a', fencingToken: 1 },
      { gangId: 'b', fencingToken: 3 },
    ];
    expect(fencedByList(held, list)).toEqual([
      { gangId: 'b', token: 2 },
      { gangId: 'c', token: 1 },
    ]);
    expect(fencedByList(held, [])).toEqual(held);
  });

  it('applies lists in generation order', () => {
    const g = new GenerationGate();
    expect(g.accept(5)).toBe(true);
    expect(g.accept(4)).toBe(false);
    expect(g.accept(5)).toBe(true);
    expect(g.accept(9)).toBe(true);
    expect(g.lastApplied).toBe(9);
  });
});

describe('the lease', () => {
  // [last heard, timeout, now, due]
  it.each([
    [9_500, 1000, 10_000, false],
    [9_000, 1000, 10_000, false], // exactly the timeout: not yet
    [8_999, 1000, 10_000, true],
    [8_000, undefined, 10_000_000, false], // no timeout known: never
    [8_000, 0, 10_000_000, false],
  ])('heard at %d, timeout %s, now %d: due %s', (heard, timeout, now, due) => {
    expect(selfFenceDue(heard, timeout, now)).toBe(due);
  });

  it('runs from the last message of any kind, whether or not the stream looks up', () => {
    // The stream never went down (a SIGSTOPped hub keeps its socket open): only messages count.
    const lease = new HubLease(0);
    expect(lease.heard(400)).toBe(400);
    expect(lease.heard(900)).toBe(500);
    expect(selfFenceDue(lease.lastHeardAt, 1000, 1900)).toBe(false);
    expect(selfFenceDue(lease.lastHeardAt, 1000, 1901)).toBe(true);
    // A message arriving after the lapse renews the lease (the agent fences before it renews).
    expect(lease.heard(5000)).toBe(4100);
    expect(selfFenceDue(lease.lastHeardAt, 1000, 5500)).toBe(false);
    expect(lease.silentFor(5500)).toBe(500);
  });

  it('starts at process start: a restarted agent that never reaches the hub still lapses', () => {
    const lease = new HubLease(0);
    expect(selfFenceDue(lease.lastHeardAt, 3000, 2999)).toBe(false);
    expect(selfFenceDue(lease.lastHeardAt, 3000, 3001)).toBe(true);
  });

  it('never goes back in time', () => {
    const lease = new HubLease(1000);
    lease.heard(500);
    expect(lease.lastHeardAt).toBe(1000);
  });
});

describe('fence terms', () => {
  it('reads the HelloAck; a timeout of 0 states nothing', () => {
    expect(termsOfHelloAck({ selfFenceTimeoutMs: 40_000, fenceDeleteGraceSeconds: 10 })).toEqual({
      selfFenceTimeoutMs: 40_000,
      deleteGraceSeconds: 10,
    });
    expect(termsOfHelloAck({ selfFenceTimeoutMs: 40_000, fenceDeleteGraceSeconds: 0 })).toEqual({
      selfFenceTimeoutMs: 40_000,
    });
    expect(termsOfHelloAck({ selfFenceTimeoutMs: 0, fenceDeleteGraceSeconds: 10 })).toBeUndefined();
  });

  const told = { selfFenceTimeoutMs: 5000, deleteGraceSeconds: 2 };
  const recorded = { selfFenceTimeoutMs: 9000, deleteGraceSeconds: 7 };
  it.each([
    ['the hub word wins', told, recorded, 1234, told],
    ['else what the pods recorded', undefined, recorded, 1234, recorded],
    [
      'a recorded timeout without grace',
      undefined,
      { selfFenceTimeoutMs: 9000 },
      1234,
      { selfFenceTimeoutMs: 9000 },
    ],
    ['else the configured fallback', undefined, {}, 1234, { selfFenceTimeoutMs: 1234 }],
    ['else nothing', undefined, {}, undefined, undefined],
  ])('%s', (_, t, r, fallback, want) => {
    expect(fenceTermsFor(t, r, fallback)).toEqual(want);
  });

  it.each([
    [30, 10, 10],
    [5, 10, 5],
    [0, 10, 0],
    [undefined, 10, 10],
    [30, undefined, undefined],
  ])('a pod with grace %s and a told grace %s is deleted with %s', (pod, t, want) => {
    expect(fenceDeleteGrace(pod, t)).toBe(want);
  });
});
