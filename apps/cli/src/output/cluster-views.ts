// Worker clusters for people: the list table and the one-cluster description.
import {
  AgentState,
  agentStateToJSON,
  type Cluster,
  type ClusterDrain,
  type DeviceClassCapacity,
} from '@muster/api';
import { formatLabels, shortLevel } from './job-views';
import { freeOfTotal } from './quantity-format';
import { renderFields, renderTable } from './table';
import { age, duration, isoTime } from './time-format';

export const GPU_RESOURCE = 'nvidia.com/gpu';

/** "AGENT_STATE_NEVER_CONNECTED" → "NeverConnected". */
export function agentStateName(state: AgentState): string {
  const wire = agentStateToJSON(state);
  if (wire === 'UNRECOGNIZED' || state === AgentState.AGENT_STATE_UNSPECIFIED) return 'Unknown';
  return wire
    .replace(/^AGENT_STATE_/, '')
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/**
 * Readiness as kubectl shows nodes: the agent's state, plus ",Cordoned" when cordoned, or
 * ",Draining" when drained (a drained cluster is cordoned too).
 */
export function clusterStatus(c: Cluster): string {
  const cordon = c.drain ? ',Draining' : c.cordoned ? ',Cordoned' : '';
  return `${agentStateName(c.agentState)}${cordon}`;
}

function resource(c: Cluster, name: string): string {
  return freeOfTotal(c.capacity?.free?.quantities[name], c.capacity?.allocatable?.quantities[name]);
}

export function renderClusterTable(clusters: readonly Cluster[]): string {
  return renderTable(
    ['NAME', 'STATUS', 'AGENT', 'NODES', 'CPU', 'GPU', 'TOPOLOGY'],
    clusters.map((c) => [
      c.name,
      clusterStatus(c),
      c.agentVersion || '-',
      c.capacity ? `${c.capacity.readyNodeCount}/${c.capacity.nodeCount}` : '-',
      resource(c, 'cpu'),
      resource(c, GPU_RESOURCE),
      c.topologyLevels.map(shortLevel).join(',') || '-',
    ]),
  );
}

export function renderClusterDetails(c: Cluster, now: Date): string {
  const capacity = c.capacity;
  const names = new Set([
    ...Object.keys(capacity?.allocatable?.quantities ?? {}),
    ...Object.keys(capacity?.free?.quantities ?? {}),
  ]);
  const resources = [...names]
    .sort()
    .map(
      (n) =>
        `  ${n}: ${capacity?.free?.quantities[n] ?? '-'} free of ${capacity?.allocatable?.quantities[n] ?? '-'}`,
    );
  const fields: [string, string][] = [
    ['Name', c.name],
    ['Display name', c.displayName || '-'],
    ['Cluster set', c.clusterSet || '-'],
    ['Status', clusterStatus(c)],
    ['Manager', `${c.clusterManager || '-'}${c.readOnly ? ' (read-only)' : ''}`],
    ['Agent version', c.agentVersion || '-'],
    ['Kubernetes', c.kubernetesVersion || '-'],
    [
      'Last heartbeat',
      c.lastHeartbeatTime
        ? `${isoTime(c.lastHeartbeatTime)} (${age(c.lastHeartbeatTime, now)} ago)`
        : '-',
    ],
    ['Nodes', capacity ? `${capacity.readyNodeCount}/${capacity.nodeCount} ready` : '-'],
    ['Labels', formatLabels(c.labels)],
    ['Created', `${isoTime(c.createdAt)} (${age(c.createdAt, now)} ago)`],
  ];
  const devices = deviceLines(capacity?.devices ?? []);
  const levels = c.topologyLevels.map((l) => `  ${l}`);
  const providers = c.accessProviders.map((p) => `  ${p.name}: ${p.cluster?.server ?? '-'}`);
  const conditions = c.conditions.map(
    (x) =>
      `  ${x.type}=${x.status}${x.reason ? ` (${x.reason})` : ''}${x.message ? `: ${x.message}` : ''}`,
  );
  return (
    renderFields(fields) +
    (c.drain ? drainLines(c.drain, now) : '') +
    `Capacity:\n${resources.join('\n') || '  - (no report from an agent yet)'}\n` +
    (devices.length > 0 ? `Devices:\n${devices.join('\n')}\n` : '') +
    `Topology levels:\n${levels.join('\n') || '  -'}\n` +
    `Access providers:\n${providers.join('\n') || '  -'}\n` +
    `Conditions:\n${conditions.join('\n') || '  -'}\n`
  );
}

/** The drain block of `clusters get`: since when, each gang's notice, why, and gangs left. */
function drainLines(d: ClusterDrain, now: Date): string {
  const since = d.since ? `${isoTime(d.since)} (${age(d.since, now)} ago)` : '-';
  const fields = renderFields([
    ['Since', since],
    ['Grace', duration(d.graceSeconds)],
    ['Reason', d.reason || '-'],
    ['Gangs left', String(d.gangsLeft)],
  ]);
  const lines = fields.trimEnd().split('\n');
  return `Drain:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** "  gpu.example.com  free 12 of 32" per DeviceClass (DRA devices on ready, schedulable nodes). */
function deviceLines(devices: readonly DeviceClassCapacity[]): string[] {
  const sorted = [...devices].sort((a, b) => a.deviceClass.localeCompare(b.deviceClass));
  const width = Math.max(0, ...sorted.map((d) => d.deviceClass.length));
  return sorted.map((d) => `  ${d.deviceClass.padEnd(width)}  free ${d.free} of ${d.total}`);
}
