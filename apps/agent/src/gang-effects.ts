// Carries out what the ledger decides about gangs: feeds it events (what the pods show of a gang,
// a create or ungate step ending) and performs the effects it returns — create the members gated
// and ungate them (materialise.ts, with its rollback), delete every member of a (gang, token), its
// PodGroup and its ResourceClaimTemplates (with the grace fencing allows), answer the hub. Keeps the plans dispatched in this
// process and the pod deletes in flight; makes no decision of its own (ledger.ts does).
import { gangRefKey, errorText, splitGangRefKey } from '@muster/common';
import type { Log } from '@muster/log';
import type { AgentConfig } from './config';
import { fenceDeleteGrace, type FenceTerms, type HeldGang } from './fencing';
import type { KubeClient } from './kube';
import type { Lease } from './lease';
import { stopReason, type Effect, type GangEvent, type Ledger, type Presence } from './ledger';
import {
  createMembers,
  deleteClaimTemplates,
  deletePods,
  REJECTED,
  ungateMembers,
  type CreateResult,
  type CreateTiming,
  type MaterialiseContext,
  type Outcome,
} from './materialise';
import { schedulerReason, type ClusterModel } from './model';
import { gangPodGroupName } from './naming';
import { podKey } from './objects';
import type { GangPlan } from './pod-builder';

/** Deletes made for these reasons are fencing: their grace is bounded by what the hub told. */
const FENCING_REASONS = new Set(['SelfFenced', 'Fenced']);

/** A plan dispatched in this process: what the create, ungate and delete effects carry out. */
export interface KnownPlan {
  plan: GangPlan;
  /** The fence terms in force when the dispatch arrived (recorded on its pods too). */
  terms: FenceTerms | undefined;
  /** Set once every member exists (the create step's timing, for the materialised log). */
  timing?: CreateTiming;
  at: number;
}

/** What the effects reach beyond the pods (ClusterWatch and HubSession; wired in agent.ts). */
export interface EffectTargets {
  /** The namespaces holding a PodGroup of (gang, token). */
  groupNamespaces(gangId: string, token: number): string[];
  /** Deletes a PodGroup of Muster's unless it is already going. */
  deleteGroup(namespace: string, name: string, why: string, log: Log): void;
  /** Sends a dispatch answer, or keeps it for the next stream. */
  sendAnswer(gangId: string, token: number, o: Outcome, log: Log, opts: { keep?: boolean }): void;
  /** The hub has answered on the current stream. */
  hubUp(): boolean;
}

export interface GangEffectsOptions {
  config: AgentConfig;
  kube: KubeClient;
  model: ClusterModel;
  ledger: Ledger;
  lease: Lease;
  /** Gangs have PodGroups (Workload API mode). */
  workloadApi: boolean;
  targets: EffectTargets;
  log: Log;
}

export class GangEffects {
  private readonly log: Log;
  private readonly config: AgentConfig;
  private readonly kube: KubeClient;
  private readonly model: ClusterModel;
  private readonly ledger: Ledger;
  private readonly lease: Lease;
  private readonly targets: EffectTargets;
  /** Plans dispatched in this process, by gang key: what the effects carry out (no decisions). */
  private readonly plans = new Map<string, KnownPlan>();
  /** Pod keys with a delete request in flight (so fencing does not repeat it every tick). */
  private readonly deleting = new Set<string>();
  /** ResourceClaimTemplate keys with a delete request in flight. */
  private readonly deletingTemplates = new Set<string>();

  constructor(private readonly options: GangEffectsOptions) {
    this.log = options.log.child({ component: 'gang-effects' });
    this.config = options.config;
    this.kube = options.kube;
    this.model = options.model;
    this.ledger = options.ledger;
    this.lease = options.lease;
    this.targets = options.targets;
  }

  /** Keeps the plan of a dispatch the ledger decided to create. */
  addPlan(key: string, known: KnownPlan): void {
    this.plans.set(key, known);
  }

