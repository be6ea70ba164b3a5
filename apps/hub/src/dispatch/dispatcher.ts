import {
  DispatchOutcome,
  MemberPhase,
  OnClusterLost,
  type DispatchAnswer,
  type GangRef,
  type MemberState,
} from '@muster/api';
import type { Placement } from '@muster/placement';
import type { Log } from '@muster/log';
import { QUEUE_DRIVER, type QueueDriver, type WorkDefinition } from '../queue/queue-driver';
import { excludesCluster } from './cluster-exclusion';
import { AgentRegistry, type AgentSession } from '../agents/agent-session';
import {
  DispatchRepository,
  type GangTransition,
  type MemberPhaseName,
  type MemberReport,
} from './dispatch.repository';
import { Inject, Injectable } from '@nestjs/common';
import { JobEventFeed } from '../jobs/job-event-feed';
import { claimTemplatesToProto } from '../jobs/job.proto-mapper';
import type { GangCanceller } from '../jobs/jobs.service';
import { CycleRequests } from '../scheduling/cycle-requests';
import { InjectLog } from '../logging/inject-log';
import { HubMetrics } from '../http/metrics';

export interface DeliveryPayload {
  /** `notice`: an eviction notice (the gang's eviction is read when it is sent). */
  kind: 'dispatch' | 'cancel' | 'notice';
  jobId: string;
  cluster: string;
  fencingToken: number;
}

export const DISPATCH_SETTINGS = Symbol('DISPATCH_SETTINGS');

export interface DispatchSettings {
  /** Longest wait before a rejected gang is placed again, in seconds. */
  maxRequeueBackoffSeconds: number;
  /** How long a cluster that could not run a gang is avoided by that gang, in seconds. */
  clusterExclusionSeconds: number;
  /** A gang rejected this many times fails instead of being placed again; 0: never. */
  maxDispatchAttempts: number;
  /**
   * A queued delivery of a dispatch the agent's stream carried less than this long ago is
   * dropped, in ms: the agent has it (a stream is reliable and ordered; a new stream is resynced
   * whole). The reconciler re-queues a gang left unanswered longer, which is the retry.
   */
  resendAfterMs: number;
}

const PHASES: Record<number, MemberPhaseName | undefined> = {
  [MemberPhase.MEMBER_PHASE_PENDING]: 'Pending',
  [MemberPhase.MEMBER_PHASE_RUNNING]: 'Running',
  [MemberPhase.MEMBER_PHASE_SUCCEEDED]: 'Succeeded',
  [MemberPhase.MEMBER_PHASE_FAILED]: 'Failed',
  [MemberPhase.MEMBER_PHASE_LOST]: 'Lost',
};

/**
 * Delivers dispatches and cancels to agents through a retried BullMQ queue, and turns agents'
 * answers and member states into job state changes.
 */
@Injectable()
export class Dispatcher implements WorkDefinition<DeliveryPayload>, GangCanceller {
  readonly queue = 'dispatch';
  readonly name = 'deliver';

  constructor(
    private readonly repo: DispatchRepository,
    private readonly agents: AgentRegistry,
    @Inject(QUEUE_DRIVER) private readonly queues: QueueDriver,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
    private readonly feed: JobEventFeed,
    private readonly trigger: CycleRequests,
    private readonly metrics: HubMetrics,
    @InjectLog('dispatch') private readonly log: Log,
  ) {}

  /** Queues delivery of freshly reserved gangs (after their reservation committed). */
  async enqueueDispatches(reserved: GangTransition[], idSuffix = ''): Promise<void> {
    await this.queues.addBulk(
      this,
      reserved.map((r) => ({
        payload: {
          kind: 'dispatch' as const,
          jobId: r.jobId,
          cluster: r.cluster,
          fencingToken: r.fencingToken,
        },
        options: { id: `dispatch.${r.jobId}.${r.fencingToken}${idSuffix}`, attempts: 30 },
      })),
    );
  }

