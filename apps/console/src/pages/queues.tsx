import { usePoll } from '../use-poll';
import { GPU, resources } from '../format';
import { UsageChart } from '../usage-chart';
import type { Cohort, Queue, UsageHistory } from '../types';

/** The queues the caller may see: quota and usage, cohort, weight and fair share, budget. */
export function QueuesPage() {
  const queues = usePoll<{ queues?: Queue[] }>('queues');
  const cohorts = usePoll<{ cohorts?: Cohort[] }>('cohorts', 30_000);
  const usage = usePoll<UsageHistory>('usage', 60_000);
  if (!queues.data) return <p class="muted">{queues.error ?? 'Loading queues…'}</p>;
  const list = queues.data.queues ?? [];
  return (
    <section data-testid="queues-page">
      <h2>Queues</h2>
      {queues.error && <p class="error">{queues.error}</p>}
      <table data-testid="queues">
        <thead>
          <tr>
            <th>Queue</th>
            <th>Weight</th>
            <th>Fair share</th>
            <th>Cohort</th>
            <th>Quota (nominal)</th>
            <th>Used</th>
            <th>Borrowed</th>
            <th>Budget</th>
          </tr>
        </thead>
        <tbody>
          {list.map((q) => (
            <tr key={q.name} data-queue={q.name}>
              <td>
                <strong>{q.name}</strong>
                {q.description && <div class="muted small">{q.description}</div>}
              </td>
              <td>{q.weight ?? 1}</td>
              <td>{((q.usage?.fairShare ?? 0) * 100).toFixed(0)}%</td>
              <td>{q.quota?.cohort ?? '—'}</td>
              <td class="small">{q.quota ? resources(q.quota.nominal) : 'not limited'}</td>
              <td class="small">{resources(q.usage?.used)}</td>
              <td class="small">{resources(q.usage?.borrowed)}</td>
              <td class="small">
                {q.budget
                  ? `${(q.usage?.budgetUsedHours ?? 0).toFixed(1)} of ${q.budget.hours ?? 0} ${q.budget.resource || GPU}-hours (${(q.budget.period ?? '').replace('BUDGET_PERIOD_', '').toLowerCase()})`
                  : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {(cohorts.data?.cohorts ?? []).length > 0 && (
        <>
          <h3>Cohorts</h3>
          <table data-testid="cohorts">
            <thead>
              <tr>
                <th>Cohort</th>
                <th>Parent</th>
                <th>Queues</th>
                <th>Child cohorts</th>
              </tr>
            </thead>
            <tbody>
              {cohorts.data!.cohorts!.map((c) => (
                <tr key={c.name}>
                  <td>{c.name}</td>
                  <td>{c.parent || '—'}</td>
                  <td>{(c.queues ?? []).join(', ') || '—'}</td>
                  <td>{(c.children ?? []).join(', ') || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <div class="panel">
        <h3>GPUs held per queue, by hour (nvidia.com/gpu, mean over each hour)</h3>
        {usage.data && usage.data.queues.length > 0 ? (
          <UsageChart history={usage.data} resource={GPU} />
        ) : (
          <p class="muted">{usage.error ?? 'No usage booked yet.'}</p>
        )}
      </div>
    </section>
  );
}
