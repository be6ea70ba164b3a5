// The flags of `cohorts create` and `cohorts update`: checked here, so a typo is a usage error
// naming the flag, not the hub's cohort.quota.nominal["..."] field, and the cohort an update
// sends, merged from what the hub has and what was given.
import type { Cohort, CohortQuota } from '@muster/api';
import { dns1123LabelError } from '@muster/k8s';
import { UsageError } from '../errors';
import { flagList, parseResourceList } from './queue-quota';

/** As commander collects them; `parent` and `quota` are false after --no-parent / --no-quota. */
export interface CohortFlags {
  parent?: string | false;
  description?: string;
  quota?: string[] | false;
  borrowingLimit?: string[];
  lendingLimit?: string[];
}

/**
 * Which of --parent / --no-parent and --quota / --no-quota were given: each pair sets one
 * value, so the later one hides the other; noted as commander reads them, to refuse both.
 */
export interface CohortFlagsSeen {
  parent?: boolean;
  noParent?: boolean;
  quota?: boolean;
  noQuota?: boolean;
}

/** What the flags ask for; a part is present only when its flag was given. */
export interface CohortChange {
  /** "" after --no-parent (update only): a root. */
  parent?: string;
  description?: string;
  /** --no-quota (update only). */
  removeQuota: boolean;
  /** {} after `--quota ""`: none of its own. */
  nominal?: Record<string, string>;
  /** {} after `--borrowing-limit ""`: none. */
  borrowingLimit?: Record<string, string>;
  lendingLimit?: Record<string, string>;
}

/** The flags read and checked on their own (before the hub is asked anything). */
export function parseCohortFlags(
  name: string,
  flags: CohortFlags,
  seen: CohortFlagsSeen = {},
): CohortChange {
  const change: CohortChange = { removeQuota: false };
  if (seen.noParent || flags.parent === false) {
    if (seen.parent || typeof flags.parent === 'string')
      throw new UsageError('--no-parent makes the cohort a root; it cannot go with --parent');
    change.parent = '';
  } else if (flags.parent !== undefined) {
    const parent = flags.parent.trim();
    if (parent === '') {
      throw new UsageError(
        '--parent: needs the name of a cohort; a cohort without a parent is a root',
      );
    }
    const error = dns1123LabelError(parent);
    if (error) throw new UsageError(`--parent: "${parent}" ${error}`);
    if (parent === name) throw new UsageError(`--parent: cohort ${name} cannot be its own parent`);
    change.parent = parent;
  }
  if (flags.description !== undefined) change.description = flags.description;
  if (seen.noQuota || flags.quota === false) {
    const others = [
      Array.isArray(flags.quota) || seen.quota ? '--quota' : undefined,
      flags.borrowingLimit !== undefined ? '--borrowing-limit' : undefined,
      flags.lendingLimit !== undefined ? '--lending-limit' : undefined,
    ].filter((f): f is string => f !== undefined);
    if (others.length > 0)
      throw new UsageError(`--no-quota removes the quota; it cannot go with ${flagList(others)}`);
    change.removeQuota = true;
    return change;
  }
  if (Array.isArray(flags.quota)) change.nominal = parseResourceList('--quota', flags.quota, true);
  if (flags.borrowingLimit !== undefined)
    change.borrowingLimit = parseResourceList('--borrowing-limit', flags.borrowingLimit, true);
  if (flags.lendingLimit !== undefined)
    change.lendingLimit = parseResourceList('--lending-limit', flags.lendingLimit, true);
  return change;
}

/** Whether `cohorts update` was given anything to change. */
export function changesCohort(change: CohortChange): boolean {
  return (
    change.parent !== undefined ||
    change.description !== undefined ||
    change.removeQuota ||
    change.nominal !== undefined ||
    change.borrowingLimit !== undefined ||
    change.lendingLimit !== undefined
  );
}

const isEmpty = (m: Record<string, string> | undefined) => Object.keys(m ?? {}).length === 0;

/**
 * The cohort CreateCohort or UpdateCohort is sent (an update replaces parent, description and
 * quota): `current` (the hub's, for an update; undefined for a create) with the parts the flags
 * give replaced. Kept limits go once the cohort becomes a root (--no-parent); limits given as
 * flags need a parent, or it is a usage error naming the flag. A quota left with no amount at
 * all is none. Output-only fields stay out.
 */
export function cohortOf(name: string, change: CohortChange, current?: Cohort): Cohort {
  const parent = change.parent ?? current?.parent ?? '';
  const quota = change.removeQuota ? undefined : quotaOf(name, change, parent, current);
  return {
    name,
    parent,
    description: change.description ?? current?.description ?? '',
    ...(quota ? { quota } : {}),
    queues: [],
    children: [],
  };
}

function quotaOf(
  name: string,
  change: CohortChange,
  parent: string,
  current: Cohort | undefined,
): CohortQuota | undefined {
  const limit = (
    flag: string,
    given: Record<string, string> | undefined,
    kept: Record<string, string> | undefined,
    why: string,
  ): Record<string, string> => {
    if (given === undefined) return parent === '' ? {} : { ...kept };
    if (!isEmpty(given) && parent === '') {
      const more =
        change.parent === ''
          ? ', and --no-parent makes it a root'
          : current !== undefined
            ? `, and cohort ${name} has none`
            : '';
      throw new UsageError(`${flag} needs --parent: ${why}${more}`);
    }
    return { ...given };
  };
  const nominal = { ...(change.nominal ?? current?.quota?.nominal) };
  const borrowingLimit = limit(
    '--borrowing-limit',
    change.borrowingLimit,
    current?.quota?.borrowingLimit,
    'a cohort borrows only from its parent',
  );
  const lendingLimit = limit(
    '--lending-limit',
    change.lendingLimit,
    current?.quota?.lendingLimit,
    'a cohort lends only to its parent',
  );
  if (isEmpty(nominal) && isEmpty(borrowingLimit) && isEmpty(lendingLimit)) return undefined;
  return { nominal, borrowingLimit, lendingLimit };
}
