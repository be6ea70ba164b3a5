// Cohorts between the wire and the domain, as inventory.mapper does for clusters and queues:
// requests are checked into domain values (each error names its field), answers are built from
// domain values.
import type * as wire from '@muster/api';
import { invalidArgument } from '../common/errors';
import type { Cohort, CohortQuotaSpec, CohortSettings } from './cluster.domain';
import type { CohortMembers } from './inventory.service';
import { checkName, quotaAmountsToDomain } from './inventory.mapper';

const MAX_DESCRIPTION = 1024;

/**
 * A cohort from the wire, checked: names, description and quota; the output-only `queues` and
 * `children` are ignored. Whether its parent chain loops is the service's to judge (it needs
 * the stored cohorts).
 */
export function cohortToDomain(field: string, c: wire.Cohort | undefined): CohortSettings {
  if (!c) throw invalidArgument(field, 'is required');
  checkName(`${field}.name`, c.name);
  let parent: string | null = null;
  if (c.parent !== '') {
    parent = checkName(`${field}.parent`, c.parent);
    if (parent === c.name)
      throw invalidArgument(`${field}.parent`, `must not be the cohort itself ("${c.name}")`);
  }
  if (c.description.length > MAX_DESCRIPTION)
    throw invalidArgument(`${field}.description`, `must be at most ${MAX_DESCRIPTION} characters`);
  return {
    name: c.name,
    parent,
    description: c.description,
    quota: cohortQuotaToDomain(`${field}.quota`, c.quota, parent),
  };
}

/**
 * A cohort's quota, checked: amounts as a queue's quota has them; the nominal quota may be
 * empty, and the limits, which need a parent, may name resources it does not. null when absent
 * or naming no amount at all.
 */
function cohortQuotaToDomain(
  field: string,
  q: wire.CohortQuota | undefined,
  parent: string | null,
): CohortQuotaSpec | null {
  if (!q) return null;
  const nominal = quotaAmountsToDomain(`${field}.nominal`, q.nominal);
  const borrowing = quotaAmountsToDomain(`${field}.borrowing_limit`, q.borrowingLimit);
  const lending = quotaAmountsToDomain(`${field}.lending_limit`, q.lendingLimit);
  const hasBorrowing = Object.keys(borrowing).length > 0;
  const hasLending = Object.keys(lending).length > 0;
  if (parent === null) {
    if (hasBorrowing)
      throw invalidArgument(`${field}.borrowing_limit`, 'needs a parent to borrow from');
    if (hasLending) throw invalidArgument(`${field}.lending_limit`, 'needs a parent to lend to');
  }
  if (Object.keys(nominal).length === 0 && !hasBorrowing && !hasLending) return null;
  return {
    nominal,
    ...(hasBorrowing ? { borrowingLimit: borrowing } : {}),
    ...(hasLending ? { lendingLimit: lending } : {}),
  };
}

/** A cohort on the wire, with what is under it when known (the caller filters the queues). */
export function cohortToProto(c: Cohort, members?: CohortMembers): wire.Cohort {
  return {
    name: c.name,
    parent: c.parent ?? '',
    description: c.description,
    ...(c.quota
      ? {
          quota: {
            nominal: c.quota.nominal,
            borrowingLimit: c.quota.borrowingLimit ?? {},
            lendingLimit: c.quota.lendingLimit ?? {},
          },
        }
      : {}),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    queues: members?.queues ?? [],
    children: members?.children ?? [],
  };
}
