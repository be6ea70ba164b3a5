// The fault run's figures, computed from what the sampler saw and what the hub acknowledged:
// pure functions, so each count can be seeded and checked by hand (figures.spec.ts).
import type { Violation, ViolationKind, WholeSighting } from '../support/cluster-observer';

/** The invariant counts the suite requires to be 0, in the order the table prints them. */
export const INVARIANTS = [
  'gangsInTwoClusters',
  'gangsWithTwoLiveTokens',
  'gangsPartlyUngated',
  'nodesOverCommitted',
  'acknowledgedJobsLost',
] as const;
export type Invariant = (typeof INVARIANTS)[number];
export type InvariantCounts = Record<Invariant, number>;

const KIND_OF: Record<Exclude<Invariant, 'acknowledgedJobsLost'>, ViolationKind> = {
  gangsInTwoClusters: 'gang-in-two-clusters',
  gangsWithTwoLiveTokens: 'two-live-tokens',
  gangsPartlyUngated: 'partial-gang-ungated',
  nodesOverCommitted: 'node-over-committed',
};

export function zeroCounts(): InvariantCounts {
  return {
    gangsInTwoClusters: 0,
    gangsWithTwoLiveTokens: 0,
    gangsPartlyUngated: 0,
    nodesOverCommitted: 0,
    acknowledgedJobsLost: 0,
  };
}

/** Nearest-rank percentile of `values` (NaN for none). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

/** A submit the hub answered: the job it created, and when the answer came. */
export interface Acknowledged {
  jobId: string;
  ackedAt: number;
}

/** Acknowledged jobs the hub no longer knows. */
export function lostJobs(acked: readonly Acknowledged[], known: ReadonlySet<string>): string[] {
  return acked.filter((a) => !known.has(a.jobId)).map((a) => a.jobId);
}

/** One injected fault: from its injection until the next fault's (the last one: the run's end). */
export interface FaultWindow {
  fault: string;
  injectedAt: number;
}

/** Index of the window `at` falls in; -1 before the first fault. */
export function windowOf(windows: readonly FaultWindow[], at: number): number {
  let i = -1;
  for (let k = 0; k < windows.length; k++) if (windows[k]!.injectedAt <= at) i = k;
  return i;
}

/** Sightings of one violation this far apart or more are two episodes of it, in ms. */
export const EPISODE_GAP_MS = 5000;

/** One violation of one subject (gang or node), seen in consecutive samples. */
export interface Episode {
  kind: ViolationKind;
  subject: string;
  from: number;
  to: number;
  detail: string;
}

/** Groups violations into episodes per kind and subject, in time order. */
export function episodes(violations: readonly Violation[]): Episode[] {
  const open = new Map<string, Episode>();
  const out: Episode[] = [];
  const sorted = [...violations].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  for (const v of sorted) {
    const at = Date.parse(v.at);
    const subject = v.subject ?? v.detail;
    const key = `${v.kind}|${subject}`;
    const e = open.get(key);
    if (e && at - e.to < EPISODE_GAP_MS) {
      e.to = at;
      continue;
    }
    const next: Episode = { kind: v.kind, subject, from: at, to: at, detail: v.detail };
    open.set(key, next);
    out.push(next);
  }
  return out;
}

/**
 * Distinct gangs (or nodes) per invariant, for the whole run and per window. An episode counts
 * in the window it began in (one that carries on into the next fault is the earlier fault's);
 * lost jobs count in the window they were acknowledged in. Index -1 of `perWindow` is the time
 * before the first fault.
 */
