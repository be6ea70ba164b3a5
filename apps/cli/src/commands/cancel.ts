// muster cancel JOB: a queued job is cancelled at once; cancelling twice changes nothing.
import type { Command } from 'commander';
import { Job } from '@muster/api';
import { resolveJobId } from '../hub/job-ref';
import { present } from '../hub/present';
import { stateName } from '../output/job-states';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { JOB_ARGUMENT_HELP } from './get';

export function registerCancelCommand(program: Command, ctx: CliContext): void {
  program
    .command('cancel')
    .description('cancel a job')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .option('--reason <text>', "why; shown in the job's events")
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  muster cancel llama-ft --reason "wrong learning rate"
  muster cancel 0b0c4a8e`,
    )
    .action(async (ref: string, flags: { reason?: string }, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const jobId = await resolveJobId(hub, ref);
        // Cancel is idempotent on the hub, so a retry after a lost answer is safe.
        const response = await hub.call(
          (c) => c.jobs.cancelJob({ jobId, reason: flags.reason ?? '' }),
          { idempotent: true },
        );
        const job = present(response.job, 'job');
        ctx.show(
          cmd,
          () => `job ${job.id} (${job.spec?.name ?? ''}) is ${stateName(job.state)}\n`,
          () => Job.toJSON(job),
        );
      });
    });
}
