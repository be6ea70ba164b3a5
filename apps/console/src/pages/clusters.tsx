import { useMemo } from 'preact/hooks';
import { usePoll } from '../use-poll';
import { age, agentStateName, GPU, quantity, resources } from '../format';
import type { Cluster, Utilisation } from '../types';
import { HourlyChart } from '../usage-chart';

/** Allocated of capacity as a bar: the GPUs a cluster's pods hold now, of what its nodes have. */
function AllocationBar({ used, total, label }: { used: number; total: number; label: string }) {
  const pct = total > 0 ? Math.min(100, (used / total) * 100) : 0;
  return (
    <div class="bar-row">
      <span class="bar-label">{label}</span>
      <span class="bar">
        <span class="bar-fill" style={{ width: `${pct}%` }} />
      </span>
      <span class="bar-value">
        {used} / {total}
      </span>
    </div>
  );
}

function ready(c: Cluster): string {
  const cond = c.conditions?.find((x) => x.type === 'ControlPlaneHealthy' || x.type === 'Ready');
  return cond ? `${cond.type} ${cond.status}` : '';
}

/** Each cluster's GPUs allocated of capacity per hour over the last day, and the fleet's in all. */
function UtilisationPanel() {
  const { data, error } = usePoll<Utilisation>('utilisation?by=cluster', 60_000);
  const lines = useMemo(
    () =>
      (data?.groups ?? []).map((g) => ({
        label: g.name,
        // An hour without capacity (the cluster was not connected) has no ratio: no point.
        points: (g.buckets ?? []).flatMap((b) =>
          b.figures?.ratio === undefined
            ? []
            : [[Date.parse(b.start) / 1000, b.figures.ratio * 100] as [number, number]],
        ),
      })),
    [data],
  );
  if (!data) return <p class="muted">{error ?? 'Loading utilisation…'}</p>;
  const t = data.total?.total ?? {};
  return (
    <div class="panel">
      <h3>GPU utilisation, last day</h3>
      <p data-testid="utilisation-total">
        fleet: {((t.ratio ?? 0) * 100).toFixed(1)}% ({(t.allocatedHours ?? 0).toFixed(2)} of{' '}
        {(t.capacityHours ?? 0).toFixed(2)} GPU-hours allocated)
      </p>
      <HourlyChart lines={lines} yLabel="% allocated" testId="utilisation-chart" yMax={100} />
    </div>
  );
}

/** Every cluster: agent liveness, nodes, GPUs and DRA devices, topology. */
export function ClustersPage() {
  const { data, error } = usePoll<{ clusters?: Cluster[] }>('clusters');
  if (!data) return <p class="muted">{error ?? 'Loading clusters…'}</p>;
  const clusters = data.clusters ?? [];
  const gpus = clusters.map((c) => {
    const total = quantity(c.capacity?.allocatable?.quantities?.[GPU]);
    const free = quantity(c.capacity?.free?.quantities?.[GPU]);
    return { name: c.name, total, used: total - free };
  });
  return (
    <section data-testid="clusters-page">
      <h2>Clusters</h2>
      {error && <p class="error">{error}</p>}
      {clusters.length === 0 && <p class="muted">No cluster is registered.</p>}
      {clusters.length > 0 && (
        <>
          <div class="panel">
            <h3>GPUs allocated of capacity</h3>
            {gpus.map((g) => (
              <AllocationBar key={g.name} label={g.name} used={g.used} total={g.total} />
            ))}
          </div>
          <UtilisationPanel />
          <table data-testid="clusters">
            <thead>
              <tr>
                <th>Cluster</th>
                <th>Agent</th>
                <th>Heartbeat</th>
                <th>Nodes ready</th>
                <th>GPUs free / total</th>
                <th>Devices by class (free / total)</th>
                <th>Allocatable</th>
                <th>Topology</th>
              </tr>
            </thead>
            <tbody>
              {clusters.map((c) => (
                <tr key={c.name} data-cluster={c.name}>
                  <td>
                    <strong>{c.name}</strong>
                    {c.cordoned && <span class="tag warn">cordoned</span>}
                    {c.drain && (
                      <span class="tag warn">draining ({c.drain.gangsLeft ?? 0} left)</span>
                    )}
                    <div class="muted small">{ready(c)}</div>
                  </td>
                  <td>
                    <span class={`agent agent-${agentStateName(c.agentState).replace(/ /g, '-')}`}>
                      {agentStateName(c.agentState)}
                    </span>
                    {c.agentVersion && <div class="muted small">{c.agentVersion}</div>}
                  </td>
                  <td>{c.lastHeartbeatTime ? `${age(c.lastHeartbeatTime)} ago` : '—'}</td>
                  <td>
                    {c.capacity?.readyNodeCount ?? 0} / {c.capacity?.nodeCount ?? 0}
                  </td>
                  <td data-testid="gpus">
                    {quantity(c.capacity?.free?.quantities?.[GPU])} /{' '}
                    {quantity(c.capacity?.allocatable?.quantities?.[GPU])}
                  </td>
                  <td>
                    {(c.capacity?.devices ?? []).length === 0
                      ? '—'
                      : c.capacity!.devices!.map((d) => (
                          <div key={d.deviceClass}>
                            {d.deviceClass}: {d.free ?? 0} / {d.total ?? 0}
                          </div>
                        ))}
                  </td>
                  <td class="small">{resources(c.capacity?.allocatable?.quantities)}</td>
                  <td class="small">{(c.topologyLevels ?? []).join(' › ') || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
