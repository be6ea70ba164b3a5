import { cohortChainProblem, MAX_COHORT_DEPTH } from './cohort-chain';

/** A straight chain c1 ← c2 ← ... ← cN (c1 a root), as stored parents. */
function chain(n: number, prefix = 'c'): Map<string, string | null> {
  return new Map(
    Array.from({ length: n }, (_, i) => [`${prefix}${i + 1}`, i === 0 ? null : `${prefix}${i}`]),
  );
}

describe('cohortChainProblem', () => {
  it('allows a root, a parent that is implicit, and moving within a sound tree', () => {
    const parents = new Map<string, string | null>([
      ['org', null],
      ['research', 'org'],
      ['nlp', 'research'],
      ['vision', 'implicit'],
    ]);
    expect(cohortChainProblem(parents, 'new', null)).toBeNull();
    expect(cohortChainProblem(parents, 'new', 'nobody')).toBeNull();
    expect(cohortChainProblem(parents, 'vision', 'nlp')).toBeNull();
    expect(cohortChainProblem(parents, 'research', null)).toBeNull();
  });

  it('finds a loop through the cohort, naming it from the cohort back to itself', () => {
    const parents = new Map<string, string | null>([
      ['a', null],
      ['b', 'a'],
      ['c', 'b'],
    ]);
    expect(cohortChainProblem(parents, 'a', 'b')).toEqual({
      problem: 'loop',
      chain: ['a', 'b', 'a'],
    });
    expect(cohortChainProblem(parents, 'a', 'c')).toEqual({
      problem: 'loop',
      chain: ['a', 'c', 'b', 'a'],
    });
    // A cohort not yet created that others name as parent: creating it under its own child.
    const implicitRoot = new Map<string, string | null>([['child', 'top']]);
    expect(cohortChainProblem(implicitRoot, 'top', 'child')).toEqual({
      problem: 'loop',
      chain: ['top', 'child', 'top'],
    });
  });

  it('stops at a loop already in the rows instead of walking forever', () => {
    const broken = new Map<string, string | null>([
      ['x', 'y'],
      ['y', 'x'],
    ]);
    expect(cohortChainProblem(broken, 'new', 'x')).toEqual({
      problem: 'loop',
      chain: ['new', 'x', 'y', 'x'],
    });
    expect(cohortChainProblem(broken, 'x', null)).toBeNull();
  });

  it(`allows ${MAX_COHORT_DEPTH} levels, counting the cohorts above and below, and no more`, () => {
    const parents = chain(MAX_COHORT_DEPTH - 1);
    expect(cohortChainProblem(parents, 'leaf', `c${MAX_COHORT_DEPTH - 1}`)).toBeNull();
    parents.set('leaf', `c${MAX_COHORT_DEPTH - 1}`);
    const deep = cohortChainProblem(parents, 'deeper', 'leaf');
    expect(deep).toEqual({
      problem: 'too-deep',
      chain: [...parents.keys(), 'deeper'],
    });
    expect(deep!.chain).toHaveLength(MAX_COHORT_DEPTH + 1);

    // Hanging a subtree of 9 levels under a chain of 8: 17.
    const top = chain(8, 't');
    const bottom = chain(9, 'b');
    const both = new Map([...top, ...bottom]);
    expect(cohortChainProblem(both, 'b1', 't8')).toEqual({
      problem: 'too-deep',
      chain: [...top.keys(), ...bottom.keys()],
    });
    // Under a chain of 7 it fits: 16.
    expect(cohortChainProblem(both, 'b1', 't7')).toBeNull();
    // An implicit parent is a level too: 16 stored below an implicit root are 17.
    expect(cohortChainProblem(chain(16), 'c1', 'implicit')).toEqual({
      problem: 'too-deep',
      chain: ['implicit', ...chain(16).keys()],
    });
  });

  it('measures the deepest branch below the cohort, not the first', () => {
    const parents = new Map<string, string | null>([
      ['root', null],
      ['a', 'root'],
      ['short', 'a'],
      ...[...chain(4, 'long')].map(([k, v]): [string, string | null] => [k, v ?? 'a']),
    ]);
    // root → a → long1..long4: 6 levels; 5 allowed.
    expect(cohortChainProblem(parents, 'a', 'root', 5)).toEqual({
      problem: 'too-deep',
      chain: ['root', 'a', 'long1', 'long2', 'long3', 'long4'],
    });
    expect(cohortChainProblem(parents, 'a', 'root', 6)).toBeNull();
  });
});
