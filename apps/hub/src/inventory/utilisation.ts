// Utilisation reports: allocated against capacity device-hours per cluster or queue and bucket,
// built from booked hour buckets (see UsageRepository.utilisationRows). Pure, so the bucketing
// and totals are tested with tables.

export type UtilisationGroupBy = 'cluster' | 'queue';
export type UtilisationBucketSize = 'hour' | 'day';

/** A checked utilisation request. */
export interface UtilisationQuery {
  /** Rounded down to its bucket by {@link bucketStart}. */
  since: Date;
  until: Date;
  /** Whether `until` is now (live reservations then count up to now). */
  untilNow: boolean;
  resource: string;
  groupBy: UtilisationGroupBy;
  bucket: UtilisationBucketSize;
  /** Only these queues (a caller bound to queues); null: all. */
  queues: readonly string[] | null;
}

/** One booked figure: milli-unit-seconds of one group in one bucket. */
export interface UtilisationRow {
  group: string;
  bucket: Date;
  allocated: number;
  /** Null by queue. */
  capacity: number | null;
}

export interface UtilisationFigures {
  allocatedHours: number;
  /** Absent by queue. */
  capacityHours?: number;
  /** allocated / capacity; absent by queue or when capacity is 0. */
  ratio?: number;
}

export interface UtilisationGroup {
  name: string;
  total: UtilisationFigures;
  buckets: { start: Date; figures: UtilisationFigures }[];
}

export interface UtilisationReport {
  since: Date;
  until: Date;
  groups: UtilisationGroup[];
  total: UtilisationGroup;
}

const MILLI_SECONDS_PER_HOUR = 1000 * 3600;
const BUCKET_MS: Record<UtilisationBucketSize, number> = { hour: 3_600_000, day: 86_400_000 };

/** The start of the UTC hour or day holding `t`. */
export function bucketStart(t: Date, size: UtilisationBucketSize): Date {
  return new Date(Math.floor(t.getTime() / BUCKET_MS[size]) * BUCKET_MS[size]);
}

function figures(allocated: number, capacity: number | null): UtilisationFigures {
  const out: UtilisationFigures = { allocatedHours: allocated / MILLI_SECONDS_PER_HOUR };
  if (capacity === null) return out;
  out.capacityHours = capacity / MILLI_SECONDS_PER_HOUR;
  if (capacity > 0) out.ratio = allocated / capacity;
  return out;
}

/**
 * The report of `rows` over the query's range: every group with a figure, by name, each with
 * every bucket of the range (empty ones as 0), and a total over all groups.
 */
export function utilisationReport(
  query: UtilisationQuery,
  rows: readonly UtilisationRow[],
): UtilisationReport {
  const since = bucketStart(query.since, query.bucket);
  const step = BUCKET_MS[query.bucket];
  const starts: number[] = [];
  for (let t = since.getTime(); t < query.until.getTime(); t += step) starts.push(t);
  const byCluster = query.groupBy === 'cluster';
  type Sums = Map<number, { allocated: number; capacity: number }>;
  const sums = new Map<string, Sums>();
  const add = (group: string, at: number, r: UtilisationRow) => {
    const g = sums.get(group) ?? new Map<number, { allocated: number; capacity: number }>();
    const s = g.get(at) ?? { allocated: 0, capacity: 0 };
    s.allocated += r.allocated;
    s.capacity += r.capacity ?? 0;
    g.set(at, s);
    sums.set(group, g);
  };
  for (const r of rows) {
    const at = bucketStart(r.bucket, query.bucket).getTime();
    if (at < since.getTime() || at >= query.until.getTime()) continue;
    add(r.group, at, r);
  }
  const groupOf = (name: string, g: Sums | undefined): UtilisationGroup => {
    let allocated = 0;
    let capacity = 0;
    const buckets = starts.map((t) => {
      const s = g?.get(t) ?? { allocated: 0, capacity: 0 };
      allocated += s.allocated;
      capacity += s.capacity;
      return { start: new Date(t), figures: figures(s.allocated, byCluster ? s.capacity : null) };
    });
    return { name, total: figures(allocated, byCluster ? capacity : null), buckets };
  };
  const all: Sums = new Map();
  for (const g of sums.values())
    for (const [t, s] of g) {
      const a = all.get(t) ?? { allocated: 0, capacity: 0 };
      a.allocated += s.allocated;
      a.capacity += s.capacity;
      all.set(t, a);
    }
  return {
    since,
    until: query.until,
    groups: [...sums.keys()].sort().map((name) => groupOf(name, sums.get(name))),
    total: groupOf('total', all),
  };
}
