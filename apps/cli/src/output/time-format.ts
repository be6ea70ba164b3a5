// Times as tables show them: ages like kubectl's ("45s", "12m", "3h", "9d").

export function age(since: Date | undefined, now: Date): string {
  if (!since) return '-';
  const seconds = Math.max(0, Math.floor((now.getTime() - since.getTime()) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

/** "1m05s" style elapsed time for the live progress line. */
export function elapsed(since: Date | undefined, now: Date): string {
  if (!since) return '';
  const total = Math.max(0, Math.floor((now.getTime() - since.getTime()) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Whole seconds the way Go writes a duration, without zero parts: "0s", "45s", "10m", "1h30m". */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}` || '0s';
}

export function isoTime(time: Date | undefined): string {
  return time ? time.toISOString() : '-';
}