  /** The namespace of the plan of (gang, token) dispatched in this process, if any. */
  planNamespace(gangId: string, token: number): string | undefined {
    return this.plans.get(gangRefKey(gangId, token))?.plan.namespace;
  }

  /** Every (gang, token) the agent holds or is materialising (the ledger's held set). */
  held(): HeldGang[] {
    return this.ledger.held();
  }

  jobOf(gangId: string, token: number): string | undefined {
    return (
      this.model.gang(gangId, token)?.jobId || this.ledger.record(gangId, token)?.jobId || undefined
    );
  }

  private logOf(gangId: string, token: number): Log {
    return this.log.child({ gang: gangId, job: this.jobOf(gangId, token), token });
  }

  private feed(gangId: string, e: GangEvent): void {
    this.carryOut(this.ledger.apply(gangId, e, this.lease.moment()));
  }

  carryOut(effects: readonly Effect[]): void {
    for (const e of effects) {
      const log = this.logOf(e.gangId, e.token);
      switch (e.kind) {
        case 'create':
          this.runCreate(e.gangId, e.token, log);
          break;
        case 'ungate':
          this.runUngate(e.gangId, e.token, log);
          break;
        case 'delete':
          this.runDelete(e, log);
          break;
        case 'answer':
          this.targets.sendAnswer(e.gangId, e.token, e.outcome, log, { keep: e.keep });
          break;
        case 'gaveUp':
          log.warn(
            'no word from the hub within the self-fence timeout; giving up a materialisation',
            {
              silentForMs: Math.round(this.lease.silentFor(performance.now())),
            },
          );
          break;
      }
    }
  }

  /** What the pod informer shows of (gang, token), for the ledger. */
  private presenceOf(gangId: string, token: number): Presence | undefined {
    const g = this.model.gang(gangId, token);
    if (!g) return undefined;
    const members = [...g.members.values()];
    return {
      jobId: g.jobId,
      size: g.size,
      bound: g.bound,
      fullyBound: g.fullyBound,
      unbound: members.some((p) => !p.nodeName && !p.terminal && !p.deleting),
      undeleted: members.some((p) => !p.deleting && !this.deleting.has(p.key)),
      onClusterLost: g.onClusterLost,
      recorded: g.recordedTerms,
      // Only read for a BindTimeout message; not worth a scan of every member once bound.
      schedulerReason: g.fullyBound ? '' : schedulerReason(g),
    };
  }

  /** Tells the ledger what the cluster now shows of (gang, token). */
  refresh(gangId: string, token: number): void {
    this.feed(gangId, { kind: 'pods', token, presence: this.presenceOf(gangId, token) });
  }

  /** The pod `key` is gone: a delete of it in flight is over. */
  podGone(key: string): void {
    this.deleting.delete(key);
  }

  private materialiseContext(gangId: string, token: number, log: Log): MaterialiseContext {
    return {
      pods: this.kube,
      concurrency: this.config.createConcurrency,
      log,
      abandoned: () => {
        // Asked before every create and ungate, on the clock of that moment: an agent resuming
        // from a stop must not release members of a gang the hub may have moved meanwhile.
        const m = this.lease.moment();
        const record = this.ledger.record(gangId, token);
        const why = stopReason(record, m);
        if (why && record && !record.abandon)
          this.carryOut(this.ledger.apply(gangId, { kind: 'tick' }, m));
        return why;
      },
      noteDeletion: (k, reason) => this.model.noteDeletion(k, reason),
    };
  }

  private runCreate(gangId: string, token: number, log: Log): void {
    const known = this.plans.get(gangRefKey(gangId, token));
    if (!known) {
      const failed = internalError(new Error('no plan for the gang'));
      return this.feed(gangId, { kind: 'created', token, failed });
    }
    const plan = known.plan;
    log.info('materialising gang', {
      members: plan.members.length,
      namespace: plan.namespace,
      onClusterLost: plan.onClusterLost,
    });
    void createMembers(plan, this.materialiseContext(gangId, token, log))
      .catch((err): CreateResult => ({ ok: false, outcome: internalError(err) }))
      .then((r) => {
        if (r.ok) {
          known.timing = r.timing;
          this.feed(gangId, { kind: 'created', token });
        } else {
          this.feed(gangId, { kind: 'created', token, failed: r.outcome });
        }
      });
  }

