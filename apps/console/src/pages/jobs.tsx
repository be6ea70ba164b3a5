import { useEffect, useRef, useState } from 'preact/hooks';
import { followEvents, getJson } from '../api';
import { age, stateName } from '../format';
import { navigate } from '../router';
import type { Job, JobEvent } from '../types';

/** A job as the list shows it, with what its latest event said applied. */
function applyEvent(job: Job, e: JobEvent): Job {
  return {
    ...job,
    state: e.state ?? job.state,
    reason: e.reason ?? job.reason,
    message: e.message ?? job.message,
    cluster: e.cluster ?? job.cluster,
    members: e.members ?? job.members,
    updatedAt: e.time ?? job.updatedAt,
  };
}

export function StateBadge({ state }: { state: Job['state'] }) {
  const name = stateName(state);
  return <span class={`state state-${name.toLowerCase()}`}>{name}</span>;
}

/** The newest jobs the caller may see, kept current by the hub's event stream. */
export function JobsPage() {
  const [jobs, setJobs] = useState<Job[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [live, setLive] = useState(false);
  const [, tick] = useState(0);
  const known = useRef(new Set<string>());

  useEffect(() => {
    const abort = new AbortController();
    let reloading: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      getJson<{ jobs?: Job[] }>('jobs?pageSize=200', abort.signal).then(
        (page) => {
          const list = page.jobs ?? [];
          known.current = new Set(list.map((j) => j.id));
          setJobs(list);
          setError(undefined);
        },
        (err: unknown) => {
          if (!abort.signal.aborted) setError(String(err));
        },
      );
    // A job first seen in an event is read whole once events pause: the list shows its spec.
    const reloadSoon = () => {
      clearTimeout(reloading);
      reloading = setTimeout(() => void load(), 300);
    };
    void followEvents<JobEvent>(
      'events',
      (e) => {
        if (!e.jobId) return;
        if (!known.current.has(e.jobId)) reloadSoon();
        else setJobs((list) => list?.map((j) => (j.id === e.jobId ? applyEvent(j, e) : j)));
      },
      () => {
        setLive(true);
        // (Re)connected: what happened while not listening is read from the list.
        void load();
      },
      abort.signal,
    ).finally(() => setLive(false));
    const ages = setInterval(() => tick((n) => n + 1), 5000);
    return () => {
      abort.abort();
      clearTimeout(reloading);
      clearInterval(ages);
    };
  }, []);

  return (
    <section data-testid="jobs-page">
      <h2>
        Jobs{' '}
        <span class={live ? 'live on' : 'live'} data-testid="live">
          {live ? '● live' : '○ connecting'}
        </span>
      </h2>
      {error && <p class="error">{error}</p>}
      {!jobs && !error && <p class="muted">Loading jobs…</p>}
      {jobs && jobs.length === 0 && <p class="muted">No jobs.</p>}
      {jobs && jobs.length > 0 && (
        <table data-testid="jobs">
          <thead>
            <tr>
              <th>Job</th>
              <th>State</th>
              <th>Queue</th>
              <th>Cluster</th>
              <th>Members (running / bound / total)</th>
              <th>Age</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.id} data-job={j.id} data-name={j.spec?.name}>
                <td>
                  <a
                    href={`/console/jobs/${j.id}`}
                    onClick={(e) => {
                      e.preventDefault();
                      navigate(`jobs/${j.id}`);
                    }}
                  >
                    {j.spec?.name ?? j.id}
                  </a>
                  <div class="muted small mono">{j.id.slice(0, 8)}</div>
                </td>
                <td data-testid="state">
                  <StateBadge state={j.state} />
                </td>
                <td>{j.spec?.queue}</td>
                <td>{j.cluster || '—'}</td>
                <td>
                  {j.members?.running ?? 0} / {j.members?.bound ?? 0} / {j.members?.total ?? 0}
                </td>
                <td>{age(j.createdAt)}</td>
                <td class="small">{j.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
