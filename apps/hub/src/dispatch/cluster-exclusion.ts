// Which rejections keep a gang away from the cluster that rejected it. A worker whose scheduler
// could not bind the whole gang will most likely fail the same way again (the hub's model of it
// missed something), so the gang tries the other clusters first and, when every candidate has
// failed, stays Queued saying why instead of cycling Dispatched → Queued.

/** One cluster a gang is kept away from, as stored in `jobs.excluded_clusters`. */
export interface ClusterExclusion {
  /** The agent's reason code, e.g. `BindTimeout`. */
  reason: string;
  /** What the worker said, shown by `explain`. */
  message: string;
  /** ISO time after which the cluster is a candidate again. */
  until: string;
}

/** Stored per job: cluster name → exclusion. */
export type ClusterExclusions = Record<string, ClusterExclusion>;

/**
 * Rejections that are the worker's verdict on running this gang as placed: its scheduler did not
 * bind every member in time (`BindTimeout`, with the scheduler's reason). Create and ungate failures are retried with backoff on any cluster,
 * this one included: they are often passing (a quota, an API server restart).
 */
/** Whether a rejection with this reason code excludes the cluster for the gang. */
export function excludesCluster(reason: string): boolean {
  return reason === 'BindTimeout';
}

/** The exclusions still in force at `now`, as placement takes them (cluster → explanation). */
export function activeExclusions(
  exclusions: ClusterExclusions | null | undefined,
  now: Date,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [cluster, e] of Object.entries(exclusions ?? {})) {
    const until = Date.parse(e.until);
    if (!(until > now.getTime())) continue;
    out[cluster] =
      `excluded for this gang until ${new Date(until).toISOString()}: ${cluster} could not run it ` +
      `(${e.reason}: ${e.message})`;
  }
  return out;
}
