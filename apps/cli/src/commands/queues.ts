// muster queues list|get|create|delete
import type { Command } from 'commander';
import { ListQueuesResponse, Queue } from '@muster/api';
import { present } from '../hub/present';
import { renderQueueTable } from '../output/queue-views';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';
import { collect, integerFlag } from './flag-parsers';

interface CreateFlags {
  description?: string;
  weight?: number;
  allowedNamespace?: string[];
}

export function registerQueuesCommand(program: Command, ctx: CliContext): void {
  const queues = program
    .command('queues')
    .alias('queue')
    .description('list, create and delete queues')
    .addHelpText(
      'after',
      `
Examples:
  muster queues create default
  muster queues create research --weight 2 --allowed-namespace ml --allowed-namespace default
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
    .description('show one queue')
    .argument('<name>', 'queue name')
    .addOption(outputOption())
    .addHelpText('after', '\nExamples:\n  muster queues get research -o yaml')
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const queue = present(
          (await hub.call((c) => c.inventory.getQueue({ name }), { idempotent: true })).queue,
          'queue',
        );
        ctx.show(
          cmd,
          () => renderQueueTable([queue], ctx.now()),
          () => Queue.toJSON(queue),
        );
      });
    });

  queues
    .command('create')
    .description('create a queue')
    .argument('<name>', 'queue name (a DNS-1123 label)')
    .option('--description <text>', 'what the queue is for')
    .option(
      '--weight <n>',
      'share of capacity relative to other queues (1-1000)',
      integerFlag(1, 1000),
    )
    .option(
      '--allowed-namespace <namespace>',
      'namespace jobs of this queue may use in worker clusters (repeatable; default: only "default")',
      collect,
    )
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  muster queues create default
  muster queues create research --description "NLP team" --weight 2 --allowed-namespace ml`,
    )
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call(
          (c) =>
            c.inventory.createQueue({
              queue: {
                name,
                description: flags.description ?? '',
                weight: flags.weight ?? 0,
                allowedNamespaces: flags.allowedNamespace ?? [],
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
