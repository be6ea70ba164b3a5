// muster list: newest jobs first, paging through the hub's ListJobs.
import type { Command } from 'commander';
import { Job, type JobState } from '@muster/api';
import type { HubConnection } from '../hub/hub-connection';
import { parseState, STATE_CHOICES } from '../output/job-states';
import { renderJobTable } from '../output/job-views';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { collect, integerFlag } from './flag-parsers';

/** The hub's largest page. */
const MAX_PAGE_SIZE = 1000;
const DEFAULT_LIMIT = 100;

interface ListFlags {
  queue?: string;
  state?: string[];
  limit: number;
}

export function registerListCommand(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .alias('ls')
    .description('list jobs, newest first')
    .option('--queue <queue>', 'only jobs of this queue')
    .option(
      `--state <state>`,
      `only jobs in this state (repeatable or comma-separated): ${STATE_CHOICES.join(', ')}`,
      collect,
    )
    .option('--limit <n>', `at most this many jobs; 0 for all`, integerFlag(0), DEFAULT_LIMIT)
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  muster list
  muster list --queue research --state queued,running
  muster list --state failed --limit 0 -o json`,
    )
    .action(async (flags: ListFlags, cmd: Command) => {
      const states = (flags.state ?? [])
        .flatMap((s) => s.split(','))
        .filter((s) => s.trim() !== '')
        .map(parseState);
      await ctx.withHub(cmd, async (hub) => {
        const { jobs, more } = await listJobs(hub, flags.queue ?? '', states, flags.limit);
        if (ctx.output(cmd) === 'table') {
          if (jobs.length === 0) ctx.note('No jobs found.');
          else ctx.print(renderJobTable(jobs, ctx.now()));
          if (more)
            ctx.note(
              `(showing the newest ${jobs.length} jobs; --limit N shows more, --limit 0 all)`,
            );
          return;
        }
        ctx.show(
          cmd,
          () => '',
          () => ({ jobs: jobs.map((j) => Job.toJSON(j)) }),
        );
      });
    });
}

/** Pages until `limit` jobs (0: all) or the last page; `more` tells whether jobs were left. */
export async function listJobs(
  hub: HubConnection,
  queue: string,
  states: JobState[],
  limit: number,
): Promise<{ jobs: Job[]; more: boolean }> {
  const jobs: Job[] = [];
  let pageToken = '';
  do {
    const wanted = limit === 0 ? MAX_PAGE_SIZE : Math.min(MAX_PAGE_SIZE, limit - jobs.length);
    const page = await hub.call(
      (c) => c.jobs.listJobs({ queue, states, pageSize: wanted, pageToken }),
      { idempotent: true },
    );
    jobs.push(...page.jobs);
    pageToken = page.nextPageToken;
  } while (pageToken !== '' && (limit === 0 || jobs.length < limit));
  return { jobs: limit === 0 ? jobs : jobs.slice(0, limit), more: pageToken !== '' };
}
