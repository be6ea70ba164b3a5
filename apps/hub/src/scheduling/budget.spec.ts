import fc from 'fast-check';
import type { BudgetPeriodName, QueueBudgetSpec } from '../inventory/cluster.domain';
import { budgetHold, budgetLeft, budgetStanding, periodEnd, periodStart } from './budget';

const SEED = { seed: 20261201 };
const at = (iso: string) => new Date(iso);
const gpuMonth: QueueBudgetSpec = { resource: 'nvidia.com/gpu', hours: 5000, period: 'month' };

describe('periodStart and periodEnd', () => {
  it.each<[BudgetPeriodName, string, string, string]>([
    ['day', '2026-12-17T13:45:00Z', '2026-12-17T00:00:00.000Z', '2026-12-18T00:00:00.000Z'],
    ['day', '2026-12-31T23:59:59.999Z', '2026-12-31T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['day', '2026-12-17T00:00:00Z', '2026-12-17T00:00:00.000Z', '2026-12-18T00:00:00.000Z'],
    // 2026-12-17 is a Thursday; weeks begin on Monday.
    ['week', '2026-12-17T13:45:00Z', '2026-12-14T00:00:00.000Z', '2026-12-21T00:00:00.000Z'],
    ['week', '2026-12-14T00:00:00Z', '2026-12-14T00:00:00.000Z', '2026-12-21T00:00:00.000Z'],
    ['week', '2026-12-20T23:59:59Z', '2026-12-14T00:00:00.000Z', '2026-12-21T00:00:00.000Z'],
    // A week across the new year, and one across the end of February.
    ['week', '2027-01-02T08:00:00Z', '2026-12-28T00:00:00.000Z', '2027-01-04T00:00:00.000Z'],
    ['week', '2028-03-01T08:00:00Z', '2028-02-28T00:00:00.000Z', '2028-03-06T00:00:00.000Z'],
    ['month', '2026-12-17T13:45:00Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['month', '2028-02-29T23:00:00Z', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
    ['month', '2027-01-01T00:00:00Z', '2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z'],
  ])('%s of %s: %s to %s', (period, now, start, end) => {
    expect(periodStart(period, at(now)).toISOString()).toBe(start);
    expect(periodEnd(period, at(now)).toISOString()).toBe(end);
  });

  it('is in UTC whatever the local offset of the instant given', () => {
    // 2026-12-01T01:30+05:30 is still November in UTC.
    expect(periodStart('month', at('2026-12-01T01:30:00+05:30')).toISOString()).toBe(
      '2026-11-01T00:00:00.000Z',
    );
  });

  const instant = fc.date({
    min: new Date('1990-01-01T00:00:00Z'),
    max: new Date('2100-01-01T00:00:00Z'),
    noInvalidDate: true,
  });
  const period = fc.constantFrom<BudgetPeriodName>('day', 'week', 'month');

  it('holds every instant in [start, end), starting at midnight UTC, Mondays and 1sts', () => {
    fc.assert(
      fc.property(period, instant, (p, now) => {
        const start = periodStart(p, now);
        const end = periodEnd(p, now);
        expect(start.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(now.getTime()).toBeLessThan(end.getTime());
        expect(start.getTime() % 86_400_000).toBe(0);
        if (p === 'week') expect(start.getUTCDay()).toBe(1);
        if (p === 'month') expect(start.getUTCDate()).toBe(1);
        // The next period starts where this one ends: periods tile time.
        expect(periodStart(p, end).getTime()).toBe(end.getTime());
        expect(periodStart(p, new Date(end.getTime() - 1)).getTime()).toBe(start.getTime());
      }),
      SEED,
    );
  });
});

describe('budgetLeft and budgetStanding', () => {
  it.each([
    [0, 5000],
    [4120, 880],
    [5000, 0],
    [5003.2, 0],
    [-3, 5000],
    [Number.NaN, 5000],
  ])('used %d of 5000: %d left', (used, left) => {
    expect(budgetLeft(gpuMonth, used)).toBeCloseTo(left, 9);
  });

  it('gives used, left and the period start', () => {
    expect(budgetStanding(gpuMonth, 4120.5, at('2026-12-17T13:45:00Z'))).toEqual({
      usedHours: 4120.5,
      leftHours: 879.5,
      periodStart: at('2026-12-01T00:00:00Z'),
    });
  });
});

describe('budgetHold', () => {
  const now = at('2026-12-17T13:45:00Z');

  it('says nothing while any hours are left: a gang that would only start is not charged', () => {
    expect(budgetHold('nlp', gpuMonth, 0, now)).toBeUndefined();
    expect(budgetHold('nlp', gpuMonth, 4999.99, now)).toBeUndefined();
  });

  it.each<[QueueBudgetSpec, number, string]>([
    [
      gpuMonth,
      5003.24,
      'queue nlp has used 5003.2 of its 5000 nvidia.com/gpu-hours this month (since 2026-12-01); running gangs finish, new ones wait until 2027-01-01',
    ],
    [
      gpuMonth,
      5000,
      'queue nlp has used 5000 of its 5000 nvidia.com/gpu-hours this month (since 2026-12-01); running gangs finish, new ones wait until 2027-01-01',
    ],
    [
      { resource: 'amd.com/gpu', hours: 100, period: 'week' },
      120,
      'queue nlp has used 120 of its 100 amd.com/gpu-hours this week (since 2026-12-14); running gangs finish, new ones wait until 2026-12-21',
    ],
    [
      { resource: 'nvidia.com/gpu', hours: 0.5, period: 'day' },
      0.5,
      'queue nlp has used 0.5 of its 0.5 nvidia.com/gpu-hours today (since 2026-12-17); running gangs finish, new ones wait until 2026-12-18',
    ],
  ])('holds a queue whose budget is spent (%j, %d used)', (spec, used, text) => {
    expect(budgetHold('nlp', spec, used, now)).toBe(text);
  });

  it('holds exactly when nothing is left', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 2e9, noNaN: true }),
        (budget, used) => {
          const spec: QueueBudgetSpec = {
            resource: 'nvidia.com/gpu',
            hours: budget,
            period: 'day',
          };
          const held = budgetHold('q', spec, used, now);
          expect(held === undefined).toBe(used < budget);
          expect(budgetLeft(spec, used)).toBe(used < budget ? budget - used : 0);
        },
      ),
      SEED,
    );
  });
});
