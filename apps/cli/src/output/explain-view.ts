// Why a job is not placed: a summary line, then one row per cluster.
import type { ExplainJobResponse } from '@muster/api';
import { stateName } from './job-states';
import { renderTable } from './table';
import { isoTime } from './time-format';

export function renderExplanation(e: ExplainJobResponse): string {
  const job = e.job;
  const title = job
    ? `Job ${job.id} (${job.spec?.name ?? '?'}) is ${stateName(job.state)}: ${e.summary}`
    : e.summary;
  const head = `${title}\nEvaluated at ${isoTime(e.evaluatedAt)}\n`;
  if (e.clusters.length === 0) return `${head}No cluster was considered.\n`;
  const table = renderTable(
    ['CLUSTER', 'FITS', 'REASON', 'MESSAGE'],
    e.clusters.map((c) => [
      c.cluster,
      c.fits ? 'yes' : 'no',
      c.reasonCode || '-',
      c.message || '-',
    ]),
  );
  return `${head}\n${table}`;
}
