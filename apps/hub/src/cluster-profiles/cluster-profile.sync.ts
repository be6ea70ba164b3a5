// Keeps the ClusterProfiles on the management cluster equal to Muster's inventory, and imports the
// ClusterProfiles of other cluster managers as read-only clusters.
//
// One pass reads every cluster row and compares it with the cached ClusterProfiles (list + watch):
// - a Muster cluster whose object is missing or differs gets a server-side apply of labels/spec and
//   of status (field manager muster-hub, force); capacity-only changes at most every
//   capacityIntervalMs per cluster, everything else at once;
// - an object of Muster's whose cluster is gone (deregistered) is deleted;
// - in import namespaces, valid objects of other managers become or update read-only rows, and a
//   never-connected imported row whose object is gone is removed; malformed objects are skipped with
//   a log line naming the object and the field.
// Passes run every pollMs, on every watch event that Muster did not cause itself (so a hand edit is
// reverted at once), and forced (applying everything regardless of the cache) by the resync work.
// Passes never overlap within a replica; across replicas every write is an idempotent apply of the
// same computed object, so no leader is needed.
import { CoalescedRunner, errorText } from '@muster/common';
import type { ClusterProfile } from '@muster/k8s';
import type { Log } from '@muster/log';
import { OncePerState } from '../common/once-per-state';
import type { ClusterEntity } from '../inventory/cluster.entity';
import {
  IMPORTED_FROM_LABEL,
  importedChanges,
  importedClusterOf,
  importedRow,
} from './cluster-profile.import';
import {
  canonical,
  foreignManager,
  objectDiffers,
  profileObjectFor,
  profileStatusFor,
  statusDifference,
  type ProducerSettings,
} from './cluster-profile.publish';
import type { ClusterProfileStore, ClusterRowStore, ProfileWatch } from './cluster-profile.store';

export interface SyncSettings extends ProducerSettings {
  /** Namespaces whose ClusterProfiles of other managers are imported. */
  importNamespaces: string[];
  /** Pass interval, in ms. */
  pollMs: number;
  /** Least time between two capacity-only status writes of one cluster, in ms. */
  capacityIntervalMs: number;
}

export class ClusterProfileSync {
  private readonly watches = new Map<string, ProfileWatch>();
  private readonly lastStatusWrite = new Map<string, number>();
  /** "<resourceVersion>|<desired>" of the last write per object and status: never resent as is. */
  private readonly lastWrite = new Map<string, string>();
  /** What was last logged per object or cluster, so a steady problem is logged once. */
  private readonly reported = new OncePerState();
  private timer: NodeJS.Timeout | undefined;
  private ready = false;
  private stopped = false;
  private forced = false;
  private forcedWaiters: Array<() => void> = [];
  /** One pass at a time; requests during a pass make one more pass after it. */
  private readonly passes = new CoalescedRunner({
    run: async () => {
      const force = this.forced;
      const waiters = force ? this.forcedWaiters.splice(0) : [];
      this.forced = false;
      try {
        await this.pass(force);
      } finally {
        for (const w of waiters) w();
      }
    },
    onError: (err) =>
      this.reported.report('pass', errorText(err), () =>
        this.log.warn('ClusterProfile sync pass failed', { err }),
      ),
    enabled: () => !this.stopped,
  });

