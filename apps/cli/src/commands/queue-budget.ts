// The budget flags of `queues create` and `queues update`: `--budget gpu-hours=5000/month` checked
// here, so a typo is a usage error naming the flag, not the hub's queue.budget field.
import { BudgetPeriod, type QueueBudget } from '@muster/api';
import { isValidResourceName } from '@muster/placement';
import { UsageError } from '../errors';

/** The budget flags as commander collects them; `budget` is false after `--no-budget`. */
export interface BudgetFlags {
  budget?: string | false;
}

/** Which of --budget and --no-budget were given: they set one value, so the later hides the other. */
export interface BudgetFlagsSeen {
  budget?: boolean;
  noBudget?: boolean;
}

/** What the budget flags ask for: keep the queue's (undefined), remove it (null), or this one. */
export type BudgetChange = QueueBudget | null | undefined;

/** `gpu` in a --budget value stands for the resource most budgets count. */
const SHORT_NAMES: Readonly<Record<string, string>> = { gpu: 'nvidia.com/gpu' };
const PERIODS: Readonly<Record<string, BudgetPeriod>> = {
  day: BudgetPeriod.BUDGET_PERIOD_DAY,
  week: BudgetPeriod.BUDGET_PERIOD_WEEK,
  month: BudgetPeriod.BUDGET_PERIOD_MONTH,
};
/** The most hours the hub takes in one budget. */
const MAX_HOURS = 1e9;
const FORM =
  'RESOURCE-hours=N/PERIOD (PERIOD: day, week or month), e.g. --budget gpu-hours=5000/month';

/**
 * `gpu-hours=5000/month` → {resource: "nvidia.com/gpu", hours: 5000, period: MONTH};
 * `amd.com/gpu-hours=100/week` names its resource in full.
 */
export function parseBudget(flag: string, value: string): QueueBudget {
  const text = value.trim();
  const at = text.lastIndexOf('-hours=');
  if (at < 0) throw new UsageError(`${flag}: "${text}" must be ${FORM}`);
  const name = text.slice(0, at);
  const [amount, period, ...more] = text.slice(at + '-hours='.length).split('/');
  if (name === '')
    throw new UsageError(`${flag}: "${text}" needs a resource before -hours, ${FORM}`);
  const resource = SHORT_NAMES[name] ?? name;
  if (!isValidResourceName(resource)) {
    throw new UsageError(
      `${flag}: "${name}" is not a resource name (such as gpu, nvidia.com/gpu or amd.com/gpu)`,
    );
  }
  if (period === undefined || more.length > 0) {
    throw new UsageError(`${flag}: "${text}" needs one /PERIOD after the hours, ${FORM}`);
  }
  const hours = /^\d+(\.\d+)?$/.test(amount ?? '') ? Number(amount) : Number.NaN;
  if (!(hours > 0 && hours <= MAX_HOURS)) {
    throw new UsageError(
      `${flag}: "${amount ?? ''}" is not a number of hours above 0 and at most ${MAX_HOURS}`,
    );
  }
  const p = Object.hasOwn(PERIODS, period) ? PERIODS[period] : undefined;
  if (p === undefined) {
    throw new UsageError(`${flag}: "${period}" is not a period; use day, week or month`);
  }
  return { resource, hours, period: p };
}

/** The budget flags read and checked on their own (before the hub is asked anything). */
export function parseBudgetFlags(flags: BudgetFlags, seen: BudgetFlagsSeen = {}): BudgetChange {
  if (seen.noBudget || flags.budget === false) {
    if (seen.budget || typeof flags.budget === 'string') {
      throw new UsageError('--no-budget removes the budget; it cannot go with --budget');
    }
    return null;
  }
  return flags.budget === undefined ? undefined : parseBudget('--budget', flags.budget);
}