  /** A cancelled gang's capacity frees up once its agent deleted it: tell the agent, wake a cycle. */
  async cancelGang(jobId: string, cluster: string, fencingToken: number): Promise<void> {
    this.trigger.requestCycle('cancel');
    await this.enqueueCancel(jobId, cluster, fencingToken);
  }

  async enqueueCancel(
    jobId: string,
    cluster: string,
    fencingToken: number,
    options: { delayMs?: number; idSuffix?: string } = {},
  ): Promise<void> {
    await this.queues.add(
      this,
      { kind: 'cancel', jobId, cluster, fencingToken },
      {
        id: `cancel.${jobId}.${fencingToken}${options.idSuffix ?? ''}`,
        attempts: 30,
        ...(options.delayMs ? { delayMs: options.delayMs } : {}),
      },
    );
  }

  /** Queues the eviction notices of gangs just given an eviction (after it committed). */
  async enqueueNotices(gangs: readonly GangTransition[], idSuffix = ''): Promise<void> {
    await this.queues.addBulk(
      this,
      gangs.map((g) => ({
        payload: {
          kind: 'notice' as const,
          jobId: g.jobId,
          cluster: g.cluster,
          fencingToken: g.fencingToken,
        },
        options: { id: `notice.${g.jobId}.${g.fencingToken}${idSuffix}`, attempts: 30 },
      })),
    );
  }

  /** Runs one delivery; throws (and so is retried with backoff) while the cluster's agent is not connected here. */
  async run(p: DeliveryPayload): Promise<void> {
    const session = this.agents.get(p.cluster);
    if (!session) throw new Error(`agent of cluster ${p.cluster} is not connected to this hub`);
    if (p.kind === 'notice') {
      await this.sendNotice(session, p.jobId, p.fencingToken);
      return;
    }
    if (p.kind === 'cancel') {
      session.send({
        message: {
          $case: 'cancel',
          cancel: { gangId: p.jobId, fencingToken: p.fencingToken, reason: 'cancelled' },
        },
      });
      return;
    }
    // Deliveries of one dispatch pile up while its agent is away (the reconciler's at start-up,
    // their retries); the resync on connect already sent it.
    if (session.sentWithin(p.jobId, p.fencingToken, this.settings.resendAfterMs)) return;
    await this.sendDispatch(session, p.jobId, p.fencingToken);
  }

  /** Sends a Reserved gang to its agent; does nothing when the gang moved on. */
  async sendDispatch(session: AgentSession, jobId: string, fencingToken: number): Promise<boolean> {
    const gang = await this.repo.reservedGang(jobId, fencingToken);
    if (!gang || gang.cluster !== session.cluster) return false;
    const placement = gang.placement as Placement;
    const sent = session.send({
      message: {
        $case: 'dispatch',
        dispatch: {
          gangId: gang.jobId,
          jobId: gang.jobId,
          fencingToken: gang.fencingToken,
          namespace: gang.namespace,
          onClusterLost:
            gang.onClusterLost === 'requeue'
              ? OnClusterLost.ON_CLUSTER_LOST_REQUEUE
              : OnClusterLost.ON_CLUSTER_LOST_WAIT,
          labels: gang.labels,
          podSets: gang.gang.podSets.map((ps) => {
            const where = placement.podSets.find((x) => x.podSet === ps.name);
            return {
              name: ps.name,
              podTemplateJson: JSON.stringify(ps.template),
              members: (where?.nodes ?? []).map((node, index) => ({ index, nodeName: node })),
              domainLevel: where?.domain?.level ?? '',
              domainValue: where?.domain?.value ?? '',
            };
          }),
          resourceClaimTemplates: claimTemplatesToProto(gang.gang.claimTemplates),
        },
      },
    });
    if (!sent) throw new Error(`stream of cluster ${session.cluster} closed`);
    session.noteSent(jobId, fencingToken);
    this.log.debug('dispatch sent', gangFields(jobId, session.cluster, fencingToken));
    return true;
  }