  constructor(
    private readonly store: ClusterProfileStore,
    private readonly rows: ClusterRowStore,
    private readonly settings: SyncSettings,
    private readonly log: Log,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.request(false), this.settings.pollMs);
    this.request(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of this.forcedWaiters.splice(0)) w();
    await this.idle();
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
    this.watches.clear();
  }

  /** Asks for a pass; passes requested while one runs are coalesced into one more. */
  request(force: boolean): void {
    if (this.stopped) return;
    this.forced ||= force;
    this.passes.request();
  }

  /** Runs a forced pass (every cluster applied regardless of the cache) and waits for it. */
  resync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.forcedWaiters.push(resolve);
      this.request(true);
    });
  }

  /** Resolves when no pass runs or is pending. */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  private async setUp(): Promise<boolean> {
    if (this.ready) return true;
    const { namespace, importNamespaces } = this.settings;
    const problem = await this.store.problem(namespace);
    if (problem) {
      this.reported.report('setup', problem, () =>
        this.log.error('ClusterProfiles unavailable; retrying', { namespace, error: problem }),
      );
      return false;
    }
    await this.store.ensureNamespace(namespace);
    for (const ns of new Set([namespace, ...importNamespaces])) {
      if (this.watches.has(ns)) continue;
      this.watches.set(
        ns,
        this.store.watch(ns, () => this.request(false)),
      );
    }
    this.ready = true;
    this.reported.report('setup', undefined, () => undefined);
    this.log.info('ClusterProfile sync ready', {
      namespace,
      importNamespaces: importNamespaces.join(','),
    });
    return true;
  }

  private async pass(force: boolean): Promise<void> {
    if (!(await this.setUp())) return;
    const rows = await this.rows.list();
    const now = this.clock();
    await this.produce(rows, now, force);
    if (this.settings.importNamespaces.length > 0) await this.importProfiles(rows, now);
  }

  // ---- producer: Muster's clusters -> ClusterProfiles

  private async produce(rows: ClusterEntity[], now: Date, force: boolean): Promise<void> {
    const watch = this.watches.get(this.settings.namespace);
    if (!watch) return;
    const own = rows.filter((r) => !r.readOnly);
    for (const row of own) {
      try {
        await this.reconcile(row, watch, now, force);
        this.reported.report(`apply/${row.name}`, undefined, () => undefined);
      } catch (err) {
        this.reported.report(`apply/${row.name}`, errorText(err), () =>
          this.log.warn('ClusterProfile write failed; retrying', {
            cluster: row.name,
            namespace: this.settings.namespace,
            err,
          }),
        );
      }
    }
    if (!watch.synced) return;
    const names = new Set(own.map((r) => r.name));
    for (const obj of watch.list()) {
      const name = obj.metadata.name;
      if (
        names.has(name) ||
        foreignManager(obj) !== undefined ||
        obj.spec?.clusterManager === undefined
      )
        continue;
      if (obj.metadata.deletionTimestamp) continue;
      // Registered after this pass read the rows (perhaps through another replica)?
      if (await this.rows.isRegistered(name)) continue;
      try {
        await this.store.delete(this.settings.namespace, name, obj.metadata.uid);
        this.lastStatusWrite.delete(name);
        this.lastWrite.delete(`object/${name}`);
        this.lastWrite.delete(`status/${name}`);
        this.log.info('ClusterProfile deleted: cluster deregistered', {
          cluster: name,
          namespace: this.settings.namespace,
        });
      } catch (err) {
        this.log.warn('ClusterProfile delete failed; retrying', {
          cluster: name,
          err,
        });
      }
    }
  }

  private async reconcile(
    row: ClusterEntity,
    watch: ProfileWatch,
    now: Date,
    force: boolean,
  ): Promise<void> {
    const s = this.settings;
    let observed: ClusterProfile | undefined = watch.get(row.name);
    const other = foreignManager(observed);
    this.reported.report(`foreign/${row.name}`, other, () =>
      this.log.warn('ClusterProfile name taken by another cluster manager; not publishing', {
        cluster: row.name,
        namespace: s.namespace,
        clusterManager: other,
      }),
    );
    if (other !== undefined) return;
    const object = profileObjectFor(row, s);
    const objectKey = `object/${row.name}`;
    const objectWrite = canonical(object);
    if (
      force ||
      observed === undefined ||
      (objectDiffers(object, observed) &&
        this.lastWrite.get(objectKey) !== `${observed.metadata.resourceVersion}|${objectWrite}`)
    ) {
      const created = observed === undefined;
      observed = await this.store.apply(object);
      watch.observe(observed);
      this.lastWrite.set(objectKey, `${observed.metadata.resourceVersion}|${objectWrite}`);
      if (created)
        this.log.info('ClusterProfile created', { cluster: row.name, namespace: s.namespace });
    }
    const { apply, warnings } = profileStatusFor(row, observed, s, now);
    const difference = statusDifference(apply.status, observed.status);
    const last = this.lastStatusWrite.get(row.name) ?? 0;
    const statusKey = `status/${row.name}`;
    const statusWrite = canonical(apply.status);
    const due =
      force ||
      difference === 'other' ||
      (difference === 'capacity' && now.getTime() - last >= s.capacityIntervalMs);
    // The same status already went to this very object: what still differs is not Muster's to fix.
    const repeated =
      this.lastWrite.get(statusKey) === `${observed.metadata.resourceVersion}|${statusWrite}`;
    if (!due || (repeated && !force)) return;
    observed = await this.store.applyStatus(apply);
    if (statusDifference(apply.status, observed.status) !== 'none') {
      // Fields written by others that an apply does not take over (e.g. status.version.kubernetes
      // while Muster has no version to publish): replace the status as a whole.
      observed = await this.store.replaceStatus(apply);
    }
    watch.observe(observed);
    this.lastStatusWrite.set(row.name, now.getTime());
    this.lastWrite.set(statusKey, `${observed.metadata.resourceVersion}|${statusWrite}`);
    this.log.debug('ClusterProfile status applied', {
      cluster: row.name,
      change: difference,
      forced: force,
    });
    for (const w of warnings) {
      this.reported.report(`warn/${row.name}/${w.field}`, w.reason, () =>
        this.log.warn('cluster field left out of its ClusterProfile', {
          cluster: row.name,
          field: w.field,
          reason: w.reason,
        }),
      );
    }
  }

  // ---- consumer: other managers' ClusterProfiles -> read-only rows

  private async importProfiles(rows: ClusterEntity[], now: Date): Promise<void> {
    const byName = new Map(rows.map((r) => [r.name, r]));
    const skipKeys = new Set<string>();
    /** "<namespace>/<name>" of the importable (valid, foreign) ClusterProfiles. */
    const importable = new Set<string>();
    const skip = (
      ns: string,
      obj: ClusterProfile,
      field: string,
      reason: string,
      why: 'malformed' | 'name conflict' = 'malformed',
    ) => {
      const key = `skip/${ns}/${obj.metadata.name}`;
      skipKeys.add(key);
      this.reported.report(key, `${obj.metadata.resourceVersion}|${field}|${reason}`, () =>
        this.log.warn(`skipping ${why === 'malformed' ? 'malformed ' : ''}ClusterProfile`, {
          clusterProfile: `${ns}/${obj.metadata.name}`,
          namespace: ns,
          name: obj.metadata.name,
          cluster: obj.metadata.name,
          clusterManager: obj.spec?.clusterManager?.name,
          field,
          reason,
          skipped: why,
        }),
      );
    };
    for (const ns of this.settings.importNamespaces) {
      const watch = this.watches.get(ns);
      if (!watch?.synced) continue;
      const objects = watch
        .list()
        .filter((o) => !o.metadata.deletionTimestamp)
        .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
      for (const obj of objects) {
        const outcome = importedClusterOf(obj, ns);
        if (outcome.kind === 'own') continue;
        if (outcome.kind === 'skip') {
          skip(ns, obj, outcome.field, outcome.reason);
          continue;
        }
        const c = outcome.cluster;
        importable.add(`${ns}/${c.name}`);
        const row = byName.get(c.name);
        try {
          if (!row) {
            if (await this.rows.insertImported(importedRow(c, now))) {
              byName.set(c.name, importedRow(c, now));
              this.log.info('imported ClusterProfile as a read-only cluster', {
                cluster: c.name,
                namespace: ns,
                clusterManager: c.clusterManager,
              });
            }
            continue;
          }
          if (!row.readOnly) {
            skip(
              ns,
              obj,
              'metadata.name',
              'a cluster of that name is registered in Muster',
              'name conflict',
            );
            continue;
          }
          const from = row.labels[IMPORTED_FROM_LABEL];
          if (from !== ns) {
            skip(
              ns,
              obj,
              'metadata.name',
              `already imported from namespace "${from ?? ''}"`,
              'name conflict',
            );
            continue;
          }
          const changes = importedChanges(row, c);
          const manager = row.clusterManager !== c.clusterManager ? c.clusterManager : undefined;
          if (changes || manager) {
            await this.rows.updateImported(c.name, {
              ...changes,
              ...(manager ? { clusterManager: manager } : {}),
            });
            this.log.info('updated imported cluster from its ClusterProfile', {
              cluster: c.name,
              namespace: ns,
              fields: Object.keys({ ...changes, ...(manager ? { clusterManager: 1 } : {}) }).join(
                ',',
              ),
            });
          }
        } catch (err) {
          this.log.warn('importing ClusterProfile failed; retrying', {
            cluster: c.name,
            namespace: ns,
            err,
          });
        }
      }
    }
    this.reported.forgetExcept('skip/', skipKeys);
    await this.removeVanished(rows, importable);
  }

  /**
   * Removes never-connected imported rows whose ClusterProfile is gone or no longer importable
   * (malformed): the imported inventory mirrors exactly the valid ClusterProfiles.
   */
  private async removeVanished(rows: ClusterEntity[], importable: Set<string>): Promise<void> {
    const namespaces = new Set(this.settings.importNamespaces);
    for (const row of rows) {
      const ns = row.readOnly ? row.labels[IMPORTED_FROM_LABEL] : undefined;
      if (ns === undefined || !namespaces.has(ns)) continue;
      const watch = this.watches.get(ns);
      if (!watch?.synced) continue;
      const keptKey = `kept/${row.name}`;
      if (importable.has(`${ns}/${row.name}`)) {
        this.reported.report(keptKey, undefined, () => undefined);
        continue;
      }
      const obj = watch.get(row.name);
      const why = obj === undefined || obj.metadata.deletionTimestamp ? 'gone' : 'malformed';
      if (row.agentState !== 'NeverConnected') {
        this.reported.report(keptKey, `${row.agentState}/${why}`, () =>
          this.log.warn(
            `imported cluster kept: its ClusterProfile is ${why} but its agent has connected`,
            {
              cluster: row.name,
              namespace: ns,
              agentState: row.agentState,
            },
          ),
        );
        continue;
      }
      try {
        if (await this.rows.deleteImported(row.name, ns)) {
          this.log.info(`removed imported cluster: its ClusterProfile is ${why}`, {
            cluster: row.name,
            namespace: ns,
          });
        }
      } catch (err) {
        this.log.warn('removing imported cluster failed; retrying', {
          cluster: row.name,
          err,
        });
      }
    }
  }
}
