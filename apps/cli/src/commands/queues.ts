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
  checkMaxPriorityFlags,
  collectList,
  mergeQuota,
  parseQuotaFlags,
  queueUpdate,
  type MaxPriorityFlagsSeen,
  type QueueSettingsFlags,
  type QuotaFlags,
  type QuotaFlagsSeen,
} from './queue-quota';
import { parseBudgetFlags, type BudgetFlags, type BudgetFlagsSeen } from './queue-budget';
import { preemptionOf, type PreemptionFlags } from './queue-preemption';

type CreateFlags = QueueSettingsFlags & QuotaFlags & BudgetFlags & PreemptionFlags;

const QUOTA_HELP = `
A quota limits what the queue's admitted gangs hold at once, across the fleet: at most their
nominal quota (--quota) plus what they borrow from the unused, lendable quota of the queues of
their cohort (--cohort). A resource the quota does not name is not limited; a gang that does
not fit stays Queued, and \`muster explain\` names the quota. RESOURCE=QUANTITY lists are
repeatable or comma-separated; quantities are Kubernetes quantities (64, 500m, 2Ti).

A budget (--budget) caps the device-hours the queue's gangs use per day, week or month (from
00:00 UTC; weeks from Monday, months from the 1st), counted while they hold the devices. Once it
is spent, running gangs finish, new ones wait for the next period, and \`muster explain\` says so.

Preemption (--preempt-within-queue, --reclaim-within-cohort) lets a waiting gang take the place
of the fewest gangs of one cluster: the queue's own lower-priority gangs, or gangs of other
queues of its cohort that hold quota it lent. Each victim gets an eviction notice and its grace
period, then is deleted and requeued keeping its place (docs/preemption.md).

--max-priority bounds the priority the queue's jobs may ask for (with --priority or a priority
class); the hub refuses a submit above it.`;

/** The description, weight, namespace and max priority options, shared by create and update. */
function addSettingsOptions(cmd: Command, namespaceHelp: string): Command {
  return cmd
    .option('--description <text>', 'what the queue is for')
    .option(
      '--weight <n>',
      'share of capacity relative to other queues (1-1000)',
      integerFlag(1, 1000),
    )
    .option('--allowed-namespace <namespace>', namespaceHelp, collect)
    .option(
      '--max-priority <n>',
      "highest priority a job of the queue may have, its own or its priority class's (default: not bounded)",
      integerFlag(-2_147_483_648),
    );
}

/** The quota and budget options, shared by create and update. */
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
    )
    .option(
      '--budget <resource-hours=N/period>',
      'device-hours per day, week or month, e.g. gpu-hours=5000/month (gpu: nvidia.com/gpu) or amd.com/gpu-hours=100/week',
    )
    .option(
      '--preempt-within-queue <never|lower-priority>',
      "a waiting gang may preempt the queue's own gangs of lower priority (default never)",
    )
    .option(
      '--reclaim-within-cohort <never|lower-priority|any>',
      'a waiting gang its nominal quota admits may preempt gangs of other queues of the cohort that hold quota it lent (default never)',
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
  muster queues update nlp --budget gpu-hours=5000/month
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
    .description(
      'show one queue: settings, quota, cohort, limits, budget and what its gangs hold and used',
    )
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
  muster queues create vision --quota nvidia.com/gpu=8,cpu=256 --cohort research --lending-limit nvidia.com/gpu=4
  muster queues create nlp --budget gpu-hours=5000/month
  muster queues create urgent --max-priority 1000`,
    )
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      const quota = mergeQuota(undefined, parseQuotaFlags(flags));
      const budget = parseBudgetFlags(flags);
      const preemption = preemptionOf(flags);
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call(
          (c) =>
            c.inventory.createQueue({
              queue: {
                name,
                description: flags.description ?? '',
                weight: flags.weight ?? 0,
                allowedNamespaces: flags.allowedNamespace ?? [],
                ...(typeof flags.maxPriority === 'number'
                  ? { maxPriority: flags.maxPriority }
                  : {}),
                ...(quota !== undefined ? { quota } : {}),
                ...(budget ? { budget } : {}),
                ...(preemption ? { preemption } : {}),
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
  const budgetSeen: BudgetFlagsSeen = {};
  const maxPrioritySeen: MaxPriorityFlagsSeen = {};
  const update = queues
    .command('update')
    .description(
      "change a queue's description, weight, namespaces, max priority, quota or budget (the rest stays)",
    )
    .argument('<name>', 'queue name');
  addSettingsOptions(
    update,
    'namespace jobs of this queue may use (repeatable; replaces the list)',
  );
  addQuotaOptions(update)
    .option('--no-quota', 'remove the quota: the queue is not limited')
    .on('option:quota', () => (seen.quota = true))
    .on('option:no-quota', () => (seen.noQuota = true))
    .option('--no-budget', 'remove the budget: device-hours are not limited')
    .on('option:budget', () => (budgetSeen.budget = true))
    .on('option:no-budget', () => (budgetSeen.noBudget = true))
    .option('--no-max-priority', "remove the bound on its jobs' priority")
    .on('option:max-priority', () => (maxPrioritySeen.maxPriority = true))
    .on('option:no-max-priority', () => (maxPrioritySeen.noMaxPriority = true))
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
  muster queues update scratch --no-quota
  muster queues update nlp --budget gpu-hours=8000/month
  muster queues update nlp --no-budget
  muster queues update nlp --max-priority 1000
  muster queues update nlp --no-max-priority
  muster queues update nlp --preempt-within-queue lower-priority --reclaim-within-cohort any`,
    )
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      const change = parseQuotaFlags(flags, seen);
      const budget = parseBudgetFlags(flags, budgetSeen);
      checkMaxPriorityFlags(maxPrioritySeen);
      if (!changesQueue(flags, change, budget)) {
        throw new UsageError(
          'nothing to change; give --description, --weight, --allowed-namespace, --max-priority, --no-max-priority, --quota, --cohort, --borrowing-limit, --lending-limit, --no-quota, --budget, --no-budget, --preempt-within-queue or --reclaim-within-cohort',
        );
      }
      preemptionOf(flags); // a bad value is refused before the hub is asked
      await ctx.withHub(cmd, async (hub) => {
        const current = present(
          (await hub.call((c) => c.inventory.getQueue({ name }), { idempotent: true })).queue,
          'queue',
        );
        const queue = queueUpdate(current, flags, change, budget);
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
