// Cohorts for people: the list table and the one-cohort description.
import type { Cohort } from '@muster/api';
import { formatAmounts, resourceShortener } from './queue-views';
import { tableQuantity } from './quantity-format';
import { renderFields, renderTable } from './table';
import { age, isoTime } from './time-format';

/** "nlp,vision", "-" for none. */
function names(list: readonly string[]): string {
  return list.length > 0 ? list.join(',') : '-';
}

/**
 * NAME PARENT QUOTA QUEUES CHILDREN. QUOTA is the cohort's own nominal quota, shortened as the
 * queues table does; QUEUES the queues whose quota names it, CHILDREN the cohorts whose parent
 * it is; "-" for none.
 */
export function renderCohortTable(cohorts: readonly Cohort[]): string {
  const short = resourceShortener(cohorts.flatMap((c) => Object.keys(c.quota?.nominal ?? {})));
  return renderTable(
    ['NAME', 'PARENT', 'QUOTA', 'QUEUES', 'CHILDREN'],
    cohorts.map((c) => [
      c.name,
      c.parent || '-',
      formatAmounts(c.quota?.nominal, short, tableQuantity),
      names(c.queues),
      names(c.children),
    ]),
  );
}

/** `cohorts get`: the settings (full resource names, exact amounts) and what is under it. */
export function renderCohortDetails(c: Cohort, now: Date): string {
  const limit = (amounts: Readonly<Record<string, string>> | undefined, unnamed: string) => {
    const text = formatAmounts(amounts);
    return text === '-' && c.parent !== '' ? `- (${unnamed})` : text;
  };
  const fields: [string, string][] = [
    ['Name', c.name],
    ['Parent', c.parent || '- (a root)'],
    ['Description', c.description || '-'],
    ['Quota', formatAmounts(c.quota?.nominal).replace(/^-$/, '- (none of its own)')],
    ['Borrowing limit', limit(c.quota?.borrowingLimit, 'as much as the parent lends')],
    ['Lending limit', limit(c.quota?.lendingLimit, 'all its unused quota')],
    ['Queues', c.queues.length > 0 ? c.queues.join(', ') : '-'],
    ['Children', c.children.length > 0 ? c.children.join(', ') : '-'],
    ['Created', c.createdAt ? `${isoTime(c.createdAt)} (${age(c.createdAt, now)} ago)` : '-'],
    ['Updated', c.updatedAt ? `${isoTime(c.updatedAt)} (${age(c.updatedAt, now)} ago)` : '-'],
  ];
  return renderFields(fields);
}
