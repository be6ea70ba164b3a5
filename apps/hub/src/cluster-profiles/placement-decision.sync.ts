// Keeps one PlacementDecision (multicluster.x-k8s.io/v1alpha1) per placed gang on the management
// cluster, beside Muster's ClusterProfiles, so GitOps tools can follow where Muster runs each gang.
//
// One pass reads every gang with a reservation that is Dispatched or Running and compares it with
// the cached PlacementDecisions (list + watch):
// - a gang whose object is missing or differs gets a server-side apply of the whole object (field
//   manager muster-hub, force), naming its cluster's ClusterProfile; only clusters whose
//   ClusterProfile Muster publishes (or imported from) are named;
// - an object of Muster's (by label) that no placed gang wants is deleted, after Postgres is read
//   again for its gang (another replica may just have placed it);
// - objects of other schedulers are never touched.
// Passes run every pollMs and on every watch event that Muster did not cause itself (so a hand edit
// is reverted at once). Passes never overlap within a replica; across replicas every write is an
// idempotent apply of the same computed object, so no leader is needed.
import { errorText } from '@muster/common';
import type { Log } from '@muster/log';
import { eachConcurrently, OncePerState } from '../common/once-per-state';
import { PassLoop } from '../common/pass-loop';
import {
  PLACEMENT_DECISION_CRD_FILE,
  PLACEMENT_DECISION_CRD_NAME,
  decisionObjectFor,
  planPass,
  writeMark,
  type DecisionSettings,
  type PlacementDecisionApply,
} from './placement-decision.publish';
import type {
  DecisionWatch,
  OwnProfiles,
  PlacedGangStore,
  PlacementDecisionStore,
} from './placement-decision.store';

export interface DecisionSyncSettings extends DecisionSettings {
  /** Pass interval, in ms. */
  pollMs: number;
}

/** Writes one pass sends at once. */
const CONCURRENT_WRITES = 8;

