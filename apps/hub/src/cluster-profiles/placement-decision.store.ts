// The I/O seams of PlacementDecision sync, so the sync logic runs against fakes in unit tests: the
// management cluster's PlacementDecisions and the placed gangs in Postgres.
import type {
  PlacedGang,
  PlacementDecision,
  PlacementDecisionApply,
} from './placement-decision.publish';

/** A live, cached view of the PlacementDecisions of one namespace (list, then watch). */
export interface DecisionWatch {
  /** True once the first full list has been cached: only then is "absent" meaningful. */
  readonly synced: boolean;
  list(): PlacementDecision[];
  get(name: string): PlacementDecision | undefined;
  /** Caches an object returned by a write, unless the cache already holds a newer one. */
  observe(decision: PlacementDecision): void;
  /** Drops an object Muster deleted (the watch's DELETED event then changes nothing). */
  forget(name: string): void;
  stop(): Promise<void>;
}

/** A failed request to the API server, with its HTTP status (0: no answer). */
export interface StoreError extends Error {
  code: number;
}

/** The PlacementDecisions on the management cluster. */
export interface PlacementDecisionStore {
  /** Why PlacementDecisions cannot be used in the namespace (e.g. the CRD is missing), or undefined. */
  problem(namespace: string): Promise<string | undefined>;
  /** Creates the namespace when it does not exist. */
  ensureNamespace(namespace: string): Promise<void>;
  /** Starts a cached watch; `onChange` runs for changes not already observed. */
  watch(namespace: string, onChange: () => void): DecisionWatch;
  /** Server-side apply of the whole object (field manager muster-hub, force). */
  apply(decision: PlacementDecisionApply): Promise<PlacementDecision>;
  /** Deletes the object if it still has this uid; a missing object is fine. */
  delete(namespace: string, name: string, uid: string | undefined): Promise<void>;
}

/** The placed gangs, as PlacementDecision sync reads them. */
export interface PlacedGangStore {
  /** Every gang with a reservation whose job is Dispatched or Running. */
  list(): Promise<PlacedGang[]>;
  /** The same, for these job ids only (a re-check before deleting). */
  byIds(jobIds: readonly string[]): Promise<PlacedGang[]>;
}

/** The names of the ClusterProfiles Muster publishes, from a cached watch of their namespace. */
export interface OwnProfiles {
  /** Starts the watch once ClusterProfiles can be listed; why not (yet), or undefined when open. */
  open(onChange: () => void): Promise<string | undefined>;
  /** True once the watch has cached its first full list. */
  readonly synced: boolean;
  names(): ReadonlySet<string>;
  stop(): Promise<void>;
}