  private runUngate(gangId: string, token: number, log: Log): void {
    const known = this.plans.get(gangRefKey(gangId, token));
    if (!known?.timing) {
      const outcome = internalError(new Error('no plan for the gang'));
      return this.feed(gangId, { kind: 'ungated', token, outcome });
    }
    void ungateMembers(known.plan, this.materialiseContext(gangId, token, log), known.timing)
      .catch(internalError)
      .then((outcome) => this.feed(gangId, { kind: 'ungated', token, outcome }));
  }

  private runDelete(e: Extract<Effect, { kind: 'delete' }>, log: Log): void {
    if (e.first) {
      switch (e.reason) {
        case 'Superseded':
          log.info('deleting members of a superseded fencing token', {});
          break;
        case 'Fenced':
          log.warn('gang not on the authoritative list; deleting it', {});
          break;
        case 'BindTimeout': {
          const g = this.model.gang(e.gangId, e.token);
          log.warn('gang not bound within the bind timeout; deleting it', {
            bindTimeoutMs: this.config.bindTimeoutMs,
            bound: g?.bound ?? 0,
            size: g?.size ?? 0,
          });
          break;
        }
        case 'SelfFenced': {
          const g = this.model.gang(e.gangId, e.token);
          const terms = g
            ? this.lease.termsOfGang(g)
            : this.plans.get(gangRefKey(e.gangId, e.token))?.terms;
          log.warn('no word from the hub within the self-fence timeout; deleting requeue gang', {
            silentForMs: Math.round(this.lease.silentFor(performance.now())),
            selfFenceTimeoutMs: terms?.selfFenceTimeoutMs,
            fenceDeleteGraceSeconds: terms?.deleteGraceSeconds,
            streamUp: this.targets.hubUp(),
          });
          break;
        }
      }
    }
    this.deleteGang(e.gangId, e.token, e.reason, log);
  }

  private inFlight(gangId: string, token: number): boolean {
    const stage = this.ledger.record(gangId, token)?.stage;
    return stage === 'creating' || stage === 'ungating';
  }

