import { fencedByList, GenerationGate, selfFenceDue, selfFenceTargets } from './fencing';

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

  it('self-fences only requeue gangs, only after the timeout', () => {
    const held = [
      { gangId: 'a', token: 1, onClusterLost: 'wait' as const },
      { gangId: 'b', token: 1, onClusterLost: 'requeue' as const },
    ];
    expect(selfFenceTargets(held).map((g) => g.gangId)).toEqual(['b']);
    expect(selfFenceDue(undefined, 1000, 10_000)).toBe(false);
    expect(selfFenceDue(9_500, 1000, 10_000)).toBe(false);
    expect(selfFenceDue(8_000, 1000, 10_000)).toBe(true);
  });
});
