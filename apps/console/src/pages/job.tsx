import { useEffect, useState } from 'preact/hooks';
import { followEvents, getJson } from '../api';
import { age, resources } from '../format';
import { StateBadge } from './jobs';
import type { Explanation, Job, JobEvent, PodSet } from '../types';

/** What each member of a pod set asks for: its containers' requests, summed. */
function requestsOf(ps: PodSet): Record<string, string> {
  try {
    const template = JSON.parse(ps.podTemplateJson ?? '{}') as {
      spec?: { containers?: { resources?: { requests?: Record<string, string> } }[] };
    };
    const out: Record<string, string> = {};
    for (const c of template.spec?.containers ?? [])
      for (const [k, v] of Object.entries(c.resources?.requests ?? {}))
        out[k] = out[k] ? `${out[k]}+${v}` : v;
    return out;
  } catch {
    return {};
  }
}

/** One job: its state and members, its pod sets, and while it waits, why (explain). */
export function JobPage({ id }: { id: string }) {
  const [job, setJob] = useState<Job | undefined>(undefined);
  const [why, setWhy] = useState<Explanation | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    const abort = new AbortController();
    const load = async () => {
      try {
        const j = await getJson<Job>(`jobs/${encodeURIComponent(id)}`, abort.signal);
        setJob(j);
        setError(undefined);
        setWhy(
          j.state === 'JOB_STATE_QUEUED'
            ? await getJson<Explanation>(`jobs/${encodeURIComponent(id)}/explain`, abort.signal)
            : undefined,
        );
      } catch (err) {
        if (!abort.signal.aborted) setError(String(err));
      }
    };
    void followEvents<JobEvent>(
      `jobs/${encodeURIComponent(id)}/events`,
      () => void load(),
      () => void load(),
      abort.signal,
      true,
    );
    // Explain changes with each scheduling cycle, not only with events.
    const timer = setInterval(() => void load(), 15_000);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [id]);

  if (!job) return <p class="muted">{error ?? 'Loading the job…'}</p>;
  return (
    <section data-testid="job-page">
      <h2>
        {job.spec?.name} <StateBadge state={job.state} />
      </h2>
      {error && <p class="error">{error}</p>}
      <dl class="facts">
        <dt>Id</dt>
        <dd class="mono">{job.id}</dd>
        <dt>Queue</dt>
        <dd>{job.spec?.queue}</dd>
        <dt>Cluster</dt>
        <dd>{job.cluster || '—'}</dd>
        <dt>Reason</dt>
        <dd>
          {job.reason}
          {job.message ? `: ${job.message}` : ''}
        </dd>
        <dt>Members</dt>
        <dd data-testid="members">
          {job.members?.running ?? 0} running, {job.members?.pending ?? 0} pending,{' '}
          {job.members?.succeeded ?? 0} succeeded, {job.members?.failed ?? 0} failed of{' '}
          {job.members?.total ?? 0}
        </dd>
        <dt>Priority</dt>
        <dd>{job.spec?.priority ?? 0}</dd>
        <dt>Submitted</dt>
        <dd>{job.createdAt ? `${age(job.createdAt)} ago (${job.createdAt})` : ''}</dd>
        <dt>Restarts</dt>
        <dd>{job.restarts ?? 0}</dd>
      </dl>
      <h3>Pod sets</h3>
      <table data-testid="pod-sets">
        <thead>
          <tr>
            <th>Pod set</th>
            <th>Members</th>
            <th>Each asks for</th>
            <th>Topology</th>
          </tr>
        </thead>
        <tbody>
          {(job.spec?.podSets ?? []).map((ps) => (
            <tr key={ps.name}>
              <td>{ps.name}</td>
              <td>{ps.count ?? 0}</td>
              <td class="small">{resources(requestsOf(ps))}</td>
              <td class="small">
                {ps.topology?.level
                  ? `${(ps.topology.mode ?? '').replace('TOPOLOGY_MODE_', '').toLowerCase()} ${ps.topology.level}`
                  : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {why && (
        <div class="panel" data-testid="explain">
          <h3>Why it waits</h3>
          <p>{why.summary}</p>
          <ul>
            {(why.clusters ?? []).map((c) => (
              <li key={c.cluster}>
                <strong>{c.cluster}</strong>: {c.fits ? 'fits' : 'does not fit'} — {c.reasonCode}{' '}
                {c.message}
              </li>
            ))}
          </ul>
          {why.evaluatedAt && <p class="muted small">evaluated {age(why.evaluatedAt)} ago</p>}
        </div>
      )}
    </section>
  );
}
