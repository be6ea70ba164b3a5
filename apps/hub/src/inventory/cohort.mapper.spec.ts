import type { Cohort as WireCohort, CohortQuota } from '@muster/api';
import { ErrorCode, MusterError } from '../common/errors';
import { cohortToDomain, cohortToProto } from './cohort.mapper';

function refusalOf(fn: () => unknown): MusterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MusterError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

const fieldOf = (fn: () => unknown) => refusalOf(fn).field;

const cohort = (c: Partial<WireCohort> = {}): WireCohort => ({
  name: 'research',
  parent: '',
  description: '',
  queues: [],
  children: [],
  ...c,
});
const quota = (q: Partial<CohortQuota> = {}): CohortQuota => ({
  nominal: {},
  borrowingLimit: {},
  lendingLimit: {},
  ...q,
});

describe('cohortToDomain', () => {
  it('maps a root without a quota, ignoring the output-only members', () => {
    expect(
      cohortToDomain('cohort', cohort({ description: 'labs', queues: ['x'], children: ['y'] })),
    ).toEqual({ name: 'research', parent: null, description: 'labs', quota: null });
  });

  it('keeps the quota as written, trimmed, and limits towards a parent on any resource', () => {
    const c = cohortToDomain(
      'cohort',
      cohort({
        parent: 'org',
        quota: quota({
          nominal: { 'nvidia.com/gpu': ' 64 ', cpu: '512' },
          borrowingLimit: { 'nvidia.com/gpu': '16' },
          // Not in its own nominal quota: a cohort may lend what its members bring.
          lendingLimit: { memory: '2Ti' },
        }),
      }),
    );
    expect(c).toEqual({
      name: 'research',
      parent: 'org',
      description: '',
      quota: {
        nominal: { cpu: '512', 'nvidia.com/gpu': '64' },
        borrowingLimit: { 'nvidia.com/gpu': '16' },
        lendingLimit: { memory: '2Ti' },
      },
    });
  });

  it('accepts an empty nominal quota with limits, and takes a quota naming nothing as none', () => {
    expect(
      cohortToDomain(
        'cohort',
        cohort({ parent: 'org', quota: quota({ borrowingLimit: { cpu: '0' } }) }),
      ).quota,
    ).toEqual({ nominal: {}, borrowingLimit: { cpu: '0' } });
    expect(cohortToDomain('cohort', cohort({ quota: quota() })).quota).toBeNull();
  });

  it.each([
    [undefined, 'cohort'],
    [cohort({ name: 'Research' }), 'cohort.name'],
    [cohort({ name: '' }), 'cohort.name'],
    [cohort({ parent: 'org_1' }), 'cohort.parent'],
    [cohort({ parent: 'x'.repeat(64) }), 'cohort.parent'],
    [cohort({ parent: 'research' }), 'cohort.parent'],
    [cohort({ description: 'x'.repeat(1025) }), 'cohort.description'],
    [
      cohort({ quota: quota({ nominal: { 'bad name!': '1' } }) }),
      'cohort.quota.nominal["bad name!"]',
    ],
    [cohort({ quota: quota({ nominal: { cpu: '-1' } }) }), 'cohort.quota.nominal["cpu"]'],
    [cohort({ quota: quota({ nominal: { cpu: 'lots' } }) }), 'cohort.quota.nominal["cpu"]'],
    [
      cohort({
        quota: quota({ nominal: Object.fromEntries(range(65).map((i) => [`r${i}`, '1'])) }),
      }),
      'cohort.quota.nominal',
    ],
    [
      cohort({ parent: 'org', quota: quota({ borrowingLimit: { cpu: '-2' } }) }),
      'cohort.quota.borrowing_limit["cpu"]',
    ],
    [
      cohort({ parent: 'org', quota: quota({ lendingLimit: { 'x/y/z': '1' } }) }),
      'cohort.quota.lending_limit["x/y/z"]',
    ],
    [cohort({ quota: quota({ borrowingLimit: { cpu: '1' } }) }), 'cohort.quota.borrowing_limit'],
    [cohort({ quota: quota({ lendingLimit: { cpu: '1' } }) }), 'cohort.quota.lending_limit'],
  ])('refuses %j, naming %s', (bad, field) => {
    const err = refusalOf(() => cohortToDomain('cohort', bad));
    expect([err.code, err.field]).toEqual([ErrorCode.InvalidArgument, field]);
  });

  it('says why in the words of the rule', () => {
    expect(refusalOf(() => cohortToDomain('cohort', cohort({ parent: 'research' }))).message).toBe(
      'cohort.parent: must not be the cohort itself ("research")',
    );
    expect(
      refusalOf(() =>
        cohortToDomain('cohort', cohort({ quota: quota({ borrowingLimit: { cpu: '1' } }) })),
      ).message,
    ).toBe('cohort.quota.borrowing_limit: needs a parent to borrow from');
    expect(
      refusalOf(() =>
        cohortToDomain('cohort', cohort({ quota: quota({ lendingLimit: { cpu: '1' } }) })),
      ).message,
    ).toBe('cohort.quota.lending_limit: needs a parent to lend to');
    expect(fieldOf(() => cohortToDomain('req', cohort({ name: 'A' })))).toBe('req.name');
  });
});

describe('cohortToProto', () => {
  const at = new Date('2026-01-01T00:00:00Z');
  it('gives a root an empty parent and leaves out an absent quota', () => {
    const wire = cohortToProto({
      name: 'org',
      parent: null,
      description: 'd',
      quota: null,
      createdAt: at,
      updatedAt: at,
    });
    expect(wire).toEqual({
      name: 'org',
      parent: '',
      description: 'd',
      createdAt: at,
      updatedAt: at,
      queues: [],
      children: [],
    });
    expect(wire).not.toHaveProperty('quota');
  });

  it('sends the quota with empty limits for none, and the members given', () => {
    const wire = cohortToProto(
      {
        name: 'research',
        parent: 'org',
        description: '',
        quota: { nominal: { cpu: '8' }, lendingLimit: { cpu: '4' } },
        createdAt: at,
        updatedAt: at,
      },
      { queues: ['nlp', 'vision'], children: ['labs'] },
    );
    expect(wire).toMatchObject({
      parent: 'org',
      quota: { nominal: { cpu: '8' }, borrowingLimit: {}, lendingLimit: { cpu: '4' } },
      queues: ['nlp', 'vision'],
      children: ['labs'],
    });
    // What goes out comes back in as the same settings.
    expect(cohortToDomain('cohort', wire)).toEqual({
      name: 'research',
      parent: 'org',
      description: '',
      quota: { nominal: { cpu: '8' }, lendingLimit: { cpu: '4' } },
    });
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
