// What each tool answers: a few lines an assistant can quote, and the same facts as JSON (the
// proto messages' own JSON form, with names and states spelt as the CLI spells them).
import {
  agentStateToJSON,
  Cluster,
  Cohort,
  type ExplainJobResponse,
  Job,
  jobStateFromJSON,
  jobStateToJSON,
  JobState,
  Queue,
  type ListJobsResponse,
  type ResourceList,
} from '@muster/api';

/** One tool's answer: `text` for the conversation, `structured` for programs. */
export interface ToolAnswer {
  text: string;
  structured: Record<string, unknown>;
}

/** The states a tool takes and shows, as the CLI writes them. */
export const JOB_STATE_NAMES = [
  'queued',
  'reserved',
  'dispatched',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type JobStateName = (typeof JOB_STATE_NAMES)[number];

export function jobStateOf(name: JobStateName): JobState {
  return jobStateFromJSON(`JOB_STATE_${name.toUpperCase()}`);
}

export function jobStateName(state: JobState): string {
  return jobStateToJSON(state)
    .replace(/^JOB_STATE_/, '')
    .toLowerCase();
}

function agentStateName(cluster: Cluster): string {
  return agentStateToJSON(cluster.agentState)
    .replace(/^AGENT_STATE_/, '')
    .toLowerCase()
    .replace(/_/g, ' ');
}

const time = (d: Date | undefined): string => (d ? d.toISOString() : '-');

function quantities(list: Record<string, string> | undefined): string {
  const entries = Object.entries(list ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}

function asRecord(json: unknown): Record<string, unknown> {
  return json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
}

/** A job as JSON, its state as a word ("queued") rather than the enum's name. */
function jobJson(job: Job): Record<string, unknown> {
  return { ...asRecord(Job.toJSON(job)), state: jobStateName(job.state) };
}

/** A job's line in a listing, without its spec: what an assistant scans a queue for. */
function jobSummaryJson(job: Job): Record<string, unknown> {
  return {
    id: job.id,
    name: job.spec?.name ?? '',
    queue: job.spec?.queue ?? '',
    priority: job.spec?.priority ?? 0,
    state: jobStateName(job.state),
    reason: job.reason,
    message: job.message,
    cluster: job.cluster,
    members: job.members ?? null,
    createdAt: job.createdAt?.toISOString() ?? null,
    updatedAt: job.updatedAt?.toISOString() ?? null,
  };
}

function jobLine(job: Job): string {
  const members = job.members ? ` members ${job.members.running}/${job.members.total} running` : '';
  const where = job.cluster ? ` on ${job.cluster}` : '';
  const why = job.reason ? ` (${job.reason}${job.message ? `: ${job.message}` : ''})` : '';
  return `${job.id}  ${job.spec?.name ?? ''}  queue ${job.spec?.queue ?? ''}  ${jobStateName(job.state)}${where}${members}${why}`;
}

export function presentJobList(res: ListJobsResponse): ToolAnswer {
  const lines = res.jobs.map(jobLine);
  const more = res.nextPageToken
    ? `\nmore jobs: call list_jobs again with page_token "${res.nextPageToken}"`
    : '';
  return {
    text: `${res.jobs.length} job(s)${lines.length ? `:\n${lines.join('\n')}` : ''}${more}`,
    structured: { jobs: res.jobs.map(jobSummaryJson), nextPageToken: res.nextPageToken },
  };
}

function requestsOf(podTemplateJson: string): string {
  try {
    const template = JSON.parse(podTemplateJson) as {
      spec?: { containers?: { resources?: { requests?: Record<string, string> } }[] };
    };
    const containers = template.spec?.containers ?? [];
    return containers.map((c) => quantities(c.resources?.requests)).join(' + ') || '-';
  } catch {
    return '(pod template is not JSON)';
  }
}

export function presentJob(job: Job): ToolAnswer {
  const spec = job.spec;
  const lines = [
    jobLine(job),
    `priority ${spec?.priority ?? 0}, restarts ${job.restarts} of ${spec?.maxRestarts ?? 0}, dispatch generation ${job.dispatchGeneration}`,
    `created ${time(job.createdAt)}, updated ${time(job.updatedAt)}`,
    ...(spec?.podSets ?? []).map(
      (p) => `pod set ${p.name} × ${p.count}, each requesting ${requestsOf(p.podTemplateJson)}`,
    ),
  ];
  return { text: lines.join('\n'), structured: { job: jobJson(job) } };
}

export function presentExplanation(res: ExplainJobResponse): ToolAnswer {
  const job = res.job;
  const fits = res.clusters.map(
    (c) =>
      `- ${c.cluster}: ${c.fits ? 'fits' : 'does not fit'}${c.reasonCode ? ` [${c.reasonCode}]` : ''}${c.message ? ` ${c.message}` : ''}`,
  );
  const lines = [
    ...(job ? [jobLine(job)] : []),
    res.summary || '(no summary)',
    ...(fits.length ? ['per cluster:', ...fits] : ['no cluster was considered']),
    `evaluated ${time(res.evaluatedAt)}`,
  ];
  return {
    text: lines.join('\n'),
    structured: {
      job: job ? jobSummaryJson(job) : null,
      summary: res.summary,
      // Every field spelt out: the proto's JSON form would leave out `fits: false`.
      clusters: res.clusters.map((c) => ({ ...c })),
      evaluatedAt: res.evaluatedAt?.toISOString() ?? null,
    },
  };
}

function gpuNames(list: ResourceList | undefined): string[] {
  return Object.keys(list?.quantities ?? {}).filter((k) => /(^|[./])gpu$/.test(k));
}

/** Access providers carry the cluster's API server and CA: nothing an assistant needs to see. */
function clusterJson(cluster: Cluster): Record<string, unknown> {
  const json = asRecord(Cluster.toJSON({ ...cluster, accessProviders: [] }));
  return { ...json, agentState: agentStateName(cluster) };
}

function clusterLines(c: Cluster, detail: boolean): string[] {
  const cap = c.capacity;
  const flags = [c.cordoned && 'cordoned', c.readOnly && 'read-only', c.drain && 'draining']
    .filter(Boolean)
    .join(', ');
  const head = `${c.name}  agent ${agentStateName(c)}${c.lastHeartbeatTime ? ` (last heartbeat ${time(c.lastHeartbeatTime)})` : ''}  nodes ${cap?.readyNodeCount ?? 0}/${cap?.nodeCount ?? 0} ready${flags ? `  ${flags}` : ''}`;
  const gpus = gpuNames(cap?.allocatable).map(
    (g) =>
      `${g} free ${cap?.free?.quantities[g] ?? '0'} of ${cap?.allocatable?.quantities[g] ?? '0'}`,
  );
  const devices = (cap?.devices ?? []).map((d) => `${d.deviceClass} ${d.free} of ${d.total} free`);
  const lines = [head];
  if (gpus.length) lines.push(`  GPUs: ${gpus.join('; ')}`);
  if (devices.length) lines.push(`  devices: ${devices.join('; ')}`);
  if (detail) {
    lines.push(`  allocatable: ${quantities(cap?.allocatable?.quantities)}`);
    lines.push(`  free: ${quantities(cap?.free?.quantities)}`);
    lines.push(`  capacity observed ${time(cap?.observedAt)}`);
    lines.push(`  topology levels: ${c.topologyLevels.join(' > ') || '-'}`);
    if (c.kubernetesVersion || c.agentVersion) {
      lines.push(`  Kubernetes ${c.kubernetesVersion || '-'}, agent ${c.agentVersion || '-'}`);
    }
    if (c.drain) {
      lines.push(
        `  drain since ${time(c.drain.since)}: ${c.drain.gangsLeft} gang(s) left, grace ${c.drain.graceSeconds}s${c.drain.reason ? `, ${c.drain.reason}` : ''}`,
      );
    }
    for (const cond of c.conditions) {
      lines.push(
        `  condition ${cond.type}=${cond.status}${cond.reason ? ` (${cond.reason})` : ''}${cond.message ? `: ${cond.message}` : ''}`,
      );
    }
  }
  return lines;
}

export function presentClusterList(clusters: Cluster[]): ToolAnswer {
  return {
    text: `${clusters.length} cluster(s)${clusters.length ? ':\n' : ''}${clusters.flatMap((c) => clusterLines(c, false)).join('\n')}`,
    structured: { clusters: clusters.map(clusterJson) },
  };
}

export function presentCluster(cluster: Cluster): ToolAnswer {
  return {
    text: clusterLines(cluster, true).join('\n'),
    structured: { cluster: clusterJson(cluster) },
  };
}

function queueLines(q: Queue, detail: boolean): string[] {
  const quota = q.quota;
  const usage = q.usage;
  const lines = [
    `${q.name}  weight ${q.weight}  cohort ${quota?.cohort || '-'}  fair share ${(usage?.fairShare ?? 0).toFixed(2)}`,
    `  quota: ${quantities(quota?.nominal)}; used: ${quantities(usage?.used)}; available: ${quantities(usage?.available)}`,
  ];
  if (detail) {
    if (q.description) lines.push(`  ${q.description}`);
    lines.push(`  borrowed: ${quantities(usage?.borrowed)}`);
    if (quota) {
      lines.push(
        `  borrowing limit: ${quantities(quota.borrowingLimit)}; lending limit: ${quantities(quota.lendingLimit)}`,
      );
    }
    if (q.budget) {
      lines.push(
        `  budget: ${q.budget.hours} ${q.budget.resource || 'nvidia.com/gpu'}-hours per period, used ${usage?.budgetUsedHours ?? 0}, left ${usage?.budgetLeftHours ?? 0}`,
      );
    }
    if (q.maxPriority !== undefined) lines.push(`  max priority ${q.maxPriority}`);
    lines.push(`  namespaces: ${q.allowedNamespaces.join(', ') || 'default'}`);
  }
  return lines;
}

const queueJson = (q: Queue) => asRecord(Queue.toJSON(q));

export function presentQueueList(queues: Queue[]): ToolAnswer {
  return {
    text: `${queues.length} queue(s)${queues.length ? ':\n' : ''}${queues.flatMap((q) => queueLines(q, false)).join('\n')}`,
    structured: { queues: queues.map(queueJson) },
  };
}

export function presentQueue(queue: Queue): ToolAnswer {
  return { text: queueLines(queue, true).join('\n'), structured: { queue: queueJson(queue) } };
}

export function presentCohortList(cohorts: Cohort[]): ToolAnswer {
  const lines = cohorts.map(
    (c) =>
      `${c.name}  parent ${c.parent || '-'}  queues ${c.queues.join(', ') || '-'}  children ${c.children.join(', ') || '-'}  quota ${quantities(c.quota?.nominal)}`,
  );
  return {
    text: `${cohorts.length} cohort(s)${lines.length ? `:\n${lines.join('\n')}` : ''}`,
    structured: { cohorts: cohorts.map((c) => asRecord(Cohort.toJSON(c))) },
  };
}
