import type { JobStateName } from './types';

/** "JOB_STATE_QUEUED" → "Queued". */
export function stateName(state: JobStateName | undefined): string {
  if (!state) return 'Unknown';
  const s = state.replace('JOB_STATE_', '').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** "AGENT_STATE_NEVER_CONNECTED" → "never connected". */
export function agentStateName(state: string | undefined): string {
  return (state ?? 'AGENT_STATE_UNSPECIFIED')
    .replace('AGENT_STATE_', '')
    .replace(/_/g, ' ')
    .toLowerCase();
}

/** How long ago, short: "42s", "7m", "3h", "2d". */
export function age(iso: string | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** A Kubernetes quantity as a number (only what resource lists carry: plain, m, Ki…Ti, k…T). */
export function quantity(q: string | undefined): number {
  if (!q) return 0;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const unit: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return n * (unit[m[2]!] ?? 1);
}

/** A resource list as "cpu 8 · memory 32Gi · nvidia.com/gpu 4". */
export function resources(list: Record<string, string> | undefined): string {
  const entries = Object.entries(list ?? {});
  return entries.length === 0 ? '—' : entries.map(([k, v]) => `${k} ${v}`).join(' · ');
}

export const GPU = 'nvidia.com/gpu';
