// The quota flags of `queues create` and `queues update`: RESOURCE=QUANTITY lists checked here,
// so a typo is a usage error naming the flag, not the hub's queue.quota.nominal["..."] field,
// and the queue's settings an update sends, merged from what the hub has and what was given.
import type { Queue, QueueQuota } from '@muster/api';
import { dns1123LabelError, quotaResourceError } from '@muster/k8s';
import { parseQuantity } from '@muster/placement';
import { UsageError } from '../errors';
import type { BudgetChange } from './queue-budget';
import { preemptionOf, type PreemptionFlags } from './queue-preemption';

/** The quota flags as commander collects them; `quota` is false after `--no-quota`. */
export interface QuotaFlags {
  quota?: string[] | false;
  cohort?: string;
  borrowingLimit?: string[];
  lendingLimit?: string[];
}

/** What the quota flags ask for; a part is present only when its flag was given. */
export interface QuotaChange {
  /** --no-quota (update only). */
  remove: boolean;
  nominal?: Record<string, string>;
  /** "" (update only): leave the cohort. */
  cohort?: string;
  /** {} after `--borrowing-limit ""`: none. */
  borrowingLimit?: Record<string, string>;
  lendingLimit?: Record<string, string>;
}

/** The settings flags of `queues update`; each one given replaces the queue's value. */
export interface QueueSettingsFlags extends PreemptionFlags {
  description?: string;
  weight?: number;
  allowedNamespace?: string[];
  /** --max-priority; false after --no-max-priority (update only): not bounded. */
  maxPriority?: number | false;
}

/** Which of --max-priority and --no-max-priority were given: they set one value, as --quota and --no-quota do. */
export interface MaxPriorityFlagsSeen {
  maxPriority?: boolean;
  noMaxPriority?: boolean;
}

/** Refuses --max-priority with --no-max-priority, in either order. */
export function checkMaxPriorityFlags(seen: MaxPriorityFlagsSeen): void {
  if (seen.maxPriority && seen.noMaxPriority) {
    throw new UsageError('--no-max-priority removes the bound; it cannot go with --max-priority');
  }
}

const EXAMPLE = 'nvidia.com/gpu=64,cpu=512';

/** For --quota and the limits: repeatable, each value one or more comma-separated entries. */
export function collectList(value: string, previous: unknown): string[] {
  return [...(Array.isArray(previous) ? (previous as string[]) : []), value];
}

/**
 * `--quota nvidia.com/gpu=64,cpu=512 --quota memory=2Ti` → {"nvidia.com/gpu": "64", ...}; each
 * quantity read by the parser the hub and placement use. A resource may be scoped to a cluster
 * set (`east:nvidia.com/gpu=16`) or count DRA devices of a class
 * (`gpu.nvidia.com.deviceclass.resource.k8s.io/devices=8`). With `allowEmpty` (the limits), an
 * empty value stands for "none".
 */
export function parseResourceList(
  flag: string,
  values: readonly string[],
  allowEmpty = false,
): Record<string, string> {
  const out = new Map<string, string>();
  for (const value of values) {
    if (value.trim() === '') {
      if (allowEmpty) continue;
      throw new UsageError(
        `${flag}: needs RESOURCE=QUANTITY[,RESOURCE=QUANTITY...], e.g. ${flag} ${EXAMPLE}`,
      );
    }
    for (const raw of value.split(',')) {
      const entry = raw.trim();
      if (entry === '') {
        throw new UsageError(
          `${flag}: empty entry in "${value}"; separate RESOURCE=QUANTITY entries with single commas`,
        );
      }
      const eq = entry.indexOf('=');
      if (eq < 0) throw new UsageError(`${flag}: "${entry}" needs =QUANTITY`);
      const name = entry.slice(0, eq).trim();
      const quantity = entry.slice(eq + 1).trim();
      if (name === '') throw new UsageError(`${flag}: "${entry}" needs a resource name before =`);
      if (quantity === '') throw new UsageError(`${flag}: "${entry}" needs a quantity after =`);
      const nameError = quotaResourceError(name);
      if (nameError) throw new UsageError(`${flag}: ${nameError}`);
      const parsed = parseQuantity(quantity, `${flag}: ${name}`);
      if (!parsed.ok) throw new UsageError(parsed.error.message);
      const before = out.get(name);
      if (before !== undefined) {
        throw new UsageError(`${flag}: ${name} is given twice (${before} and ${quantity})`);
      }
      out.set(name, quantity);
    }
  }
  return Object.fromEntries(out);
}

/** "--a", "--a and --b", "--a, --b and --c". */
export function flagList(flags: readonly string[]): string {
  return flags.length === 1
    ? flags[0]!
    : `${flags.slice(0, -1).join(', ')} and ${flags[flags.length - 1]}`;
}

/** Which of --quota and --no-quota were given: they set one value, so the later one hides the other. */
export interface QuotaFlagsSeen {
  quota?: boolean;
  noQuota?: boolean;
}