  /** Deletes every member of (gang, token) the agent knows of: seen in the cluster or planned. */
  private deleteGang(gangId: string, token: number, reason: string, log: Log): void {
    const entry = this.model.gang(gangId, token);
    const known = this.plans.get(gangRefKey(gangId, token));
    const plan = known?.plan;
    // A materialisation in flight deletes its own members when it stops (its rollback).
    const inFlight = this.inFlight(gangId, token);
    // Fencing deletes are bounded so that a fenced gang is gone within the grace the hub counted
    // on (selfFence + grace < workerLost); other deletes leave each pod its own grace.
    const toldGrace = FENCING_REASONS.has(reason)
      ? (entry ? this.lease.termsOfGang(entry) : (known?.terms ?? this.lease.told))
          ?.deleteGraceSeconds
      : undefined;
    /** namespace → pod name → gracePeriodSeconds (undefined: the pod's own). */
    const byNamespace = new Map<string, Map<string, number | undefined>>();
    const add = (ns: string, name: string, podGrace: number | undefined) => {
      let s = byNamespace.get(ns);
      if (!s) byNamespace.set(ns, (s = new Map()));
      if (!s.has(name)) s.set(name, fenceDeleteGrace(podGrace, toldGrace));
    };
    for (const p of entry?.members.values() ?? [])
      if (!p.deleting) add(p.namespace, p.name, p.terminationGraceSeconds);
    if (plan && !inFlight) {
      for (const m of plan.members) {
        const p = this.model.pod(podKey(plan.namespace, m.name));
        if (!p?.deleting) add(plan.namespace, m.name, p?.terminationGraceSeconds);
      }
    }
    if (this.options.workloadApi && !inFlight) {
      // The gang's PodGroup goes with it (an in-flight materialisation's rollback deletes its own).
      const group = gangPodGroupName(gangId, token);
      const namespaces = new Set(byNamespace.keys());
      if (plan) namespaces.add(plan.namespace);
      for (const ns of this.targets.groupNamespaces(gangId, token)) namespaces.add(ns);
      for (const ns of namespaces) this.targets.deleteGroup(ns, group, reason, log);
    }
    if (!inFlight) this.deleteTemplates(gangId, token, known, reason, log);
    let requested = false;
    for (const [ns, pods] of byNamespace) {
      const byGrace = new Map<number | undefined, string[]>();
      for (const [n, grace] of pods) {
        if (this.deleting.has(podKey(ns, n))) continue;
        const names = byGrace.get(grace);
        if (names) names.push(n);
        else byGrace.set(grace, [n]);
      }
      for (const [grace, todo] of byGrace) {
        for (const n of todo) this.deleting.add(podKey(ns, n));
        requested = true;
        void deletePods(
          this.kube,
          ns,
          todo,
          this.config.createConcurrency,
          reason,
          (k, r) => this.model.noteDeletion(k, r),
          grace,
        ).then(({ deleted, left }) => {
          for (const n of todo) this.deleting.delete(podKey(ns, n));
          if (left.length > 0) {
            log.warn('some member pods could not be deleted; retrying', {
              reason,
              left: left.length,
            });
          } else {
            log.debug('member pods deleted', { reason, deleted, gracePeriodSeconds: grace });
          }
          this.refresh(gangId, token);
        });
      }
    }
    // Members with a delete in flight are not "undeleted": no sweep repeats it meanwhile.
    if (requested) this.refresh(gangId, token);
  }

  /**
   * Deletes the gang's ResourceClaimTemplates: those of its plan, and those its members name (an
   * agent restarted since has no plan). The claims made from them are owned by the pods and go
   * with them (garbage collection); deleting a template leaves existing claims alone.
   */
  private deleteTemplates(
    gangId: string,
    token: number,
    known: KnownPlan | undefined,
    reason: string,
    log: Log,
  ): void {
    const byNamespace = new Map<string, Set<string>>();
    const add = (ns: string, name: string) => {
      if (this.deletingTemplates.has(podKey(ns, name))) return;
      let s = byNamespace.get(ns);
      if (!s) byNamespace.set(ns, (s = new Set()));
      s.add(name);
    };
    for (const t of known?.plan.claimTemplates ?? []) add(known!.plan.namespace, t.metadata.name);
    for (const p of this.model.gang(gangId, token)?.members.values() ?? [])
      for (const t of p.claimTemplates) add(p.namespace, t);
    for (const [ns, names] of byNamespace) {
      const todo = [...names];
      for (const n of todo) this.deletingTemplates.add(podKey(ns, n));
      void deleteClaimTemplates(this.kube, ns, todo).then((left) => {
        for (const n of todo) this.deletingTemplates.delete(podKey(ns, n));
        if (left.length > 0)
          log.warn('could not delete ResourceClaimTemplates of a gang', { reason, left });
        else log.debug('ResourceClaimTemplates deleted', { reason, templates: todo });
      });
    }
  }

  /** Forgets plans the ledger no longer keeps, and those a minute old whose gang is gone. */
  prunePlans(now: number): void {
    for (const [key, plan] of this.plans) {
      const [g, t] = splitGangRefKey(key);
      const record = this.ledger.record(g, t);
      if (!record || (now - plan.at > 60_000 && !this.model.gang(g, t) && !this.inFlight(g, t)))
        this.plans.delete(key);
    }
  }
}

function internalError(err: unknown): Outcome {
  return { outcome: REJECTED, reason: 'InternalError', message: errorText(err) };
}
