// muster queues list|get|create|update|delete
import type { Command } from 'commander';
import { ListQueuesResponse, Queue } from '@muster/api';
import { UsageError } from '../errors';
import { present } from '../hub/present';
import { renderQueueDetails, renderQueueTable } from '../output/queue-views';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { collect, integerFlag } from './flag-parsers';
import {
  changesQueue,
  collectList,
  mergeQuota,
  parseQuotaFlags,
  queueUpdate,
  type QueueSettingsFlags,
  type QuotaFlags,
  type QuotaFlagsSeen,
} from './queue-quota';

type CreateFlags = QueueSettingsFlags & QuotaFlags;

const QUOTA_HELP = `
A quota limits what the queue's admitted gangs hold at once, across the fleet: at most their
nominal quota (--quota) plus what they borrow from the unused, lendable quota of the queues of
their cohort (--cohort). A resource the quota does not name is not limited; a gang that does
not fit stays Queued, and \`muster explain\` names the quota. RESOURCE=QUANTITY lists are
repeatable or comma-separated; quantities are Kubernetes quantities (64, 500m, 2Ti).`;

/** The description, weight and namespace options, shared by create and update. */
function addSettingsOptions(cmd: Command, namespaceHelp: string): Command {
  return cmd
    .option('--description <text>', 'what the queue is for')
    .option(
      '--weight <n>',
      'share of capacity relative to other queues (1-1000)',
      integerFlag(1, 1000),
    )
    .option('--allowed-namespace <namespace>', namespaceHelp, collect);
}

/** The quota options, shared by create and update. */
function addQuotaOptions(cmd: Command): Command {
  return cmd
    .option(
      '--quota <resource=quantity,...>',
      'nominal quota, e.g. nvidia.com/gpu=64,cpu=512 (repeatable; a resource not named is not limited)',
      collectList,
    )
    .option(
      '--cohort <name>',
      'cohort whose queues lend each other their unused quota (a DNS-1123 label; needs a quota)',
    )
    .option(
      '--borrowing-limit <resource=quantity,...>',
      'most the queue borrows beyond its quota, per resource (repeatable; default: as much as the cohort lends)',
      collectList,
    )
    .option(
      '--lending-limit <resource=quantity,...>',
      'most of its unused quota the queue lends, per resource (repeatable; default: all of it)',
      collectList,
    );
}