function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export class PlacementDecisionSync {
  private watch: DecisionWatch | undefined;
  /** writeMark of the last write per object: the same apply is never resent to the same version. */
  private readonly lastWrite = new Map<string, string>();
  /** The cluster of the last write per object, to tell a gang that moved from a hand edit. */
  private readonly lastCluster = new Map<string, string>();
  /** What was last logged per key, so a steady problem is logged once. */
  private readonly reported = new OncePerState();
  private readonly passes: PassLoop;

  constructor(
    private readonly store: PlacementDecisionStore,
    private readonly gangs: PlacedGangStore,
    private readonly profiles: OwnProfiles,
    private readonly settings: DecisionSyncSettings,
    private readonly log: Log,
  ) {
    this.passes = new PassLoop({
      pass: () => this.pass(),
      periodMs: this.settings.pollMs,
      onError: (err) =>
        this.reported.report('pass', errorText(err), () =>
          this.log.warn('PlacementDecision sync pass failed', { err }),
        ),
    });
  }

  start(): void {
    this.passes.start();
  }

  async stop(): Promise<void> {
    await this.passes.stop();
    await this.watch?.stop();
    this.watch = undefined;
    await this.profiles.stop();
  }

  /** Asks for a pass; passes requested while one runs are coalesced into one more. */
  request(): void {
    this.passes.request();
  }

  /** Resolves when no pass runs or is pending. */
  idle(): Promise<void> {
    return this.passes.idle();
  }

  private async setUp(): Promise<DecisionWatch | undefined> {
    if (this.watch) return this.watch;
    const { namespace } = this.settings;
    const problem = await this.store.problem(namespace);
    if (problem) {
      this.reported.report('setup', problem, () =>
        this.log.warn('PlacementDecisions unavailable; retrying', {
          namespace,
          crd: PLACEMENT_DECISION_CRD_NAME,
          file: PLACEMENT_DECISION_CRD_FILE,
          error: problem,
        }),
      );
      return undefined;
    }
    const waiting = await this.profiles.open(() => this.request());
    if (waiting) {
      this.reported.report('setup', waiting, () =>
        this.log.info('PlacementDecisions wait for ClusterProfiles', {
          namespace,
          error: waiting,
        }),
      );
      return undefined;
    }
    await this.store.ensureNamespace(namespace);
    this.watch = this.store.watch(namespace, () => this.request());
    this.reported.report('setup', undefined, () => undefined);
    this.log.info('PlacementDecision sync ready', { namespace });
    return this.watch;
  }

  /** The resource type went away (CRD deleted) or the namespace did: set up again next pass. */
  private async reset(watch: DecisionWatch): Promise<void> {
    if (this.watch !== watch) return;
    this.watch = undefined;
    this.lastWrite.clear();
    this.lastCluster.clear();
    await watch.stop();
  }

  private async pass(): Promise<void> {
    const watch = await this.setUp();
    // Until both caches hold a full list, "absent" means nothing: neither write nor delete.
    if (!watch?.synced || !this.profiles.synced) return;
    const s = this.settings;
    const gangs = await this.gangs.list();
    const ownProfiles = this.profiles.names();
    const plan = planPass({
      gangs,
      observed: watch.list(),
      ownProfiles,
      lastWrite: this.lastWrite,
      settings: s,
    });

    const skippedKeys = new Set<string>();
    for (const [cluster, { reason, jobIds }] of plan.skipped) {
      const key = `skip/${cluster}`;
      skippedKeys.add(key);
      this.reported.report(key, reason, () =>
        this.log.warn('no PlacementDecision for gangs on a cluster without a ClusterProfile', {
          cluster,
          namespace: s.namespace,
          reason,
          gangs: jobIds.length,
          jobIds: jobIds.slice(0, 10).join(','),
        }),
      );
    }
    const takenKeys = new Set<string>();
    for (const t of plan.taken) {
      const key = `taken/${t.name}`;
      takenKeys.add(key);
      this.reported.report(key, t.schedulerName ?? '', () =>
        this.log.warn('PlacementDecision name taken by another scheduler; not publishing', {
          name: t.name,
          namespace: s.namespace,
          jobId: t.jobId,
          schedulerName: t.schedulerName,
        }),
      );
    }
    this.reported.forgetExcept('skip/', skippedKeys);
    this.reported.forgetExcept('taken/', takenKeys);

    let lost = false;
    await eachConcurrently(plan.applies, CONCURRENT_WRITES, async ({ object, jobId, created }) => {
      if (lost) return;
      const name = object.metadata.name;
      // The cluster Muster last wrote here; unknown after a restart: the object's own.
      const before =
        this.lastCluster.get(name) ?? watch.get(name)?.decisions?.[0]?.clusterProfileRef?.name;
      try {
        const observed = await this.store.apply(object);
        watch.observe(observed);
        this.lastWrite.set(name, writeMark(observed, object));
        this.reported.report(`apply/${name}`, undefined, () => undefined);
        const cluster = object.decisions[0]!.clusterProfileRef.name;
        this.lastCluster.set(name, cluster);
        const fields = { jobId, cluster, namespace: s.namespace, name };
        if (created) this.log.info('PlacementDecision created', fields);
        else if (before !== cluster)
          this.log.info('PlacementDecision moved', { ...fields, from: before });
        else this.log.info('PlacementDecision reverted to what Muster decided', fields);
      } catch (err) {
        if (statusCode(err) === 404) lost = true;
        this.reported.report(`apply/${name}`, errorText(err), () =>
          this.log.warn('PlacementDecision write failed; retrying', {
            jobId,
            name,
            namespace: s.namespace,
            err,
          }),
        );
      }
    });
    if (lost) {
      await this.reset(watch);
      return;
    }
    const applied = new Set(plan.applies.map((a) => `apply/${a.object.metadata.name}`));
    this.reported.forgetExcept('apply/', applied);
    // Objects gone without Muster deleting them here (another replica did): forget their writes.
    for (const name of [...this.lastWrite.keys()]) {
      if (watch.get(name)) continue;
      this.lastWrite.delete(name);
      this.lastCluster.delete(name);
    }

    if (plan.deletes.length === 0) return;
    // Placed after this pass read the gangs (perhaps through another replica)? Then it stays.
    const ids = plan.deletes.flatMap((d) => (d.jobId ? [d.jobId] : []));
    const placedNow = new Set(
      (ids.length > 0 ? await this.gangs.byIds(ids) : [])
        .map((g) => decisionObjectFor(g, s, ownProfiles))
        .filter((d): d is PlacementDecisionApply => !('missing' in d))
        .map((d) => d.metadata.name),
    );
    await eachConcurrently(plan.deletes, CONCURRENT_WRITES, async ({ name, uid, jobId }) => {
      if (placedNow.has(name)) return;
      try {
        await this.store.delete(s.namespace, name, uid);
        watch.forget(name);
        this.lastWrite.delete(name);
        this.lastCluster.delete(name);
        this.reported.report(`delete/${name}`, undefined, () => undefined);
        this.log.info('PlacementDecision deleted: its gang is no longer placed', {
          jobId,
          name,
          namespace: s.namespace,
        });
      } catch (err) {
        this.reported.report(`delete/${name}`, errorText(err), () =>
          this.log.warn('PlacementDecision delete failed; retrying', { jobId, name, err }),
        );
      }
    });
  }
}
