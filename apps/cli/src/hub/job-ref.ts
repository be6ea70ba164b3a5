// What people type for JOB: the full id, a unique id prefix (as with git and docker), or the
// job's name. Names need not be unique; among several, the one still active wins, else the
// user is asked for the id.
import { JobState, type Job } from '@muster/api';
import { NotFoundError, UsageError } from '../errors';
import type { HubConnection } from './hub-connection';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_PREFIX = /^[0-9a-f][0-9a-f-]{3,35}$/;
const PAGE_SIZE = 1000;
/** Name and prefix look-ups scan the newest jobs only, so they stay quick on a busy hub. */
const MAX_PAGES = 10;
const FINAL = new Set([
  JobState.JOB_STATE_SUCCEEDED,
  JobState.JOB_STATE_FAILED,
  JobState.JOB_STATE_CANCELLED,
]);

export function isJobId(ref: string): boolean {
  return UUID.test(ref.toLowerCase());
}

export async function resolveJobId(hub: HubConnection, ref: string): Promise<string> {
  if (isJobId(ref)) return ref.toLowerCase();
  if (ref.trim() === '') throw new UsageError('JOB must be a job id, an id prefix or a job name');
  const lower = ref.toLowerCase();
  const byPrefix = ID_PREFIX.test(lower);
  const matches: Job[] = [];
  let pageToken = '';
  let pages = 0;
  do {
    const page = await hub.call(
      (c) => c.jobs.listJobs({ queue: '', states: [], pageSize: PAGE_SIZE, pageToken }),
      {
        idempotent: true,
      },
    );
    for (const job of page.jobs) {
      if ((byPrefix && job.id.startsWith(lower)) || job.spec?.name === ref) matches.push(job);
    }
    pageToken = page.nextPageToken;
    pages++;
  } while (pageToken !== '' && pages < MAX_PAGES);
  const only = pickOne(matches);
  if (only) return only.id;
  if (matches.length === 0) {
    const scope =
      pageToken !== '' ? ` among the newest ${PAGE_SIZE * MAX_PAGES} jobs; use the full id` : '';
    throw new NotFoundError(`job "${ref}" not found${scope} (muster list shows ids and names)`);
  }
  const shown = matches
    .slice(0, 5)
    .map((j) => `${j.id} (${j.spec?.name ?? '?'})`)
    .join(', ');
  throw new UsageError(
    `"${ref}" matches ${matches.length} jobs: ${shown}${matches.length > 5 ? ', ...' : ''}; use the id`,
  );
}

function pickOne(matches: Job[]): Job | undefined {
  if (matches.length === 1) return matches[0];
  const active = matches.filter((j) => !FINAL.has(j.state));
  return active.length === 1 ? active[0] : undefined;
}
