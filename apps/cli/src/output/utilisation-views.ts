// `muster report utilisation`: a table of allocated against capacity device-hours per group, a
// chart of each group over the buckets, and CSV rows for spreadsheets.
import {
  UtilisationBucket,
  UtilisationGroupBy,
  type GetUtilisationResponse,
  type UtilisationFigures,
  type UtilisationGroup,
} from '@muster/api';
import { renderTable } from './table';

/**
 * Eight heights of one character cell. Hand-written: the maintained sparkline package (sparkly)
 * is ESM-only and the CLI is CommonJS, and the whole of it is this array and one division.
 */
const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;
/** Widest chart row; more buckets than this are merged, neighbours averaged. */
const MAX_CHART_WIDTH = 72;

function hours(h: number): string {
  return h >= 100 ? h.toFixed(0) : h >= 10 ? h.toFixed(1) : h.toFixed(2);
}

function percent(f: UtilisationFigures | undefined): string {
  return f?.ratio === undefined ? '-' : `${(f.ratio * 100).toFixed(1)}%`;
}

function byCluster(r: GetUtilisationResponse): boolean {
  return r.groupBy !== UtilisationGroupBy.UTILISATION_GROUP_BY_QUEUE;
}

/**
 * One row of blocks per value (0 to `max`): a space for nothing, ▁ for a little, █ for `max`.
 * Exported for its tests.
 */
export function sparkline(values: readonly number[], max: number): string {
  let merged = [...values];
  if (merged.length > MAX_CHART_WIDTH) {
    const per = Math.ceil(merged.length / MAX_CHART_WIDTH);
    merged = [];
    for (let i = 0; i < values.length; i += per) {
      const part = values.slice(i, i + per);
      merged.push(part.reduce((a, b) => a + b, 0) / part.length);
    }
  }
  return merged
    .map((v) => {
      if (!(v > 0) || !(max > 0)) return ' ';
      const i = Math.ceil((Math.min(v, max) / max) * BLOCKS.length) - 1;
      return BLOCKS[Math.max(0, i)];
    })
    .join('');
}

export function renderUtilisationTable(r: GetUtilisationResponse): string {
  const clusters = byCluster(r);
  const headers = clusters
    ? ['CLUSTER', 'ALLOCATED (h)', 'CAPACITY (h)', 'UTILISATION']
    : ['QUEUE', 'ALLOCATED (h)', 'SHARE'];
  const all = r.total?.total?.allocatedHours ?? 0;
  const row = (g: UtilisationGroup): string[] => {
    const f = g.total ?? { allocatedHours: 0 };
    return clusters
      ? [g.name, hours(f.allocatedHours), hours(f.capacityHours ?? 0), percent(f)]
      : [
          g.name,
          hours(f.allocatedHours),
          all > 0 ? `${((f.allocatedHours / all) * 100).toFixed(1)}%` : '-',
        ];
  };
  const rows = r.groups.map(row);
  if (r.total) rows.push(row({ ...r.total, name: 'TOTAL' }));
  const resource = `${r.resource} from ${r.since?.toISOString() ?? '?'} to ${r.until?.toISOString() ?? '?'}`;
  let out = `${resource}\n${renderTable(headers, rows)}`;
  if (r.groups.length === 0) return out;
  // Clusters are charted by utilisation (█ = all allocated); queues by device-hours, against
  // the busiest bucket of any queue.
  const series = r.groups.map((g) =>
    g.buckets.map((b) => (clusters ? (b.figures?.ratio ?? 0) : (b.figures?.allocatedHours ?? 0))),
  );
  const max = clusters ? 1 : Math.max(0, ...series.flat());
  const width = Math.max(...r.groups.map((g) => g.name.length));
  const first = r.groups[0]!.buckets[0]?.start;
  const last = r.groups[0]!.buckets[r.groups[0]!.buckets.length - 1]?.start;
  out += `\n${clusters ? 'utilisation' : 'device-hours'} per ${r.bucket === UtilisationBucket.UTILISATION_BUCKET_DAY ? 'day' : 'hour'}, ${first?.toISOString() ?? ''} … ${last?.toISOString() ?? ''}\n`;
  r.groups.forEach((g, i) => {
    out += `${g.name.padEnd(width)}  │${sparkline(series[i]!, max)}│\n`;
  });
  return out;
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One line per group and bucket, the total's last: group,bucket_start,allocated,capacity,ratio. */
export function renderUtilisationCsv(r: GetUtilisationResponse): string {
  const lines = ['group,bucket_start,allocated_hours,capacity_hours,ratio'];
  const groups = r.total ? [...r.groups, r.total] : r.groups;
  for (const g of groups)
    for (const b of g.buckets) {
      const f = b.figures ?? { allocatedHours: 0 };
      lines.push(
        [
          csvCell(g.name),
          b.start?.toISOString() ?? '',
          String(f.allocatedHours),
          f.capacityHours === undefined ? '' : String(f.capacityHours),
          f.ratio === undefined ? '' : String(f.ratio),
        ].join(','),
      );
    }
  return `${lines.join('\n')}\n`;
}