  /**
   * Sends a gang's eviction notice with the grace left: all of it until the agent confirmed the
   * notice (the grace counts from there), then what remains before the deadline. A gang past its
   * deadline gets its Cancel instead. Does nothing when the gang has no eviction.
   */
  async sendNotice(session: AgentSession, jobId: string, fencingToken: number): Promise<void> {
    const eviction = await this.repo.evictionOf(session.cluster, jobId, fencingToken);
    if (!eviction) return;
    const left = eviction.deadline
      ? Math.ceil((Date.parse(eviction.deadline) - Date.now()) / 1000)
      : eviction.graceSeconds;
    const sent = session.send(
      left <= 0 && eviction.deadline
        ? {
            message: {
              $case: 'cancel',
              cancel: { gangId: jobId, fencingToken, reason: eviction.reason },
            },
          }
        : {
            message: {
              $case: 'evictionNotice',
              evictionNotice: {
                gangId: jobId,
                fencingToken,
                reason: eviction.reason,
                message: eviction.message,
                graceSeconds: Math.max(0, left),
              },
            },
          },
    );
    if (!sent) throw new Error(`stream of cluster ${session.cluster} closed`);
  }

  /**
   * The agent says the gang's members carry the notice: the grace period starts, and the Cancel
   * that deletes them is queued for its end (the reconciler sends it again should it be lost).
   */
  async onEvictionNoticed(cluster: string, jobId: string, fencingToken: number): Promise<void> {
    const deadline = await this.repo.noteNoticed(cluster, jobId, fencingToken);
    if (!deadline) return;
    this.feed.notify();
    this.log.info('eviction notice confirmed', {
      ...gangFields(jobId, cluster, fencingToken),
      deadline: deadline.toISOString(),
    });
    await this.enqueueCancel(jobId, cluster, fencingToken, {
      delayMs: Math.max(0, deadline.getTime() - Date.now()),
      idSuffix: '.evicted',
    });
  }

  /**
   * On (re)connect: resend every Reserved gang of the cluster, then its authoritative list, then
   * the notices of its gangs being evicted (the Cancel of those past their deadline).
   */
  async resync(session: AgentSession): Promise<void> {
    for (const r of await this.repo.reservedOn(session.cluster))
      await this.sendDispatch(session, r.jobId, r.fencingToken);
    await this.sendGangList(session);
    for (const e of await this.repo.evicting(session.cluster))
      await this.sendNotice(session, e.jobId, e.fencingToken);
  }

  /**
   * Sends the gangs the cluster should hold. Dispatches sent while the list was being read are
   * added, so a gang reserved during the read is never fenced by mistake.
   */
  async sendGangList(session: AgentSession): Promise<void> {
    session.beginListRead();
    // Numbered before the read: a list read later always carries a higher generation.
    const generation = await this.repo.nextListGeneration();
    const live = await this.repo.liveGangsOn(session.cluster);
    const gangs = new Map(live.map((g) => [g.jobId, g.fencingToken]));
    for (const [jobId, token] of session.endListRead())
      if ((gangs.get(jobId) ?? -1) < token) gangs.set(jobId, token);
    session.send({
      message: {
        $case: 'gangList',
        gangList: {
          gangs: [...gangs].map(([gangId, fencingToken]) => ({ gangId, fencingToken })),
          generation,
        },
      },
    });
  }

