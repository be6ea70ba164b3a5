import { activeExclusions, excludesCluster } from './cluster-exclusion';

describe('excludesCluster', () => {
  it.each([
    ['BindTimeout', true],
    ['CreateFailed', false],
    ['UngateFailed', false],
    ['Cancelled', false],
    ['Fenced', false],
    ['SelfFenced', false],
    ['Superseded', false],
    ['InternalError', false],
    ['ServiceUnavailable', false],
    ['', false],
  ])('%s → %s', (reason, expected) => {
    expect(excludesCluster(reason)).toBe(expected);
  });
});

describe('activeExclusions', () => {
  const now = new Date('2026-12-02T10:00:00Z');
  it('keeps exclusions until their time and explains them', () => {
    expect(
      activeExclusions(
        {
          a: {
            reason: 'BindTimeout',
            message: '3 of 4 members bound',
            until: '2026-12-02T10:15:00Z',
          },
          b: { reason: 'BindTimeout', message: 'old', until: '2026-12-02T09:59:59Z' },
          c: { reason: 'Forbidden', message: 'quota', until: 'not a date' },
        },
        now,
      ),
    ).toEqual({
      a: 'excluded for this gang until 2026-12-02T10:15:00.000Z: a could not run it (BindTimeout: 3 of 4 members bound)',
    });
    expect(activeExclusions(null, now)).toEqual({});
  });
});
