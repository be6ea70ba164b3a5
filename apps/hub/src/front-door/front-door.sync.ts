// The front door: Jobs, JobSets, PyTorchJobs ... created on the management cluster with a queue
// label become Muster jobs, as MultiKueue takes them on its manager cluster.
//
// One pass compares the objects of every watched kind (list + watch, cluster-wide, by label) with
// the rows of front_door_objects:
// - a new object is kept from running there (suspend, unless its managedBy is Muster's), taken by
//   the administrator's queue rules and the CLI's converters, and submitted with client request
//   id "k8s:<uid>": submitting again after a crash returns the same job, and the row (one per
//   UID) is written after, so no object becomes two jobs and none is lost;
// - a refused object gets a Warning Event and annotations naming the field, and no job; it is
//   looked at again every pass (a queue created later takes it);
// - a taken object gets its job's state, reason, cluster and job id as annotations, an Event per
//   change of state or reason (once across replicas: the row's mirror mark moves first), and, when
//   its managedBy is Muster's, status conditions;
// - a row whose object is gone (confirmed by a read, not only the cache) has its job cancelled and
//   is removed: a deletion while the hub was down is seen at the next list.
import { errorText } from '@muster/common';
import type { Log } from '@muster/log';
import { eachConcurrently, OncePerState } from '../common/once-per-state';
import { PassLoop } from '../common/pass-loop';
import { ErrorCode, MusterError } from '../common/errors';
import type { SpecLimits } from '../jobs/job-spec.mapper';
import { isFinal, type JobSpec } from '../jobs/job.domain';
import {
  apiVersionOf,
  MUSTER_MANAGED_BY,
  otherManager,
  patchAt,
  valueAt,
  WATCHED_KINDS,
  type WatchedKind,
} from './front-door.kinds';
import type { FrontDoorCluster, KindWatch } from './front-door.kube';
import {
  describeObject,
  intake,
  messageOf,
  type KubeObject,
  type Refusal,
} from './front-door.intake';
import type { FrontDoorRepository, TakenObject } from './front-door.repository';
import { jobMirror, refusedMirror, type Mirror } from './front-door.mirror';
import type { QueueRule } from './queue-rules';

/** What the front door asks of Muster's jobs. */
export interface FrontDoorJobs {
  /** Submits (idempotent by clientRequestId); a refusal is a MusterError naming the spec field. */
  submit(spec: JobSpec, clientRequestId: string): Promise<{ jobId: string }>;
  cancel(jobId: string, reason: string): Promise<void>;
}

export interface FrontDoorSettings {
  /** The queue labels that bring an object, in the order they name its queue. */
  labels: readonly string[];
  rules: readonly QueueRule[];
  limits: SpecLimits;
  /** Pass interval, in ms. */
  pollMs: number;
}

/** How often a kind the management cluster does not serve is looked for again, in ms. */
const PROBE_MS = 10_000;

/** Objects one pass works on at once (the hub's Postgres pool holds 10 connections). */
const CONCURRENT = 16;

export function clientRequestIdOf(uid: string): string {
  return `k8s:${uid}`;
}

function refusalText(r: Refusal): string {
  return r.field ? `${r.field}: ${r.message}` : r.message;
}

interface Seen {
  kind: WatchedKind;
  object: KubeObject;
}

export class FrontDoorSync {
  private readonly watches = new Map<string, KindWatch>();
  /** When each kind not watched was last asked about. */
  private readonly probed = new Map<string, number>();
  /** What was last logged per key, so a steady problem is logged once. */
  private readonly reported = new OncePerState();
  private readonly passes: PassLoop;

  constructor(
    private readonly cluster: FrontDoorCluster,
    private readonly rows: FrontDoorRepository,
    private readonly jobs: FrontDoorJobs,
    private readonly settings: FrontDoorSettings,
    private readonly log: Log,
    private readonly kinds: readonly WatchedKind[] = WATCHED_KINDS,
  ) {
    this.passes = new PassLoop({
      pass: () => this.pass(),
      periodMs: this.settings.pollMs,
      onError: (err) =>
        this.reported.report('pass', errorText(err), () =>
          this.log.warn('front door pass failed; retrying', { err }),
        ),
    });
  }

  start(): void {
    this.passes.start();
  }

  async stop(): Promise<void> {
    await this.passes.stop();
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
    this.watches.clear();
    await this.cluster.stop();
  }

  request(): void {
    this.passes.request();
  }

  idle(): Promise<void> {
    return this.passes.idle();
  }

  /** Starts a watch for every kind the management cluster serves (kinds installed later too). */
  private async openWatches(): Promise<void> {
    const now = Date.now();
    for (const kind of this.kinds) {
      if (this.watches.has(kind.kind)) continue;
      // A kind not served is asked about again now and then, not every pass.
      if ((this.probed.get(kind.kind) ?? 0) > now - PROBE_MS) continue;
      this.probed.set(kind.kind, now);
      const problem = await this.cluster.problem(kind);
      this.reported.report(`kind:${kind.kind}`, problem ?? '', () =>
        problem
          ? this.log.info(`front door does not watch ${kind.kind}`, { reason: problem })
          : this.log.info(`front door watches ${kind.kind}`, { apiVersion: apiVersionOf(kind) }),
      );
      if (problem) continue;
      this.watches.set(
        kind.kind,
        this.cluster.watch(kind, () => this.request()),
      );
    }
  }