/** The quota flags read and checked on their own (before the hub is asked anything). */
export function parseQuotaFlags(flags: QuotaFlags, seen: QuotaFlagsSeen = {}): QuotaChange {
  const quotaList = Array.isArray(flags.quota) ? flags.quota : undefined;
  if (seen.noQuota || flags.quota === false) {
    const others = [
      quotaList !== undefined || seen.quota ? '--quota' : undefined,
      flags.cohort !== undefined ? '--cohort' : undefined,
      flags.borrowingLimit !== undefined ? '--borrowing-limit' : undefined,
      flags.lendingLimit !== undefined ? '--lending-limit' : undefined,
    ].filter((f): f is string => f !== undefined);
    if (others.length > 0) {
      throw new UsageError(`--no-quota removes the quota; it cannot go with ${flagList(others)}`);
    }
    return { remove: true };
  }
  const change: QuotaChange = { remove: false };
  if (quotaList !== undefined) change.nominal = parseResourceList('--quota', quotaList);
  if (flags.cohort !== undefined) {
    const cohort = flags.cohort.trim();
    const error = cohort === '' ? undefined : dns1123LabelError(cohort);
    if (error) throw new UsageError(`--cohort: "${cohort}" ${error}`);
    change.cohort = cohort;
  }
  if (flags.borrowingLimit !== undefined) {
    change.borrowingLimit = parseResourceList('--borrowing-limit', flags.borrowingLimit, true);
  }
  if (flags.lendingLimit !== undefined) {
    change.lendingLimit = parseResourceList('--lending-limit', flags.lendingLimit, true);
  }
  return change;
}

export function changesQuota(change: QuotaChange): boolean {
  return (
    change.remove ||
    change.nominal !== undefined ||
    change.cohort !== undefined ||
    change.borrowingLimit !== undefined ||
    change.lendingLimit !== undefined
  );
}

/**
 * The quota a queue gets: `current` (the hub's, for an update; undefined for a create) with the
 * parts the flags give replaced. Kept limits follow the result: a limit on a resource the new
 * quota does not name, or any limit once the queue leaves its cohort (`--cohort ""`), is dropped.
 * Limits given as flags must fit the result, or it is a usage error naming the flag.
 */
export function mergeQuota(
  current: QueueQuota | undefined,
  change: QuotaChange,
  /** The queue being updated; undefined for a create. */
  updating?: string,
): QueueQuota | undefined {
  if (change.remove) return undefined;
  if (!changesQuota(change)) return current;
  const nominal = change.nominal ?? current?.nominal;
  if (nominal === undefined || Object.keys(nominal).length === 0) {
    const given = [
      change.cohort !== undefined ? '--cohort' : undefined,
      change.borrowingLimit !== undefined ? '--borrowing-limit' : undefined,
      change.lendingLimit !== undefined ? '--lending-limit' : undefined,
    ].filter((f): f is string => f !== undefined);
    throw new UsageError(
      `${flagList(given)} ${given.length === 1 ? 'needs' : 'need'} a quota${
        updating !== undefined ? `, and queue ${updating} has none` : ''
      }; add --quota RESOURCE=QUANTITY, e.g. --quota ${EXAMPLE}`,
    );
  }
  const cohort = change.cohort ?? current?.cohort ?? '';
  const limit = (
    flag: string,
    given: Record<string, string> | undefined,
    kept: Record<string, string> | undefined,
    why: string,
  ): Record<string, string> => {
    if (given !== undefined) {
      const names = Object.keys(given);
      if (names.length > 0 && cohort === '') {
        throw new UsageError(
          `${flag} needs --cohort: ${why}${
            updating !== undefined && change.cohort === undefined
              ? `, and queue ${updating} is in none`
              : ''
          }`,
        );
      }
      const outside = names.filter((n) => !Object.hasOwn(nominal, n));
      if (outside.length > 0) {
        throw new UsageError(
          `${flag}: names ${outside.join(', ')}, which the quota does not (it names ${Object.keys(
            nominal,
          ).join(', ')}); a resource the quota does not name is not limited`,
        );
      }
      return { ...given };
    }
    if (cohort === '') return {};
    return Object.fromEntries(
      Object.entries(kept ?? {}).filter(([n]) => Object.hasOwn(nominal, n)),
    );
  };
  return {
    nominal: { ...nominal },
    cohort,
    borrowingLimit: limit(
      '--borrowing-limit',
      change.borrowingLimit,
      current?.borrowingLimit,
      'a queue borrows only from the queues of its cohort',
    ),
    lendingLimit: limit(
      '--lending-limit',
      change.lendingLimit,
      current?.lendingLimit,
      'a queue lends only to the queues of its cohort',
    ),
  };
}

/** Whether `queues update` was given anything to change. */
export function changesQueue(
  flags: QueueSettingsFlags,
  change: QuotaChange,
  budget: BudgetChange = undefined,
): boolean {
  return (
    flags.description !== undefined ||
    flags.weight !== undefined ||
    flags.allowedNamespace !== undefined ||
    flags.maxPriority !== undefined ||
    flags.preemptWithinQueue !== undefined ||
    flags.reclaimWithinCohort !== undefined ||
    changesQuota(change) ||
    budget !== undefined
  );
}

/**
 * The queue UpdateQueue is sent (it replaces description, weight, allowed namespaces, quota,
 * budget, preemption and max priority): the hub's current queue with what the flags give replaced.
 * Output-only fields stay out.
 */
export function queueUpdate(
  current: Queue,
  flags: QueueSettingsFlags,
  change: QuotaChange,
  budgetChange: BudgetChange = undefined,
): Queue {
  const quota = mergeQuota(current.quota, change, current.name);
  const budget = budgetChange === undefined ? current.budget : (budgetChange ?? undefined);
  const preemption = preemptionOf(flags, current.preemption);
  const maxPriority =
    flags.maxPriority === false ? undefined : (flags.maxPriority ?? current.maxPriority);
  return {
    name: current.name,
    description: flags.description ?? current.description,
    weight: flags.weight ?? current.weight,
    allowedNamespaces: flags.allowedNamespace ?? current.allowedNamespaces,
    ...(quota !== undefined ? { quota } : {}),
    ...(budget !== undefined ? { budget } : {}),
    ...(preemption !== undefined ? { preemption } : {}),
    ...(maxPriority !== undefined ? { maxPriority } : {}),
  };
}
