// muster report utilisation: allocated against capacity device-hours per cluster or queue.
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  GetUtilisationResponse,
  UtilisationBucket,
  UtilisationGroupBy,
  type GetUtilisationRequest,
} from '@muster/api';
import { renderStructured } from '../output/output-format';
import { renderUtilisationCsv, renderUtilisationTable } from '../output/utilisation-views';
import type { CliContext } from './cli-context';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * A time: RFC 3339 ("2026-12-01T00:00:00Z", or a date "2026-12-01", taken as UTC midnight) or an
 * age before now ("7d", "36h", "90m", "2w"). Kept as a function of now, read when the command runs.
 */
export function timeFlag(value: string): (now: Date) => Date {
  const text = value.trim();
  const age = /^(\d+)([smhdw])$/.exec(text);
  if (age) {
    const seconds = Number(age[1]) * UNIT_SECONDS[age[2]!]!;
    return (now) => new Date(now.getTime() - seconds * 1000);
  }
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(t))
    throw new InvalidArgumentError(
      'must be an RFC 3339 time or date, or an age such as 7d or 12h.',
    );
  return () => new Date(t);
}

interface UtilisationFlags {
  since: (now: Date) => Date;
  until?: (now: Date) => Date;
  by: 'cluster' | 'queue';
  resource: string;
  bucket: 'hour' | 'day';
  output: 'table' | 'csv' | 'json' | 'yaml';
}

export function registerReportCommand(program: Command, ctx: CliContext): void {
  const report = program
    .command('report')
    .description('reports for platform teams: how much of the fleet gangs used');

  report
    .command('utilisation')
    .alias('utilization')
    .description(
      'device-hours gangs held per cluster or queue against what the clusters had, with a chart per group',
    )
    .requiredOption(
      '--since <time>',
      'start: an age such as 7d or 12h, or an RFC 3339 time',
      timeFlag,
    )
    .option('--until <time>', 'end, as --since (default: now)', timeFlag)
    .addOption(
      new Option('--by <group>', 'group by cluster or queue')
        .choices(['cluster', 'queue'])
        .default('cluster'),
    )
    .option(
      '--resource <name>',
      'resource, e.g. nvidia.com/gpu, cpu, or a DeviceClass quota key <class>.deviceclass.resource.k8s.io/devices',
      'nvidia.com/gpu',
    )
    .addOption(
      new Option('--bucket <size>', 'chart and CSV bucket')
        .choices(['hour', 'day'])
        .default('hour'),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format')
        .choices(['table', 'csv', 'json', 'yaml'])
        .default('table'),
    )
    .addHelpText(
      'after',
      `
Allocated device-hours count every second a gang held its devices (from its reservation to its
end); capacity counts the allocatable devices of a cluster's ready, schedulable nodes while its
agent was connected. Callers bound to queues (submitters) may report by queue only.

Examples:
  muster report utilisation --since 7d
  muster report utilisation --since 30d --by queue --bucket day
  muster report utilisation --since 2026-12-01 --until 2026-12-08 -o csv > gpu-hours.csv`,
    )
    .action(async (flags: UtilisationFlags, cmd: Command) => {
      const now = ctx.now();
      const request: GetUtilisationRequest = {
        since: flags.since(now),
        ...(flags.until ? { until: flags.until(now) } : {}),
        resource: flags.resource,
        groupBy:
          flags.by === 'queue'
            ? UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE
            : UtilisationGroupBy.UTILISATION_GROUP_BY_CLUSTER,
        bucket:
          flags.bucket === 'day'
            ? UtilisationBucket.UTILISATION_BUCKET_DAY
            : UtilisationBucket.UTILISATION_BUCKET_HOUR,
      };
      await ctx.withHub(cmd, async (hub) => {
        const response = await hub.call((c) => c.inventory.getUtilisation(request), {
          idempotent: true,
        });
        switch (flags.output) {
          case 'table':
            return ctx.print(renderUtilisationTable(response));
          case 'csv':
            return ctx.print(renderUtilisationCsv(response));
          case 'json':
          case 'yaml':
            return ctx.print(
              renderStructured(GetUtilisationResponse.toJSON(response), flags.output),
            );
        }
      });
    });
}
