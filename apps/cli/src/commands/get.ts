// muster get JOB
import type { Command } from 'commander';
import { Job } from '@muster/api';
import { resolveJobId } from '../hub/job-ref';
import { present } from '../hub/present';
import { renderJobDetails } from '../output/job-views';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';

export const JOB_ARGUMENT_HELP = 'job id, unique id prefix, or job name';

export function registerGetCommand(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .description('show one job: state, members, pod sets and what it asks for')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  muster get 0b0c4a8e-5f4e-4d2b-9a57-8c1f2e3d4a5b
  muster get llama-ft            # by name, when one active job has it
  muster get 0b0c4a8e -o json    # by id prefix, as JSON`,
    )
    .action(async (ref: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const jobId = await resolveJobId(hub, ref);
        const job = present(
          (await hub.call((c) => c.jobs.getJob({ jobId }), { idempotent: true })).job,
          'job',
        );
        ctx.show(
          cmd,
          () => renderJobDetails(job, ctx.now()),
          () => Job.toJSON(job),
        );
      });
    });
}
