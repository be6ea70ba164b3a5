// Jobs for people: the list table and the one-job description of `muster get`.
import { checkPodTemplate } from '@muster/k8s';
import { OnClusterLost, TopologyMode, type Job, type PodSet } from '@muster/api';
import { jobDeviceConstraint, podSetClaimLines } from './claim-views';
import { stateName } from './job-states';
import { renderFields, renderTable } from './table';
import { age, isoTime } from './time-format';

export function membersRunning(job: Pick<Job, 'members'>): string {
  const m = job.members;
  return m ? `${m.running}/${m.total}` : '-';
}

export function renderJobTable(jobs: readonly Job[], now: Date): string {
  return renderTable(
    ['ID', 'NAME', 'QUEUE', 'STATE', 'RUNNING', 'CLUSTER', 'AGE'],
    jobs.map((j) => [
      j.id,
      j.spec?.name ?? '-',
      j.spec?.queue ?? '-',
      stateName(j.state),
      membersRunning(j),
      j.cluster || '-',
      age(j.createdAt, now),
    ]),
  );
}

export function renderJobDetails(job: Job, now: Date): string {
  const spec = job.spec;
  const m = job.members;
  const priorityClass: [string, string][] = spec?.priorityClass
    ? [['Priority class', spec.priorityClass]]
    : [];
  const fields: [string, string][] = [
    ['ID', job.id],
    ['Name', spec?.name ?? '-'],
    ['Queue', spec?.queue ?? '-'],
    ['Priority', String(spec?.priority ?? 0)],
    ...priorityClass,
    ['State', `${stateName(job.state)}${job.reason ? ` (${job.reason})` : ''}`],
    ['Message', job.message || '-'],
    ['Cluster', job.cluster || '-'],
    [
      'Members',
      m
        ? `${m.running}/${m.total} running, ${m.bound} bound, ${m.pending} pending, ${m.succeeded} succeeded, ${m.failed} failed`
        : '-',
    ],
    ['Restarts', `${job.restarts} of ${spec?.maxRestarts ?? 0}`],
    ['Namespace', spec?.namespace || 'default'],
    [
      'On cluster lost',
      spec?.onClusterLost === OnClusterLost.ON_CLUSTER_LOST_REQUEUE ? 'requeue' : 'wait',
    ],
    ['Labels', formatLabels(spec?.labels ?? {})],
    ['Created', `${isoTime(job.createdAt)} (${age(job.createdAt, now)} ago)`],
    ['Updated', `${isoTime(job.updatedAt)} (${age(job.updatedAt, now)} ago)`],
  ];
  if (job.clientRequestId) fields.push(['Client request', job.clientRequestId]);
  const devices = jobDeviceConstraint(spec);
  if (devices) fields.push(['Devices', devices]);
  const podSets = (spec?.podSets ?? []).flatMap((ps) => [
    `  ${podSetLine(ps)}`,
    ...podSetClaimLines(ps, spec?.resourceClaimTemplates ?? []).map((l) => `    ${l}`),
  ]);
  const groups = (spec?.podSetGroups ?? []).map(
    (g) => `  ${g.podSets.join(' + ')} share one ${shortLevel(g.level)}`,
  );
  return (
    renderFields(fields) +
    `Pod sets:\n${podSets.join('\n') || '  -'}\n` +
    (groups.length > 0 ? `Pod set groups:\n${groups.join('\n')}\n` : '')
  );
}

/** "workers × 16  (each cpu 2, memory 4Gi, nvidia.com/gpu 1; required topology-rack)". */
export function podSetLine(ps: PodSet): string {
  const parts: string[] = [];
  const requests = requestsOf(ps.podTemplateJson);
  if (requests) parts.push(`each ${requests}`);
  if (ps.topology && ps.topology.mode !== TopologyMode.TOPOLOGY_MODE_UNSPECIFIED) {
    const mode =
      ps.topology.mode === TopologyMode.TOPOLOGY_MODE_REQUIRED ? 'required' : 'preferred';
    parts.push(`${mode} ${ps.topology.level}`);
  }
  return `${ps.name} × ${ps.count}${parts.length > 0 ? `  (${parts.join('; ')})` : ''}`;
}

function requestsOf(templateJson: string): string | undefined {
  let template: unknown;
  try {
    template = JSON.parse(templateJson);
  } catch {
    return undefined;
  }
  const checked = checkPodTemplate(template);
  if (!checked.ok) return undefined;
  // Every member takes one pod slot; saying so on every line would be noise.
  const entries = Object.entries(checked.value.requests).filter(([k]) => k !== 'pods');
  return entries.length > 0 ? entries.map(([k, v]) => `${k} ${v}`).join(', ') : 'no requests';
}

export function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length > 0 ? entries.map(([k, v]) => `${k}=${v}`).join(', ') : '-';
}

/** "cloud.provider.com/topology-rack" → "topology-rack": the last path segment of a label key. */
export function shortLevel(level: string): string {
  return level.slice(level.lastIndexOf('/') + 1);
}
