// muster watch JOB: live state events until the job ends; the exit code is its outcome.
import type { Command } from 'commander';
import { ExitCode } from '../exit-codes';
import { resolveJobId } from '../hub/job-ref';
import { present } from '../hub/present';
import { outcomeExitCode } from '../output/job-states';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { JOB_ARGUMENT_HELP } from './get';
import { followToEnd } from './job-follower';

export function registerWatchCommand(program: Command, ctx: CliContext): void {
  program
    .command('watch')
    .description('follow a job until it ends; exit 0 Succeeded, 10 Failed, 11 Cancelled')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
On a terminal one progress line is redrawn in place:
  Running   12/16 members running  on gpu-east  3m05s
Piped, each state change is one line; with -o json each event is one JSON line.

Examples:
  muster watch llama-ft
  muster watch 0b0c4a8e && echo "training done"
  muster watch 0b0c4a8e -o json | jq -r .state`,
    )
    .action(async (ref: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const jobId = await resolveJobId(hub, ref);
        const job = present(
          (await hub.call((c) => c.jobs.getJob({ jobId }), { idempotent: true })).job,
          'job',
        );
        const state = await followToEnd(ctx, hub, job, {
          format: ctx.output(cmd),
          live: ctx.io.stdout.isTTY === true,
        });
        ctx.exitCode = outcomeExitCode(state) ?? ExitCode.Failure;
      });
    });
}