export function countInvariants(
  windows: readonly FaultWindow[],
  violations: readonly Violation[],
  lost: readonly Acknowledged[],
): { total: InvariantCounts; perWindow: Map<number, InvariantCounts> } {
  const total = zeroCounts();
  const perWindow = new Map<number, InvariantCounts>();
  const at = (w: number) => {
    if (!perWindow.has(w)) perWindow.set(w, zeroCounts());
    return perWindow.get(w)!;
  };
  for (let w = -1; w < windows.length; w++) at(w);
  const all = episodes(violations);
  for (const [invariant, kind] of Object.entries(KIND_OF) as [Invariant, ViolationKind][]) {
    const seen = new Set<string>();
    const seenIn = new Set<string>();
    for (const e of all) {
      if (e.kind !== kind) continue;
      const w = windowOf(windows, e.from);
      if (!seen.has(e.subject)) {
        seen.add(e.subject);
        total[invariant]++;
      }
      if (!seenIn.has(`${w}|${e.subject}`)) {
        seenIn.add(`${w}|${e.subject}`);
        at(w)[invariant]++;
      }
    }
  }
  for (const job of lost) {
    total.acknowledgedJobsLost++;
    at(windowOf(windows, job.ackedAt)).acknowledgedJobsLost++;
  }
  return { total, perWindow };
}

/** Where a gang ran when a fault struck: its newest live copy. */
export interface LiveCopy {
  cluster: string;
  token: string;
}

/** A gang the fault displaced, and when (if) a newer copy of it was seen whole. */
export interface Displaced {
  gang: string;
  from: LiveCopy;
  /** ms from the injection to the first whole sighting of a newer token; undefined: never. */
  recoveredAfterMs: number | undefined;
  /** Where that newer copy ran. */
  to: string | undefined;
}

/** The first sighting, after `since`, of a copy with a higher token than `from`'s. */
export function firstNewerCopy(
  sightings: readonly WholeSighting[] | undefined,
  from: LiveCopy,
  since: number,
): WholeSighting | undefined {
  let best: WholeSighting | undefined;
  for (const s of sightings ?? [])
    if (s.at >= since && Number(s.token) > Number(from.token) && (!best || s.at < best.at))
      best = s;
  return best;
}

/**
 * The `requeue` gangs a fault displaced: each one live on the target cluster at injection (it
 * had to move), and each one live anywhere at injection of which a newer copy was first seen
 * whole before the window ended (it did move). Recovery is timed to that newer copy, whenever
 * it came.
 */
export function displacedBy(opts: {
  injectedAt: number;
  windowEnd: number;
  target: string | undefined;
  liveAtInjection: ReadonlyMap<string, LiveCopy>;
  requeueGangs: ReadonlySet<string>;
  firstWhole: ReadonlyMap<string, readonly WholeSighting[]>;
}): Displaced[] {
  const out: Displaced[] = [];
  for (const [gang, from] of opts.liveAtInjection) {
    if (!opts.requeueGangs.has(gang)) continue;
    const newer = firstNewerCopy(opts.firstWhole.get(gang), from, opts.injectedAt);
    const mustMove = from.cluster === opts.target;
    const moved = newer !== undefined && newer.at < opts.windowEnd;
    if (!mustMove && !moved) continue;
    out.push({
      gang,
      from,
      recoveredAfterMs: newer ? newer.at - opts.injectedAt : undefined,
      to: newer?.cluster,
    });
  }
  return out.sort((a, b) => a.gang.localeCompare(b.gang));
}

/**
 * `wait` gangs live at injection of which a newer copy was first seen whole before the window
 * ended: a lost cluster must never move them, so a fault that did is worth a look.
 */
export function movedWaitGangs(opts: {
  injectedAt: number;
  windowEnd: number;
  liveAtInjection: ReadonlyMap<string, LiveCopy>;
  requeueGangs: ReadonlySet<string>;
  firstWhole: ReadonlyMap<string, readonly WholeSighting[]>;
}): string[] {
  return [...opts.liveAtInjection]
    .filter(([gang, from]) => {
      if (opts.requeueGangs.has(gang)) return false;
      const newer = firstNewerCopy(opts.firstWhole.get(gang), from, opts.injectedAt);
      return newer !== undefined && newer.at < opts.windowEnd;
    })
    .map(([gang]) => gang)
    .sort();
}

/** A number of seconds for the table, or "-" when there is none. */
export function seconds(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '-' : (ms / 1000).toFixed(1);
}

/** Left-aligned columns under a header row, separated by two spaces. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
