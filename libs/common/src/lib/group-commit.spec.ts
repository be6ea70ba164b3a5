import fc from 'fast-check';
import { GroupCommit, type Settled } from './group-commit';

/** A write whose batches the test releases by hand. */
function gatedWrite() {
  const batches: number[][] = [];
  const gates: Array<() => void> = [];
  const write = async (items: readonly number[]): Promise<Settled<number>[]> => {
    batches.push([...items]);
    await new Promise<void>((r) => gates.push(r));
    return items.map((i) =>
      i < 0 ? { ok: false, error: new Error(`bad ${i}`) } : { ok: true, value: i * 10 },
    );
  };
  const release = async () => {
    while (gates.length === 0) await Promise.resolve();
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { batches, write, release };
}

describe('GroupCommit', () => {
  it('writes a lone item at once, and what arrives meanwhile as the next batch', async () => {
    const g = gatedWrite();
    const commit = new GroupCommit({ write: g.write, maxBatch: 10 });
    const first = commit.submit(1);
    const later = [2, 3, 4].map((i) => commit.submit(i));
    expect(g.batches).toEqual([[1]]);
    await g.release();
    expect(await first).toBe(10);
    expect(g.batches).toEqual([[1], [2, 3, 4]]);
    await g.release();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
  });

  it('never writes more than maxBatch items at once', async () => {
    const g = gatedWrite();
    const commit = new GroupCommit({ write: g.write, maxBatch: 2 });
    const all = [1, 2, 3, 4, 5].map((i) => commit.submit(i));
    for (let i = 0; i < 3; i++) await g.release();
    await Promise.all(all);
    expect(g.batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('fails only the item that failed, and a thrown write fails its whole batch only', async () => {
    let calls = 0;
    const commit = new GroupCommit<number, number>({
      maxBatch: 10,
      write: async (items) => {
        calls++;
        if (calls === 2) throw new Error('connection lost');
        return items.map((i) =>
          i < 0 ? { ok: false, error: new Error(`bad ${i}`) } : { ok: true, value: i },
        );
      },
    });
    const a = commit.submit(-1);
    const b = commit.submit(2); // second batch: the write throws
    const c = commit.submit(3);
    await expect(a).rejects.toThrow('bad -1');
    await expect(b).rejects.toThrow('connection lost');
    await expect(c).rejects.toThrow('connection lost');
    await expect(commit.submit(4)).resolves.toBe(4); // and it goes on
  });

  it('refuses a write that answers for a different number of items', async () => {
    const commit = new GroupCommit<number, number>({ maxBatch: 10, write: async () => [] });
    await expect(commit.submit(1)).rejects.toThrow('a batch of 1 gave 0 outcomes');
  });

  it('gives every item its own outcome exactly once, in batches never over the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -5, max: 50 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.nat(3), { minLength: 1, maxLength: 10 }),
        async (items, maxBatch, pauses) => {
          const sizes: number[] = [];
          let k = 0;
          const commit = new GroupCommit<number, number>({
            maxBatch,
            onBatch: (n) => sizes.push(n),
            write: async (batch) => {
              for (let i = 0; i < pauses[k++ % pauses.length]!; i++) await Promise.resolve();
              return batch.map((i) =>
                i < 0 ? { ok: false, error: i } : { ok: true, value: i + 1000 },
              );
            },
          });
          const outcomes = await Promise.allSettled(items.map((i) => commit.submit(i)));
          await commit.flushed();
          outcomes.forEach((o, j) => {
            const i = items[j]!;
            if (i < 0) expect(o).toEqual({ status: 'rejected', reason: i });
            else expect(o).toEqual({ status: 'fulfilled', value: i + 1000 });
          });
          expect(sizes.every((n) => n >= 1 && n <= maxBatch)).toBe(true);
          expect(sizes.reduce((a, b) => a + b, 0)).toBe(items.length);
        },
      ),
      { seed: 19, numRuns: 200 },
    );
  });
});
