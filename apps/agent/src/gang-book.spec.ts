import { GangBook } from './gang-book';
import { ACCEPTED, REJECTED, type Outcome } from './materialise';

const ok: Outcome = { outcome: ACCEPTED, reason: '', message: '3 members' };
const failed: Outcome = { outcome: REJECTED, reason: 'CreateFailed', message: 'Forbidden: quota' };

describe('GangBook', () => {
  it('starts a new gang, then replays its answer to a repeat', () => {
    const b = new GangBook();
    expect(b.decide('g', 1, [])).toEqual({ kind: 'start', superseded: [] });
    const done = Promise.resolve(ok);
    b.begin('g', 1, done);
    expect(b.decide('g', 1, [])).toEqual({ kind: 'join', done });
    b.finish('g', 1, ok);
    expect(b.decide('g', 1, [1])).toEqual({ kind: 'replay', outcome: ok });
    b.finish('g', 1, failed);
    expect(b.decide('g', 1, [])).toEqual({ kind: 'replay', outcome: failed });
  });

  it('ignores a lower token than one seen or held', () => {
    const b = new GangBook();
    b.begin('g', 5, Promise.resolve(ok));
    b.finish('g', 5, ok);
    expect(b.decide('g', 4, [])).toEqual({ kind: 'stale', known: 5 });
    // After a restart the book is empty but the cluster still holds token 7.
    expect(new GangBook().decide('g', 6, [7])).toEqual({ kind: 'stale', known: 7 });
  });

  it('a higher token supersedes older ones and abandons their materialisation', () => {
    const b = new GangBook();
    b.begin('g', 1, new Promise(() => undefined));
    expect(b.decide('g', 2, [1])).toEqual({ kind: 'start', superseded: [1] });
    expect(b.abandonReason('g', 1)).toBe('Superseded');
  });

  it('re-runs a token the cluster holds but the book forgot (after a restart)', () => {
    expect(new GangBook().decide('g', 3, [3])).toEqual({ kind: 'start', superseded: [] });
  });

  it('cancel abandons the running materialisation and refuses a late repeat', () => {
    const b = new GangBook();
    b.begin('g', 2, new Promise(() => undefined));
    b.cancel('g', 2);
    expect(b.abandonReason('g', 2)).toBe('Cancelled');
    b.finish('g', 2, { outcome: REJECTED, reason: 'Cancelled', message: '' });
    expect(b.decide('g', 2, [])).toEqual({ kind: 'cancelled' });
    expect(b.decide('g', 1, [])).toEqual({ kind: 'stale', known: 2 });
    expect(b.decide('g', 3, [])).toEqual({ kind: 'start', superseded: [] });
  });

  it('a cancel of an older token leaves a newer materialisation alone', () => {
    const b = new GangBook();
    b.begin('g', 3, new Promise(() => undefined));
    b.cancel('g', 2);
    expect(b.abandonReason('g', 3)).toBeUndefined();
  });

  it('abandon can spare the listed token', () => {
    const b = new GangBook();
    b.begin('g', 3, new Promise(() => undefined));
    b.abandon('g', 'Fenced', (t) => t === 3);
    expect(b.abandonReason('g', 3)).toBeUndefined();
    b.abandon('g', 'Fenced', (t) => t === 4);
    expect(b.abandonReason('g', 3)).toBe('Fenced');
    expect(b.inflightGangs()).toEqual([{ gangId: 'g', token: 3 }]);
  });

  it('forgets old gangs that left the cluster, keeps the rest', () => {
    const b = new GangBook();
    b.begin('gone', 1, Promise.resolve(ok), 0);
    b.finish('gone', 1, ok, 0);
    b.begin('held', 1, Promise.resolve(ok), 0);
    b.finish('held', 1, ok, 0);
    b.begin('busy', 1, new Promise(() => undefined), 0);
    expect(b.prune((g) => g === 'held', 1000, 5000)).toBe(1);
    expect(b.size).toBe(2);
    expect(b.answerFor('held', 1)).toEqual(ok);
  });
});