  private async pass(): Promise<void> {
    const started = Date.now();
    await this.openWatches();
    const seen = new Map<string, Seen>();
    const synced = new Set<string>();
    for (const kind of this.kinds) {
      const watch = this.watches.get(kind.kind);
      if (!watch?.synced) continue;
      synced.add(kind.kind);
      for (const object of watch.list()) {
        // Another multi-cluster controller's object (MultiKueue's, say) is not Muster's to take.
        if (otherManager(kind, object)) continue;
        if (object.metadata.uid) seen.set(object.metadata.uid, { kind, object });
      }
    }
    const rows = await this.rows.list();
    const byUid = new Map(rows.map((r) => [r.uid, r]));
    await eachConcurrently([...seen.values()], CONCURRENT, async ({ kind, object }) => {
      const row = byUid.get(object.metadata.uid!);
      try {
        if (object.metadata.deletionTimestamp) {
          if (row) await this.gone(row, kind, 'is being deleted');
        } else if (!row) await this.take(kind, object);
        else if (row.jobId === null) await this.retry(kind, object, row);
        else await this.mirror(kind, object, row);
        this.reported.report(`object:${object.metadata.uid}`, undefined, () => undefined);
      } catch (err) {
        this.reported.report(`object:${object.metadata.uid}`, errorText(err), () =>
          this.log.warn('front door could not handle an object; retrying', {
            object: describeObject(object),
            err,
          }),
        );
      }
    });
    const missing = rows.filter((r) => !seen.has(r.uid) && synced.has(r.kind));
    await eachConcurrently(missing, CONCURRENT, async (row) => {
      const kind = this.kinds.find((k) => k.kind === row.kind)!;
      // The cache can lag behind another replica's take: only a read says the object is gone.
      const now = await this.cluster.get(kind, row.namespace, row.name);
      if (now && now.metadata.uid === row.uid && !now.metadata.deletionTimestamp) return;
      await this.gone(row, kind, 'was deleted');
    });
    this.log.debug('front door pass', {
      objects: seen.size,
      rows: rows.length,
      missing: missing.length,
      ms: Date.now() - started,
    });
  }

  /** A new object: kept from running here, then submitted or refused. */
  private async take(kind: WatchedKind, object: KubeObject): Promise<void> {
    await this.holdHere(kind, object);
    const outcome = await this.outcome(object);
    const uid = object.metadata.uid!;
    const inserted = await this.rows.insert({
      uid,
      apiVersion: object.apiVersion,
      kind: kind.kind,
      namespace: object.metadata.namespace ?? 'default',
      name: object.metadata.name,
      generation: object.metadata.generation ?? 0,
      jobId: 'jobId' in outcome ? outcome.jobId : null,
      refused: 'refused' in outcome ? refusalText(outcome.refused) : null,
    });
    // Another replica took it in the same moment: it tells the object.
    if (!inserted) return;
    if ('refused' in outcome) {
      await this.tellRefused(kind, object, outcome.refused);
      return;
    }
    this.log.info('front door took an object', {
      object: describeObject(object),
      job: outcome.jobId,
    });
    for (const warning of outcome.warnings)
      await this.cluster.event(object, 'Warning', 'Converted', warning);
    // Told at once that it was taken, not a pass later.
    const row = await this.rows.get(uid);
    if (row) await this.mirror(kind, object, row);
  }

  /** Submits what the object describes, or says why not. */
  private async outcome(
    object: KubeObject,
  ): Promise<{ jobId: string; warnings: string[] } | { refused: Refusal }> {
    const taken = intake(object, this.settings.rules, this.settings.limits, this.settings.labels);
    if ('refused' in taken) return taken;
    const requestId = clientRequestIdOf(object.metadata.uid!);
    try {
      const { jobId } = await this.jobs.submit(taken.spec, requestId);
      return { jobId, warnings: taken.warnings };
    } catch (err) {
      if (!(err instanceof MusterError)) throw err;
      // Submitted before (a crash came before its row) with another spec: the queue rules or the
      // object changed since. The job it became is the object's; it keeps its first spec.
      const earlier =
        err.code === ErrorCode.AlreadyExists ? await this.rows.jobOfRequest(requestId) : undefined;
      if (earlier)
        return {
          jobId: earlier,
          warnings: [
            'it was submitted before with another spec (the queue rules or the object changed since); the job keeps the spec it was first submitted with',
          ],
        };
      const field = err.field ? (taken.locate(err.field) ?? err.field) : '';
      return { refused: { field, message: messageOf(err) } };
    }
  }

