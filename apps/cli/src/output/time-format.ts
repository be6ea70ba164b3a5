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

export function isoTime(time: Date | undefined): string {
  return time ? time.toISOString() : '-';
}
