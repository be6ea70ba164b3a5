import { eachConcurrently, OncePerState } from './once-per-state';

describe('OncePerState', () => {
  it('reports a key once per distinct state, again after it cleared', () => {
    const seen: string[] = [];
    const r = new OncePerState();
    for (const state of ['down', 'down', 'slow', 'slow', undefined, 'slow'])
      r.report('a', state, () => seen.push(state!));
    expect(seen).toEqual(['down', 'slow', 'slow']);
  });

  it('forgets the keys of a prefix whose subject is gone', () => {
    const seen: string[] = [];
    const r = new OncePerState();
    r.report('skip/x', 'why', () => seen.push('x'));
    r.report('skip/y', 'why', () => seen.push('y'));
    r.report('other', 'why', () => seen.push('other'));
    r.forgetExcept('skip/', new Set(['skip/y']));
    for (const key of ['skip/x', 'skip/y', 'other']) r.report(key, 'why', () => seen.push(key));
    expect(seen).toEqual(['x', 'y', 'other', 'skip/x']);
  });
});

describe('eachConcurrently', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await eachConcurrently([1, 2, 3, 4, 5], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      done.push(n);
      running--;
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
  });
});
