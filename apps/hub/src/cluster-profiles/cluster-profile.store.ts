// The two I/O seams of ClusterProfile sync, so the sync logic runs against fakes in unit tests:
// the management cluster's ClusterProfiles and Muster's cluster rows in Postgres.
import type { ClusterProfile } from '@muster/k8s';
import type { ClusterEntity } from '../inventory/cluster.entity';
import type { ImportedChanges } from './cluster-profile.import';
import type { ClusterProfileApply, ClusterProfileStatusApply } from './cluster-profile.publish';

export type ProfileEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A live, cached view of the ClusterProfiles of one namespace (list, then watch). */
export interface ProfileWatch {
  /** True once the first full list has been cached: only then is "absent" meaningful. */
  readonly synced: boolean;
  list(): ClusterProfile[];
  get(name: string): ClusterProfile | undefined;
  /** Caches an object returned by a write, unless the cache already holds a newer one. */
  observe(profile: ClusterProfile): void;
  stop(): Promise<void>;
}

/** The ClusterProfiles on the management cluster. */
export interface ClusterProfileStore {
  /** Why ClusterProfiles cannot be used in the namespace (e.g. the CRD is missing), or undefined. */
  problem(namespace: string): Promise<string | undefined>;
  /** Creates the namespace when it does not exist. */
  ensureNamespace(namespace: string): Promise<void>;
  /** Starts a cached watch; `onChange` runs for changes not already observed. */
  watch(
    namespace: string,
    onChange: (type: ProfileEventType, profile: ClusterProfile) => void,
  ): ProfileWatch;
  /** Server-side apply of labels and spec (field manager muster-hub, force). */
  apply(profile: ClusterProfileApply): Promise<ClusterProfile>;
  /** Server-side apply of the status subresource (field manager muster-hub, force). */
  applyStatus(status: ClusterProfileStatusApply): Promise<ClusterProfile>;
  /**
   * JSON merge patch of the whole status (lists replaced, absent version cleared): removes what
   * other writers set in fields server-side apply leaves to them.
   */
  replaceStatus(status: ClusterProfileStatusApply): Promise<ClusterProfile>;
  /** Deletes the object if it still has this uid; a missing object is fine. */
  delete(namespace: string, name: string, uid: string | undefined): Promise<void>;
}

/** Muster's cluster rows, as ClusterProfile sync reads and (for imports) writes them. */
export interface ClusterRowStore {
  list(): Promise<ClusterEntity[]>;
  /** Whether a cluster of this name is registered in Muster itself (not read-only). */
  isRegistered(name: string): Promise<boolean>;
  /** Inserts an imported row; false when the name is taken. */
  insertImported(row: ClusterEntity): Promise<boolean>;
  /** Updates a read-only row; false when it is gone or not read-only. */
  updateImported(
    name: string,
    changes: ImportedChanges & { clusterManager?: string },
  ): Promise<boolean>;
  /** Deletes a read-only row imported from `namespace` whose agent never connected. */
  deleteImported(name: string, namespace: string): Promise<boolean>;
}
