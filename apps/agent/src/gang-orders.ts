// What the hub orders about gangs, turned into ledger events: a Dispatch (planned into pods first,
// with the fence terms in force), a Cancel, an authoritative gang list (the fencing list). The
// ledger decides; GangEffects carries out what it returns.
import { gangRefKey } from '@muster/common';
import type { AuthoritativeGangList, Cancel, Dispatch, EvictionNotice } from '@muster/api';
import type { Log } from '@muster/log';
import type { ClusterWatch } from './cluster-watch';
import type { EvictionNotices } from './eviction-notices';
import type { AgentConfig } from './config';
import { fenceTermsFor } from './fencing';
import type { GangEffects } from './gang-effects';
import type { Lease } from './lease';
import type { Ledger, PlanFacts } from './ledger';
import { REJECTED, type Outcome } from './materialise';
import { planGang } from './pod-builder';

export interface GangOrdersOptions {
  config: AgentConfig;
  ledger: Ledger;
  lease: Lease;
  effects: GangEffects;
  watch: ClusterWatch;
  /** Gangs get a PodGroup (Workload API mode). */
  workloadApi: boolean;
  notices: EvictionNotices;
  log: Log;
}

export class GangOrders {
  private readonly log: Log;
  private readonly config: AgentConfig;
  private readonly ledger: Ledger;
  private readonly lease: Lease;
  private readonly effects: GangEffects;

  constructor(private readonly options: GangOrdersOptions) {
    this.log = options.log.child({ component: 'gang-orders' });
    this.config = options.config;
    this.ledger = options.ledger;
    this.lease = options.lease;
    this.effects = options.effects;
  }

  private logOf(gangId: string, token: number): Log {
    return this.log.child({ gang: gangId, job: this.effects.jobOf(gangId, token), token });
  }

  onDispatch(d: Dispatch): void {
    const log = this.log.child({ gang: d.gangId, job: d.jobId, token: d.fencingToken });
    const key = gangRefKey(d.gangId, d.fencingToken);
    const before = this.ledger.record(d.gangId, d.fencingToken);
    // The hub told the terms on this stream before any dispatch; recorded on the pods so that a
    // restarted agent that cannot reach the hub still fences the gang (pods are the only state
    // that outlives the agent; a Dispatch is not read again after a restart).
    const terms = this.lease.told ?? fenceTermsFor(undefined, {}, this.config.selfFenceTimeoutMs);
    const planned = planGang(d, {
      workloadApi: this.options.workloadApi,
      fenceTerms: this.lease.told,
    });
    const plan: PlanFacts | Outcome = planned.ok
      ? {
          jobId: planned.plan.jobId,
          namespace: planned.plan.namespace,
          size: planned.plan.members.length,
          onClusterLost: planned.plan.onClusterLost,
          terms,
        }
      : { outcome: REJECTED, ...planned.error };
    const effects = this.ledger.apply(
      d.gangId,
      { kind: 'dispatch', token: d.fencingToken, jobId: d.jobId, plan },
      this.lease.moment(),
    );
    const stale = effects.find((e) => e.kind === 'answer' && e.outcome.reason === 'StaleToken');
    if (stale?.kind === 'answer') {
      // Answered, not ignored: a hub whose generation went back (a restored database) learns
      // the token to jump past instead of redelivering forever (review 2.21).
      log.info('rejecting dispatch with a stale fencing token', { knownToken: stale.known });
    } else if (before && (before.stage === 'creating' || before.stage === 'ungating')) {
      log.info('repeated dispatch while materialising; answering when done', {});
    } else if (before?.answer) {
      log.info('repeated dispatch; answering again', {});
    }
    if (planned.ok && effects.some((e) => e.kind === 'create' && e.token === d.fencingToken)) {
      this.effects.addPlan(key, { plan: planned.plan, terms, at: performance.now() });
      this.options.watch.untrustCopies(
        planned.plan.gangId,
        planned.plan.token,
        planned.plan.namespace,
      );
    }
    this.effects.carryOut(effects);
  }

  onCancel(c: Cancel): void {
    const log = this.logOf(c.gangId, c.fencingToken);
    const effects = this.ledger.apply(
      c.gangId,
      { kind: 'cancel', token: c.fencingToken },
      this.lease.moment(),
    );
    log.info('cancel: deleting the gang', {
      reason: c.reason || undefined,
      tokens: effects.filter((e) => e.kind === 'delete').length,
    });
    this.effects.carryOut(effects);
  }

  onEvictionNotice(n: EvictionNotice): void {
    this.logOf(n.gangId, n.fencingToken).info('eviction notice: marking the members', {
      reason: n.reason,
      graceSeconds: n.graceSeconds,
    });
    this.options.notices.onNotice(n);
  }

  onGangList(list: AuthoritativeGangList): void {
    const effects = this.ledger.applyList(list.generation, list.gangs, this.lease.moment());
    if (!effects) {
      this.log.info('ignoring a stale authoritative gang list', {
        generation: list.generation,
        lastApplied: this.ledger.lastListGeneration,
      });
      return;
    }
    this.log.info('authoritative gang list applied', {
      generation: list.generation,
      listed: list.gangs.length,
      fenced: effects.filter((e) => e.kind === 'delete' && e.reason === 'Fenced').length,
    });
    this.effects.carryOut(effects);
  }
}
