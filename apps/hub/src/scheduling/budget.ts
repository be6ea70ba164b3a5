// Device-hour budgets: the period a queue's budget counts in, what is left of it, and the words
// for a queue that has spent it. Pure: the caller passes what was used (UsageRepository.budgetUsed)
// and the time. Every period starts at 00:00 UTC (weeks on Monday, months on the 1st), so its
// start is a whole hour and the hourly usage buckets fall wholly inside or outside it.
import type { BudgetPeriodName, QueueBudgetSpec } from '../inventory/cluster.domain';

const DAY_MS = 86_400_000;

/** When the period of `now` began (UTC). */
export function periodStart(period: BudgetPeriodName, now: Date): Date {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  switch (period) {
    case 'day':
      return new Date(Date.UTC(y, m, d));
    case 'week':
      // getUTCDay: Sunday 0 … Saturday 6; Monday begins the week.
      return new Date(Date.UTC(y, m, d - ((now.getUTCDay() + 6) % 7)));
    case 'month':
      return new Date(Date.UTC(y, m, 1));
  }
}

/** When the period of `now` ends: the start of the next one (UTC). */
export function periodEnd(period: BudgetPeriodName, now: Date): Date {
  const start = periodStart(period, now);
  switch (period) {
    case 'day':
      return new Date(start.getTime() + DAY_MS);
    case 'week':
      return new Date(start.getTime() + 7 * DAY_MS);
    case 'month':
      return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  }
}

/** Device-hours left of the budget in its current period, never below 0. */
export function budgetLeft(spec: QueueBudgetSpec, usedHours: number): number {
  const left = spec.hours - (Number.isFinite(usedHours) ? Math.max(0, usedHours) : 0);
  return left > 0 ? left : 0;
}

/** A queue's budget now: used, left, and since when (QueueUsage's budget fields). */
export interface BudgetStanding {
  usedHours: number;
  leftHours: number;
  periodStart: Date;
}

export function budgetStanding(
  spec: QueueBudgetSpec,
  usedHours: number,
  now: Date = new Date(),
): BudgetStanding {
  return {
    usedHours: Number.isFinite(usedHours) ? Math.max(0, usedHours) : 0,
    leftHours: budgetLeft(spec, usedHours),
    periodStart: periodStart(spec.period, now),
  };
}

/**
 * Why the queue's gangs wait, when its budget for this period is spent, e.g. `queue nlp has used
 * 5003.2 of its 5000 nvidia.com/gpu-hours this month (since 2026-12-01); running gangs finish, new
 * ones wait until 2027-01-01`; undefined while any hours are left. A gang is not charged before it
 * runs, so a queue with a minute left still admits (and may end its period a little over budget).
 */
export function budgetHold(
  queue: string,
  spec: QueueBudgetSpec,
  usedHours: number,
  now: Date = new Date(),
): string | undefined {
  if (budgetLeft(spec, usedHours) > 0) return undefined;
  const since = day(periodStart(spec.period, now));
  const until = day(periodEnd(spec.period, now));
  return (
    `queue ${queue} has used ${hours(usedHours)} of its ${hours(spec.hours)} ${spec.resource}-hours ` +
    `${THIS[spec.period]} (since ${since}); running gangs finish, new ones wait until ${until}`
  );
}

const THIS: Record<BudgetPeriodName, string> = {
  day: 'today',
  week: 'this week',
  month: 'this month',
};

/** Hours to one decimal, without a trailing ".0" (5003.2, 5000); three digits below 10 (0.005). */
function hours(h: number): string {
  return String(h >= 10 ? Math.round(h * 10) / 10 : Number(h.toPrecision(3)));
}

/** The UTC date of a period boundary: 2026-12-01. */
function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