  /** A refused object, looked at again: the queue it names may exist now, or the object changed. */
  private async retry(kind: WatchedKind, object: KubeObject, row: TakenObject): Promise<void> {
    const outcome = await this.outcome(object);
    const to =
      'jobId' in outcome
        ? { generation: object.metadata.generation ?? 0, jobId: outcome.jobId, refused: null }
        : {
            generation: object.metadata.generation ?? 0,
            jobId: null,
            refused: refusalText(outcome.refused),
          };
    if (to.refused === row.refused) {
      await this.writeBack(kind, object, refusedMirror(row.refused ?? ''));
      return;
    }
    if (!(await this.rows.retake(row.uid, row.refused, to))) return;
    if ('refused' in outcome) await this.tellRefused(kind, object, outcome.refused);
    else this.request();
  }

  private async tellRefused(kind: WatchedKind, object: KubeObject, r: Refusal): Promise<void> {
    const m = refusedMirror(refusalText(r));
    this.log.info('front door refused an object', {
      object: describeObject(object),
      reason: refusalText(r),
    });
    await this.writeBack(kind, object, m);
    await this.cluster.event(object, m.eventType, m.eventReason, m.eventMessage);
  }

  /** Mirrors the job onto its object: annotations, an Event per change, status when managed. */
  private async mirror(kind: WatchedKind, object: KubeObject, row: TakenObject): Promise<void> {
    if (!row.job) return;
    const m = jobMirror(row.jobId!, row.job);
    await this.writeBack(kind, object, m);
    if (m.key === row.mirrored) return;
    if (!(await this.rows.mirror(row.uid, row.mirrored, m.key))) return;
    await this.cluster.event(object, m.eventType, m.eventReason, m.eventMessage);
  }

  /**
   * The conditions (on managed objects), then the annotations: whoever reads the state
   * annotation finds the conditions already saying as much.
   */
  private async writeBack(kind: WatchedKind, object: KubeObject, m: Mirror): Promise<void> {
    if (isManaged(kind, object)) await this.writeStatus(kind, object, m);
    await this.annotate(kind, object, m);
  }

  private async annotate(kind: WatchedKind, object: KubeObject, m: Mirror): Promise<void> {
    const current = object.metadata.annotations ?? {};
    const changed = Object.entries(m.annotations).some(([k, v]) => (current[k] ?? null) !== v);
    if (!changed) return;
    await this.cluster.patch(kind, object, { metadata: { annotations: m.annotations } });
  }

  /** Replaces Muster's conditions in status.conditions, keeping the kind's own. */
  private async writeStatus(kind: WatchedKind, object: KubeObject, m: Mirror): Promise<void> {
    const found = valueAt(object, ['status', 'conditions']);
    const current = (Array.isArray(found) ? found : []) as Record<string, unknown>[];
    const now = new Date().toISOString();
    let changed = false;
    const ours = m.conditions.map((c) => {
      const old = current.find((o) => o.type === c.type);
      const same =
        old?.status === c.status && old?.reason === c.reason && old?.message === c.message;
      if (!same) changed = true;
      const since = old?.status === c.status ? old?.lastTransitionTime : undefined;
      return { ...c, lastTransitionTime: typeof since === 'string' ? since : now };
    });
    if (!changed) return;
    const types = new Set(m.conditions.map((c) => c.type));
    const kept = current.filter((c) => !types.has(String(c.type)));
    await this.cluster.patch(kind, object, { status: { conditions: [...kept, ...ours] } }, true);
  }

  /** Sets the kind's suspend flag unless Muster manages the object or it is suspended already. */
  private async holdHere(kind: WatchedKind, object: KubeObject): Promise<void> {
    if (isManaged(kind, object)) return;
    if (!kind.suspendPath) {
      await this.cluster.event(
        object,
        'Warning',
        'NotHeld',
        `a ${kind.kind} has no suspend or managedBy field: if the management cluster can run its pods, they run here as well as where Muster places the gang`,
      );
      return;
    }
    if (valueAt(object, kind.suspendPath) === true) return;
    await this.cluster.patch(kind, object, patchAt(kind.suspendPath, true));
    await this.cluster.event(
      object,
      'Warning',
      'Suspended',
      `Muster suspended it so that its pods do not start on the management cluster; create it with ${kind.suspendPath.join('.')}: true, or ${kind.managedByPath!.join('.')}: ${MUSTER_MANAGED_BY}`,
    );
  }

  /** The object is gone (or going): its job is cancelled and its row removed. */
  private async gone(row: TakenObject, kind: WatchedKind, what: string): Promise<void> {
    if (row.jobId && row.job && !isFinal(row.job.state)) {
      await this.jobs.cancel(
        row.jobId,
        `${kind.kind} ${row.namespace}/${row.name} ${what} on the management cluster`,
      );
      this.log.info('front door cancelled the job of a deleted object', {
        object: `${kind.kind} ${row.namespace}/${row.name}`,
        job: row.jobId,
      });
    }
    await this.rows.remove(row.uid);
  }
}

function isManaged(kind: WatchedKind, object: KubeObject): boolean {
  return (
    kind.managedByPath !== undefined && valueAt(object, kind.managedByPath) === MUSTER_MANAGED_BY
  );
}
