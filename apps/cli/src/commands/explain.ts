// muster explain JOB: why a queued job is not placed, per cluster.
import type { Command } from 'commander';
import { ExplainJobResponse } from '@muster/api';
import { resolveJobId } from '../hub/job-ref';
import { renderExplanation } from '../output/explain-view';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { JOB_ARGUMENT_HELP } from './get';

export function registerExplainCommand(program: Command, ctx: CliContext): void {
  program
    .command('explain')
    .description('explain why a queued job is not placed, cluster by cluster')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  muster explain llama-ft
  muster explain 0b0c4a8e -o yaml`,
    )
    .action(async (ref: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const jobId = await resolveJobId(hub, ref);
        const explanation = await hub.call((c) => c.jobs.explainJob({ jobId }), {
          idempotent: true,
        });
        ctx.show(
          cmd,
          () => renderExplanation(explanation),
          () => ExplainJobResponse.toJSON(explanation),
        );
      });
    });
}