  async onAnswer(cluster: string, answer: DispatchAnswer): Promise<void> {
    const fields = gangFields(answer.gangId, cluster, answer.fencingToken);
    if (answer.outcome === DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED) {
      const reservedFor = await this.repo.accept(cluster, answer.gangId, answer.fencingToken);
      if (reservedFor !== null) {
        this.metrics.dispatchSeconds.observe(reservedFor);
        this.log.info('gang dispatched', fields);
        this.feed.notify();
        return;
      }
      // Not the current placement (a repeated answer for it is fine): that copy must not run.
      const now = await this.repo.currentPlacement(answer.gangId);
      const current = now?.cluster === cluster && now.fencingToken === answer.fencingToken;
      if (now && !current) {
        this.log.warn('accepted a dispatch that is no longer current; cancelling that copy', {
          ...fields,
          currentCluster: now.cluster ?? undefined,
          currentToken: now.fencingToken,
          state: now.state,
        });
        await this.enqueueCancel(answer.gangId, cluster, answer.fencingToken);
      }
      return;
    }
    if (answer.outcome === DispatchOutcome.DISPATCH_OUTCOME_REJECTED) {
      const cap = this.settings.maxDispatchAttempts;
      if (cap > 0 && (await this.repo.attemptsOf(answer.gangId)) + 1 >= cap) {
        // A gang no cluster can create (an admission webhook refuses it, say) must end, not loop.
        const failed = await this.repo.failPlaced(
          cluster,
          answer.gangId,
          answer.fencingToken,
          'TooManyAttempts',
          `rejected ${cap} times (MUSTER_MAX_DISPATCH_ATTEMPTS); the last time ${cluster} said: ${answer.reason || 'Rejected'}: ${answer.message || answer.reason}`,
        );
        if (failed) {
          this.log.warn('gang rejected too often; failed', { ...fields, attempts: cap });
          this.feed.notify();
          this.trigger.requestCycle('rejection');
        }
        return;
      }
      const requeued = await this.repo.requeue(
        cluster,
        answer.gangId,
        answer.fencingToken,
        answer.reason || 'Rejected',
        `${cluster} rejected the gang: ${answer.message || answer.reason}`,
        this.settings.maxRequeueBackoffSeconds,
        excludesCluster(answer.reason)
          ? {
              exclude: {
                reason: answer.reason,
                message: answer.message || answer.reason,
                seconds: this.settings.clusterExclusionSeconds,
              },
            }
          : {},
      );
      if (requeued) {
        this.log.info('gang rejected; requeued with backoff', {
          ...fields,
          reason: answer.reason,
          error: answer.message,
          excluded: excludesCluster(answer.reason) || undefined,
        });
        this.feed.notify();
        this.trigger.requestCycle('rejection');
      }
    }
  }

  /** An agent's snapshot: gangs placed on its cluster that it no longer holds are settled. */
  async onHeldGangs(cluster: string, held: readonly GangRef[]): Promise<void> {
    const transitions = await this.repo.reconcileHeld(
      cluster,
      held,
      this.settings.maxRequeueBackoffSeconds,
    );
    if (transitions.length === 0) return;
    this.feed.notify();
    for (const t of transitions)
      this.log.warn('gang no longer held by its cluster', {
        ...gangFields(t.jobId, cluster, t.fencingToken),
        state: t.state,
      });
    this.trigger.requestCycle('gang vanished');
  }

  async onMemberStates(cluster: string, states: MemberState[]): Promise<void> {
    const reports: MemberReport[] = [];
    for (const s of states) {
      const phase = PHASES[s.phase];
      if (!phase) continue;
      reports.push({
        jobId: s.gangId,
        fencingToken: s.fencingToken,
        podSet: s.podSet,
        index: s.index,
        phase,
        reason: s.reason.slice(0, 256),
        exitCode: s.exitCode,
        nodeName: s.nodeName,
      });
    }
    const transitions = await this.repo.applyMemberStates(
      cluster,
      reports,
      this.settings.maxRequeueBackoffSeconds,
    );
    this.feed.notify();
    for (const t of transitions) {
      this.log.info(
        t.teardown ? 'gang restarting: deleting every member' : `gang ${t.state.toLowerCase()}`,
        { ...gangFields(t.jobId, cluster, t.fencingToken), state: t.state },
      );
      // A failed gang, or one restarting, goes whole: the agent deletes every member left.
      if (t.state === 'Failed' || t.teardown)
        await this.enqueueCancel(t.jobId, cluster, t.fencingToken);
    }
    if (transitions.some((t) => ['Succeeded', 'Failed', 'Queued'].includes(t.state)))
      this.trigger.requestCycle('gang ended or requeued');
  }
}

/**
 * What a line about a gang carries, named as the agent names it. A job has one gang, whose id is
 * the job's id: the line says both, so a query by either finds it in the hub and the agent.
 */
function gangFields(jobId: string, cluster: string, token: number) {
  return { job: jobId, gang: jobId, cluster, token };
}
