// Queues for people: the list table and the one-queue description.
import { preemptionPolicyName } from '../commands/queue-preemption';
import { BudgetPeriod, type Queue, type QueueBudget } from '@muster/api';
import { shortLevel } from './job-views';
import { tableQuantity } from './quantity-format';
import { renderFields, renderTable } from './table';
import { age, isoTime } from './time-format';

type Amounts = Readonly<Record<string, string>>;

/** An empty list means the hub's rule: only the "default" namespace. */
export function allowedNamespaces(q: Queue): string {
  return q.allowedNamespaces.length > 0 ? q.allowedNamespaces.join(',') : 'default';
}

/** Domain-qualified resources (nvidia.com/gpu: the scarce ones) first, then cpu, memory, ... */
function byResource(a: string, b: string): number {
  const qa = a.includes('/');
  const qb = b.includes('/');
  if (qa !== qb) return qa ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Quota resources counting the devices of a DRA device class end so. */
const DEVICE_CLASS_SUFFIX = '.deviceclass.resource.k8s.io/devices';

/**
 * A resource's short form: "nvidia.com/gpu" → "gpu" (as the clusters table shortens topology
 * levels), "gpu.nvidia.com.deviceclass.resource.k8s.io/devices" → "gpu.nvidia.com devices", and
 * a resource scoped to a cluster set keeps its set: "east:nvidia.com/gpu" → "east:gpu".
 */
function shortResource(name: string): string {
  const colon = name.indexOf(':');
  const set = colon < 0 ? '' : name.slice(0, colon + 1);
  const resource = name.slice(colon + 1);
  return resource.endsWith(DEVICE_CLASS_SUFFIX)
    ? `${set}${resource.slice(0, -DEVICE_CLASS_SUFFIX.length)} devices`
    : `${set}${shortLevel(resource)}`;
}

/**
 * Each of `names` in its short form (see shortResource), unless another has the same short form
 * (amd.com/gpu beside nvidia.com/gpu, or a plain "gpu"): those stay in full.
 */
export function resourceShortener(names: Iterable<string>): (name: string) => string {
  const count = new Map<string, number>();
  for (const n of new Set(names))
    count.set(shortResource(n), (count.get(shortResource(n)) ?? 0) + 1);
  return (n) => (count.get(shortResource(n)) === 1 ? shortResource(n) : n);
}

/** "nvidia.com/gpu 64, cpu 512", "-" for none; exact strings unless `name`/`amount` shorten. */
export function formatAmounts(
  amounts: Amounts | undefined,
  name: (resource: string) => string = (r) => r,
  amount: (quantity: string) => string | undefined = (q) => q,
): string {
  const parts = Object.keys(amounts ?? {})
    .sort(byResource)
    .flatMap((r) => {
      const shown = amount(amounts![r]!);
      return shown === undefined ? [] : [`${name(r)} ${shown}`];
    });
  return parts.join(', ') || '-';
}

/** The resource most budgets count: named only when a budget counts another. */
const BUDGET_RESOURCE = 'nvidia.com/gpu';

function periodName(period: BudgetPeriod): string {
  switch (period) {
    case BudgetPeriod.BUDGET_PERIOD_DAY:
      return 'day';
    case BudgetPeriod.BUDGET_PERIOD_WEEK:
      return 'week';
    case BudgetPeriod.BUDGET_PERIOD_MONTH:
      return 'month';
    default:
      return 'period';
  }
}

/** Hours to one decimal, without a trailing ".0": 4120.5, 5000. */
function hours(h: number): string {
  return String(Math.round(h * 10) / 10);
}

/** BUDGET: "4120/5000 h/month" (used/limit), the resource first when it is not nvidia.com/gpu. */
export function formatBudget(budget: QueueBudget | undefined, usedHours: number): string {
  if (!budget) return '-';
  const figures = `${hours(usedHours)}/${hours(budget.hours)} h/${periodName(budget.period)}`;
  return budget.resource === BUDGET_RESOURCE ? figures : `${budget.resource} ${figures}`;
}

function quotaResources(q: Queue): string[] {
  return [
    ...Object.keys(q.quota?.nominal ?? {}),
    ...Object.keys(q.usage?.used ?? {}),
    ...Object.keys(q.usage?.borrowed ?? {}),
  ];
}

/**
 * NAME WEIGHT NAMESPACES COHORT QUOTA USED BORROWED BUDGET AGE DESCRIPTION. QUOTA is the nominal
 * quota, USED and BORROWED what admitted gangs hold (amounts of 0 left out), BUDGET the
 * device-hours used of the budget this period; "-" for none.
 */
export function renderQueueTable(queues: readonly Queue[], now: Date): string {
  const short = resourceShortener(queues.flatMap(quotaResources));
  const nonZero = (text: string) => {
    const shown = tableQuantity(text);
    return shown === '0' ? undefined : shown;
  };
  return renderTable(
    [
      'NAME',
      'WEIGHT',
      'NAMESPACES',
      'COHORT',
      'QUOTA',
      'USED',
      'BORROWED',
      'FAIR SHARE',
      'BUDGET',
      'AGE',
      'DESCRIPTION',
    ],
    queues.map((q) => [
      q.name,
      String(q.weight),
      allowedNamespaces(q),
      q.quota?.cohort || '-',
      formatAmounts(q.quota?.nominal, short, tableQuantity),
      formatAmounts(q.usage?.used, short, nonZero),
      formatAmounts(q.usage?.borrowed, short, nonZero),
      fairShare(q),
      formatBudget(q.budget, q.usage?.budgetUsedHours ?? 0),
      age(q.createdAt, now),
      q.description || '-',
    ]),
  );
}

/** The queue's fair share of the fleet as a percentage ("25%", "33.3%"), "-" without work. */
function fairShare(q: Queue): string {
  const share = q.usage?.fairShare ?? 0;
  return share > 0 ? `${Number((share * 100).toPrecision(3))}%` : '-';
}

/**
 * `queues get`: the settings, then the quota and usage lines with full names, exact amounts, then
 * the budget and what was used of it this period.
 */
export function renderQueueDetails(q: Queue, now: Date): string {
  const quota = q.quota;
  const budget = q.budget;
  const inCohort = quota !== undefined && quota.cohort !== '';
  const limit = (amounts: Amounts | undefined, unnamed: string) => {
    const text = formatAmounts(amounts);
    return text === '-' && inCohort ? `- (${unnamed})` : text;
  };
  const fields: [string, string][] = [
    ['Name', q.name],
    ['Description', q.description || '-'],
    ['Weight', String(q.weight)],
    ['Namespaces', allowedNamespaces(q)],
    ['Max priority', q.maxPriority !== undefined ? String(q.maxPriority) : '- (not bounded)'],
    ['Quota', quota ? formatAmounts(quota.nominal) : '- (not limited)'],
    ['Cohort', inCohort ? quota.cohort : quota ? '- (neither lends nor borrows)' : '-'],
    ['Borrowing limit', limit(quota?.borrowingLimit, 'as much as the cohort lends')],
    ['Lending limit', limit(quota?.lendingLimit, 'all its unused quota')],
    ['Used', formatAmounts(q.usage?.used)],
    ['Borrowed', formatAmounts(q.usage?.borrowed)],
    ['Available', formatAmounts(q.usage?.available)],
    [
      'Fair share',
      q.usage?.fairShare
        ? `${fairShare(q)} of the fleet (its weight's part among the queues with work)`
        : '- (no gangs queued or running)',
    ],
    [
      'Budget',
      budget
        ? `${hours(budget.hours)} ${budget.resource}-hours per ${periodName(budget.period)}`
        : '- (no budget)',
    ],
    // The hub sends the figures with every queue that has a budget.
    ['Budget used', budget && q.usage ? `${hours(q.usage.budgetUsedHours)} h` : '-'],
    ['Budget left', budget && q.usage ? `${hours(q.usage.budgetLeftHours)} h` : '-'],
    ['Period start', budget ? isoTime(q.usage?.budgetPeriodStart) : '-'],
    [
      'Preemption',
      q.preemption
        ? `within queue: ${preemptionPolicyName(q.preemption.withinQueue)}; reclaim within cohort: ${preemptionPolicyName(q.preemption.reclaimWithinCohort)}`
        : '- (never preempts)',
    ],
    ['Created', q.createdAt ? `${isoTime(q.createdAt)} (${age(q.createdAt, now)} ago)` : '-'],
    ['Updated', q.updatedAt ? `${isoTime(q.updatedAt)} (${age(q.updatedAt, now)} ago)` : '-'],
  ];
  return renderFields(fields);
}