export function registerQueuesCommand(program: Command, ctx: CliContext): void {
  const queues = program
    .command('queues')
    .alias('queue')
    .description('list, create, update and delete queues')
    .addHelpText(
      'after',
      `
Examples:
  muster queues create default
  muster queues create research --weight 2 --allowed-namespace ml --allowed-namespace default
  muster queues create nlp --quota nvidia.com/gpu=16 --cohort research
  muster queues update nlp --quota nvidia.com/gpu=32
  muster queues list`,
    );

  queues
    .command('list')
    .alias('ls')
    .description('list queues')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  muster queues list\n  muster queues list -o json')
    .action(async (_flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call((c) => c.inventory.listQueues({}), { idempotent: true });
        if (ctx.output(cmd) === 'table' && response.queues.length === 0) {
          ctx.note('No queues; create one with `muster queues create default`.');
          return;
        }
        ctx.show(
          cmd,
          () => renderQueueTable(response.queues, ctx.now()),
          () => ListQueuesResponse.toJSON(response),
        );
      });
    });

  queues
    .command('get')
    .description('show one queue: settings, quota, cohort, limits and what its gangs hold')
    .argument('<name>', 'queue name')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  muster queues get research\n  muster queues get research -o yaml',
    )
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const queue = present(
          (await hub.call((c) => c.inventory.getQueue({ name }), { idempotent: true })).queue,
          'queue',
        );
        ctx.show(
          cmd,
          () => renderQueueDetails(queue, ctx.now()),
          () => Queue.toJSON(queue),
        );
      });
    });

  const create = queues
    .command('create')
    .description('create a queue, optionally with a quota')
    .argument('<name>', 'queue name (a DNS-1123 label)');
  addSettingsOptions(
    create,
    'namespace jobs of this queue may use in worker clusters (repeatable; default: only "default")',
  );
  addQuotaOptions(create)
    .addOption(outputOption())
    .addHelpText(
      'after',
      `${QUOTA_HELP}

Examples:
  muster queues create default
  muster queues create research --description "NLP team" --weight 2 --allowed-namespace ml
  muster queues create nlp --quota nvidia.com/gpu=16 --cohort research --borrowing-limit nvidia.com/gpu=8
  muster queues create vision --quota nvidia.com/gpu=8,cpu=256 --cohort research --lending-limit nvidia.com/gpu=4`,
    )
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      const quota = mergeQuota(undefined, parseQuotaFlags(flags));
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call(
          (c) =>
            c.inventory.createQueue({
              queue: {
                name,
                description: flags.description ?? '',
                weight: flags.weight ?? 0,
                allowedNamespaces: flags.allowedNamespace ?? [],
                ...(quota !== undefined ? { quota } : {}),
              },
            }),
          { idempotent: false },
        );
        const queue = present(response.queue, 'queue');
        ctx.show(
          cmd,
          () => `queue ${queue.name} created\n`,
          () => Queue.toJSON(queue),
        );
      });
    });

  // --no-quota sets the value --quota does (to false), so each is noted as commander reads it:
  // given together, in either order, they are refused.
  const seen: QuotaFlagsSeen = {};
  const update = queues
    .command('update')
    .description("change a queue's description, weight, namespaces or quota (the rest stays)")
    .argument('<name>', 'queue name');
  addSettingsOptions(
    update,
    'namespace jobs of this queue may use (repeatable; replaces the list)',
  );
  addQuotaOptions(update)
    .option('--no-quota', 'remove the quota: the queue is not limited')
    .on('option:quota', () => (seen.quota = true))
    .on('option:no-quota', () => (seen.noQuota = true))
    .addOption(outputOption())
    .addHelpText(
      'after',
      `${QUOTA_HELP}

The hub's queue is read first; each flag given replaces that part (a list flag the whole
list), the rest stays. \`--cohort ""\` leaves the cohort (and its limits); \`--borrowing-limit ""\`
and \`--lending-limit ""\` remove those limits. A limit on a resource the new --quota does not
name is dropped.

Examples:
  muster queues update nlp --quota nvidia.com/gpu=32
  muster queues update nlp --cohort research --borrowing-limit nvidia.com/gpu=8
  muster queues update nlp --weight 3 --description "NLP team"
  muster queues update scratch --no-quota`,
    )
    .action(async (name: string, flags: QueueSettingsFlags & QuotaFlags, cmd: Command) => {
      const change = parseQuotaFlags(flags, seen);
      if (!changesQueue(flags, change)) {
        throw new UsageError(
          'nothing to change; give --description, --weight, --allowed-namespace, --quota, --cohort, --borrowing-limit, --lending-limit or --no-quota',
        );
      }
      await ctx.withHub(cmd, async (hub) => {
        const current = present(
          (await hub.call((c) => c.inventory.getQueue({ name }), { idempotent: true })).queue,
          'queue',
        );
        const queue = queueUpdate(current, flags, change);
        const response = await hub.call((c) => c.inventory.updateQueue({ queue }), {
          // It replaces the queue's settings with the same ones each time.
          idempotent: true,
        });
        const updated = present(response.queue, 'queue');
        ctx.show(
          cmd,
          () => `queue ${updated.name} updated\n`,
          () => Queue.toJSON(updated),
        );
      });
    });

  queues
    .command('delete')
    .description('delete a queue without unfinished jobs')
    .argument('<name>', 'queue name')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  muster queues delete scratch')
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        await hub.call((c) => c.inventory.deleteQueue({ name }), { idempotent: false });
        ctx.show(
          cmd,
          () => `queue ${name} deleted\n`,
          () => ({}),
        );
      });
    });
}
