// The fault run's arithmetic on hand-made inputs: each count is seeded once and must show, the
// same inputs without the seed must show 0, and recoveries are timed to the right copy.
import type { Violation, WholeSighting } from '../support/cluster-observer';
import {
  countInvariants,
  displacedBy,
  episodes,
  firstNewerCopy,
  lostJobs,
  movedWaitGangs,
  percentile,
  table,
  windowOf,
  zeroCounts,
  type LiveCopy,
} from './figures';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const windows = [
  { fault: 'agent SIGKILL', injectedAt: T0 + 10_000 },
  { fault: 'Redis FLUSHALL', injectedAt: T0 + 60_000 },
];

function v(kind: Violation['kind'], s: number, subject: string): Violation {
  return { at: at(s), kind, detail: `${kind} of ${subject}`, subject };
}

describe('percentile', () => {
  it('is nearest-rank, and NaN for nothing', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(percentile([7], 95)).toBe(7);
    expect(
      percentile(
        Array.from({ length: 20 }, (_, i) => i + 1),
        95,
      ),
    ).toBe(19);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('windowOf', () => {
  it('puts a time in the latest window injected at or before it, -1 before the first', () => {
    expect(windowOf(windows, T0)).toBe(-1);
    expect(windowOf(windows, T0 + 10_000)).toBe(0);
    expect(windowOf(windows, T0 + 59_999)).toBe(0);
    expect(windowOf(windows, T0 + 600_000)).toBe(1);
  });
});

describe('countInvariants', () => {
  it('is all zeros without violations or losses', () => {
    const { total, perWindow } = countInvariants(windows, [], []);
    expect(total).toEqual(zeroCounts());
    expect([...perWindow.keys()].sort()).toEqual([-1, 0, 1]);
    for (const c of perWindow.values()) expect(c).toEqual(zeroCounts());
  });

  it('counts each seeded kind once per distinct gang or node, in the window it was seen in', () => {
    const violations = [
      // One gang in two clusters over many samples, across two windows.
      v('gang-in-two-clusters', 12, 'g1'),
      v('gang-in-two-clusters', 12.4, 'g1'),
      v('gang-in-two-clusters', 61, 'g1'),
      v('two-live-tokens', 12, 'g1'),
      v('two-live-tokens', 13, 'g2'),
      v('partial-gang-ungated', 5, 'g3'),
      v('node-over-committed', 70, 'w2/mid-0'),
      v('node-over-committed', 71, 'w2/mid-0'),
      v('node-over-committed', 71, 'w2/mid-1'),
      // Not an invariant of the run: never counted.
      v('partial-gang-abandoned', 20, 'g4'),
    ];
    const lost = [{ jobId: 'j9', ackedAt: T0 + 65_000 }];
    const { total, perWindow } = countInvariants(windows, violations, lost);
    expect(total).toEqual({
      gangsInTwoClusters: 1,
      gangsWithTwoLiveTokens: 2,
      gangsPartlyUngated: 1,
      nodesOverCommitted: 2,
      acknowledgedJobsLost: 1,
    });
    expect(perWindow.get(-1)).toEqual({ ...zeroCounts(), gangsPartlyUngated: 1 });
    expect(perWindow.get(0)).toEqual({
      ...zeroCounts(),
      gangsInTwoClusters: 1,
      gangsWithTwoLiveTokens: 2,
    });
    expect(perWindow.get(1)).toEqual({
      ...zeroCounts(),
      gangsInTwoClusters: 1,
      nodesOverCommitted: 2,
      acknowledgedJobsLost: 1,
    });
  });
});

describe('episodes', () => {
  it('joins sightings closer than the gap, and counts a carried-over one where it began', () => {
    const violations = [58, 59.5, 61, 62.2].map((s) => v('gang-in-two-clusters', s, 'g5'));
    const e = episodes([...violations, v('gang-in-two-clusters', 90, 'g5')]);
    expect(e.map((x) => [x.from - T0, x.to - T0])).toEqual([
      [58_000, 62_200],
      [90_000, 90_000],
    ]);
    const { perWindow } = countInvariants(windows, violations, []);
    expect(perWindow.get(0)!.gangsInTwoClusters).toBe(1);
    expect(perWindow.get(1)!.gangsInTwoClusters).toBe(0);
  });
});

describe('lostJobs', () => {
  it('names the acknowledged jobs the hub does not know', () => {
    const acked = ['a', 'b', 'c'].map((jobId) => ({ jobId, ackedAt: T0 }));
    expect(lostJobs(acked, new Set(['a', 'b', 'c', 'x']))).toEqual([]);
    expect(lostJobs(acked, new Set(['a', 'c']))).toEqual(['b']);
  });
});

describe('displacement and recovery', () => {
  const injectedAt = T0 + 10_000;
  const sight = (cluster: string, token: string, s: number): WholeSighting => ({
    cluster,
    token,
    at: T0 + s * 1000,
  });

  it('times a move to the first whole sighting of a newer token after the injection', () => {
    const from: LiveCopy = { cluster: 'w1', token: '1' };
    const seen = [sight('w1', '1', 2), sight('w2', '3', 40), sight('w3', '2', 25)];
    expect(firstNewerCopy(seen, from, injectedAt)).toEqual(sight('w3', '2', 25));
    // A newer copy seen before the injection is another story, not a recovery from this fault.
    expect(firstNewerCopy([sight('w2', '2', 5)], from, injectedAt)).toBeUndefined();
    expect(firstNewerCopy(undefined, from, injectedAt)).toBeUndefined();
  });

  it('lists requeue gangs on the target, recovered or not, and gangs elsewhere only when they moved', () => {
    const live = new Map<string, LiveCopy>([
      ['moved', { cluster: 'w1', token: '1' }],
      ['stuck', { cluster: 'w1', token: '1' }],
      ['patient', { cluster: 'w1', token: '1' }], // a wait gang: it stays, not displaced
      ['bystander', { cluster: 'w2', token: '4' }],
      ['knocked', { cluster: 'w3', token: '1' }], // not targeted, but moved in the window
      ['late', { cluster: 'w3', token: '1' }], // moved only after the window ended
    ]);
    const firstWhole = new Map<string, WholeSighting[]>([
      ['moved', [sight('w2', '2', 19.5)]],
      ['bystander', [sight('w2', '4', 1)]],
      ['knocked', [sight('w1', '2', 30)]],
      ['late', [sight('w1', '2', 90)]],
    ]);
    const opts = {
      injectedAt,
      windowEnd: T0 + 60_000,
      liveAtInjection: live,
      requeueGangs: new Set(['moved', 'stuck', 'knocked', 'late', 'bystander']),
      firstWhole,
    };
    const out = displacedBy({ ...opts, target: 'w1' });
    expect(movedWaitGangs(opts)).toEqual([]);
    // The wait gang moved after all (a fault moved what must stay): not a recovery, but named.
    firstWhole.set('patient', [sight('w2', '2', 15)]);
    expect(movedWaitGangs(opts)).toEqual(['patient']);
    expect(displacedBy({ ...opts, target: 'w1' })).toEqual(out);
    expect(out).toEqual([
      { gang: 'knocked', from: live.get('knocked'), recoveredAfterMs: 20_000, to: 'w1' },
      { gang: 'moved', from: live.get('moved'), recoveredAfterMs: 9_500, to: 'w2' },
      { gang: 'stuck', from: live.get('stuck'), recoveredAfterMs: undefined, to: undefined },
    ]);
  });
});

describe('table', () => {
  it('aligns columns', () => {
    expect(
      table([
        ['a', 'bb'],
        ['ccc', 'd'],
      ]),
    ).toBe('a    bb\nccc  d');
  });
});
