// muster cohorts list|get|create|update|delete
import type { Command } from 'commander';
import { Cohort, ListCohortsResponse } from '@muster/api';
import { UsageError } from '../errors';
import { present } from '../hub/present';
import { renderCohortDetails, renderCohortTable } from '../output/cohort-views';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import {
  changesCohort,
  cohortOf,
  parseCohortFlags,
  type CohortFlags,
  type CohortFlagsSeen,
} from './cohort-flags';
import { collectList } from './queue-quota';

const COHORT_HELP = `
Queues whose quota names a cohort (\`muster queues create Q --cohort C\`) lend each other the
quota they do not use. A cohort may itself have a parent cohort (--parent), its own nominal
quota shared by everything under it (--quota), and limits on what it borrows from its parent
(--borrowing-limit) and lends to it (--lending-limit); a resource a limit does not name is not
limited. A cohort named but never created is a root with no quota of its own. A parent chain
may not loop nor be deeper than 16 cohorts. RESOURCE=QUANTITY lists are repeatable or
comma-separated; quantities are Kubernetes quantities (64, 500m, 2Ti).`;

/** The options create and update share. */
function addCohortOptions(cmd: Command): Command {
  return cmd
    .option('--parent <name>', 'the parent cohort (a DNS-1123 label; default: none, a root)')
    .option('--description <text>', 'what the cohort is for')
    .option(
      '--quota <resource=quantity,...>',
      "the cohort's own nominal quota, shared by everything under it, e.g. nvidia.com/gpu=64 (repeatable)",
      collectList,
    )
    .option(
      '--borrowing-limit <resource=quantity,...>',
      'most the cohort borrows from its parent, per resource (repeatable; needs a parent; default: as much as the parent lends)',
      collectList,
    )
    .option(
      '--lending-limit <resource=quantity,...>',
      'most of its unused quota the cohort lends to its parent, per resource (repeatable; needs a parent; default: all of it)',
      collectList,
    );
}

export function registerCohortsCommand(program: Command, ctx: CliContext): void {
  const cohorts = program
    .command('cohorts')
    .alias('cohort')
    .description('list, create, update and delete cohorts: the tree queues share quota in')
    .addHelpText(
      'after',
      `
Examples:
  muster cohorts create org --quota nvidia.com/gpu=128
  muster cohorts create research --parent org --quota nvidia.com/gpu=64 --lending-limit nvidia.com/gpu=16
  muster queues create nlp --quota nvidia.com/gpu=16 --cohort research
  muster cohorts list`,
    );

  cohorts
    .command('list')
    .alias('ls')
    .description('list cohorts')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  muster cohorts list\n  muster cohorts list -o json')
    .action(async (_flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call((c) => c.inventory.listCohorts({}), { idempotent: true });
        if (ctx.output(cmd) === 'table' && response.cohorts.length === 0) {
          ctx.note('No cohorts; create one with `muster cohorts create research`.');
          return;
        }
        ctx.show(
          cmd,
          () => renderCohortTable(response.cohorts),
          () => ListCohortsResponse.toJSON(response),
        );
      });
    });

  cohorts
    .command('get')
    .description('show one cohort: parent, quota, limits, its queues and child cohorts')
    .argument('<name>', 'cohort name')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  muster cohorts get research\n  muster cohorts get research -o yaml',
    )
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const cohort = present(
          (await hub.call((c) => c.inventory.getCohort({ name }), { idempotent: true })).cohort,
          'cohort',
        );
        ctx.show(
          cmd,
          () => renderCohortDetails(cohort, ctx.now()),
          () => Cohort.toJSON(cohort),
        );
      });
    });

  addCohortOptions(
    cohorts
      .command('create')
      .description('create a cohort, optionally under a parent and with a quota of its own')
      .argument('<name>', 'cohort name (a DNS-1123 label)'),
  )
    .addOption(outputOption())
    .addHelpText(
      'after',
      `${COHORT_HELP}

Examples:
  muster cohorts create org
  muster cohorts create research --parent org --description "research labs"
  muster cohorts create vision --parent research --quota nvidia.com/gpu=32 --borrowing-limit nvidia.com/gpu=8`,
    )
    .action(async (name: string, flags: CohortFlags, cmd: Command) => {
      const cohort = cohortOf(name, parseCohortFlags(name, flags));
      await ctx.withHub(cmd, async (hub) => {
        const created = present(
          (await hub.call((c) => c.inventory.createCohort({ cohort }), { idempotent: false }))
            .cohort,
          'cohort',
        );
        ctx.show(
          cmd,
          () => `cohort ${created.name} created\n`,
          () => Cohort.toJSON(created),
        );
      });
    });

  // --no-parent and --no-quota set the values --parent and --quota do (to false), so each is
  // noted as commander reads it: given together, in either order, they are refused.
  const seen: CohortFlagsSeen = {};
  addCohortOptions(
    cohorts
      .command('update')
      .description("change a cohort's parent, description, quota or limits (the rest stays)")
      .argument('<name>', 'cohort name'),
  )
    .option('--no-parent', 'make the cohort a root (its limits go with the parent)')
    .option('--no-quota', 'remove its own quota and its limits')
    .on('option:parent', () => (seen.parent = true))
    .on('option:no-parent', () => (seen.noParent = true))
    .on('option:quota', () => (seen.quota = true))
    .on('option:no-quota', () => (seen.noQuota = true))
    .addOption(outputOption())
    .addHelpText(
      'after',
      `${COHORT_HELP}

The hub's cohort is read first; each flag given replaces that part (a list flag the whole
list), the rest stays. \`--quota ""\`, \`--borrowing-limit ""\` and \`--lending-limit ""\` remove
that part; --no-parent makes the cohort a root and drops its limits.

Examples:
  muster cohorts update research --parent org
  muster cohorts update research --quota nvidia.com/gpu=96
  muster cohorts update research --lending-limit ""
  muster cohorts update research --no-parent
  muster cohorts update research --no-quota`,
    )
    .action(async (name: string, flags: CohortFlags, cmd: Command) => {
      const change = parseCohortFlags(name, flags, seen);
      if (!changesCohort(change)) {
        throw new UsageError(
          'nothing to change; give --parent, --no-parent, --description, --quota, --borrowing-limit, --lending-limit or --no-quota',
        );
      }
      await ctx.withHub(cmd, async (hub) => {
        const current = present(
          (await hub.call((c) => c.inventory.getCohort({ name }), { idempotent: true })).cohort,
          'cohort',
        );
        const cohort = cohortOf(name, change, current);
        const updated = present(
          (
            await hub.call((c) => c.inventory.updateCohort({ cohort }), {
              // It replaces the cohort's settings with the same ones each time.
              idempotent: true,
            })
          ).cohort,
          'cohort',
        );
        ctx.show(
          cmd,
          () => `cohort ${updated.name} updated\n`,
          () => Cohort.toJSON(updated),
        );
      });
    });

  cohorts
    .command('delete')
    .description('delete a cohort; its queues and child cohorts then name a cohort with no quota')
    .argument('<name>', 'cohort name')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  muster cohorts delete scratch')
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        await hub.call((c) => c.inventory.deleteCohort({ name }), { idempotent: false });
        ctx.show(
          cmd,
          () => `cohort ${name} deleted\n`,
          () => ({}),
        );
      });
    });
}
