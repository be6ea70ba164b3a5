// The agent: keeps the cluster model live from the informers, reports it to the hub, and carries
// out the hub's dispatches, cancels and fencing lists on the worker cluster.
import { randomBytes } from 'node:crypto';
import type {
  KubernetesListObject,
  KubernetesObject,
  V1Node,
  V1Pod,
} from '@kubernetes/client-node';
import {
  DispatchOutcome,
  GangScheduling,
  type AuthoritativeGangList,
  type Cancel,
  type ConnectRequest,
  type ConnectResponse,
  type Dispatch,
  type HelloAck,
} from '@muster/api';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, errorText, gangRefKey } from '@muster/common';
import type { AgentConfig } from './config';
import {
  fenceDeleteGrace,
  fenceTermsFor,
  gangRefsOf,
  HubLease,
  termsOfHelloAck,
  type FenceTerms,
  type HeldGang,
} from './fencing';
import { HubLink } from './hub-link';
import { MemberOutbox } from './member-outbox';
import { hubTransport } from './tls';
import { ResilientInformer } from './informers';
import { KubeClient, loadKubeConfig, type PodGroupLike } from './kube';
import type { Log } from '@muster/log';
import {
  createMembers,
  deletePodGroup,
  deletePods,
  REJECTED,
  ungateMembers,
  type CreateResult,
  type CreateTiming,
  type MaterialiseContext,
  type Outcome,
} from './materialise';
import {
  Ledger,
  stopReason,
  type Effect,
  type GangEvent,
  type Moment,
  type PlanFacts,
  type Presence,
} from './ledger';
import { ClusterModel, schedulerReason } from './model';
import {
  memberMeta,
  nodeRecord,
  podKey,
  podRecord,
  slimPod,
  type PodLike,
  type PodRecord,
} from './objects';
import { gangPodGroupName } from './naming';
import { LABEL_GANG_ID, PODGROUP_API } from './constants';
import { planGang, type GangPlan } from './pod-builder';

/** How long LOST member states are resent on every new stream. */
const LOST_RETENTION_MS = 10 * 60_000;
/** Period of the housekeeping loop (bind watchdog, self-fencing, pruning). */
const HOUSEKEEPING_MS = 500;
/** A Muster PodGroup whose gang the agent neither holds nor materialises is deleted after this. */
const ORPHAN_PODGROUP_GRACE_MS = 10_000;
/** A member-state batch the hub has not acknowledged this long goes again on the same stream. */
const MEMBER_ACK_TIMEOUT_MS = 5_000;
/** Most member states in one MemberStates message. */
const MEMBER_BATCH_SIZE = 1000;
/** Deletes made for these reasons are fencing: their grace is bounded by what the hub told. */
const FENCING_REASONS = new Set(['SelfFenced', 'Fenced']);

/** A Muster PodGroup seen by the PodGroup informer. */
interface KnownPodGroup {
  namespace: string;
  name: string;
  gangId: string;
  token: number;
  deleting: boolean;
  /** When the agent first saw it. */
  seenAt: number;
}

/** A plan dispatched in this process: what the create, ungate and delete effects carry out. */
interface KnownPlan {
  plan: GangPlan;
  /** The fence terms in force when the dispatch arrived (recorded on its pods too). */
  terms: FenceTerms | undefined;
  /** Set once every member exists (the create step's timing, for the materialised log). */
  timing?: CreateTiming;
  at: number;
}

export class Agent {
  readonly epoch = randomBytes(8).toString('hex');
  private readonly model = new ClusterModel();
  /** One record per (gang, token): every decision about gangs is the ledger's (ledger.ts). */
  private readonly ledger = new Ledger();
  private kube!: KubeClient;
  private kubernetesVersion = '';
  private informers: Array<
    ResilientInformer<V1Node> | ResilientInformer<V1Pod> | ResilientInformer<KubernetesObject>
  > = [];
  /** How the worker holds gangs together, decided at start. */
  private gangMode: GangScheduling = GangScheduling.GANG_SCHEDULING_GATES;
  /** Muster PodGroups in the cluster, by "namespace/name" (workload-api mode). */
  private readonly podGroups = new Map<string, KnownPodGroup>();
  /** PodGroup keys with a delete request in flight. */
  private readonly deletingGroups = new Set<string>();
  private link: HubLink | undefined;
  private timers: NodeJS.Timeout[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatMs: number;
  /** What the hub last told about fencing in this process (HelloAck); undefined until then. */
  private told: FenceTerms | undefined;
  /**
   * The lease: when the hub was last heard from (performance.now()). It runs from the process
   * start until the first message, so a restarted agent that never reaches the hub lapses too.
   */
  private readonly lease = new HubLease(performance.now());
  /** The shortest self-fence timeout recorded on any member pod seen (never grows back). */
  private shortestRecordedMs = Infinity;
  /** (gang, token)s whose missing fence terms were already logged. */
  private readonly termless = new Set<string>();
  /** Member states not yet acknowledged by the hub. */
  private readonly outbox = new MemberOutbox({
    ackTimeoutMs: MEMBER_ACK_TIMEOUT_MS,
    maxBatchMembers: MEMBER_BATCH_SIZE,
  });
  private seq = 0;
  /** Plans dispatched in this process, by gang key: what the effects carry out (no decisions). */
  private readonly plans = new Map<string, KnownPlan>();
  /** Pods with a member's labels and name outside its plan's namespace (logged once). */
  private readonly untrusted = new Set<string>();
  /** Pod keys with a delete request in flight (so fencing does not repeat it every tick). */
  private readonly deleting = new Set<string>();
  /** Latest undelivered answer per gang, sent once the next stream is up. */
  private readonly pendingAnswers = new Map<string, ConnectRequest>();
  private stopped = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Log,
  ) {
    this.heartbeatMs = config.heartbeatIntervalMs;
  }

  async start(): Promise<void> {
    const kc = loadKubeConfig(this.config.kubeconfig);
    this.kube = await KubeClient.create(kc, { maxSockets: this.config.createConcurrency });
    this.kubernetesVersion = await this.retry('read the API server version', () =>
      this.kube.serverVersion(),
    );
    this.gangMode = await this.decideGangMode();
    this.log.info('agent starting', {
      epoch: this.epoch,
      gangScheduling: this.workloadApi ? 'workload-api' : 'gates',
      agentVersion: this.config.agentVersion,
      kubernetesVersion: this.kubernetesVersion,
      server: kc.getCurrentCluster()?.server,
      hub: this.config.hubAddress,
    });

    const nodes = new ResilientInformer<V1Node>(kc, {
      name: 'nodes',
      path: '/api/v1/nodes',
      listPage: (token, limit) => this.kube.core.listNode({ limit, _continue: token }),
      slim: (n) => n,
      handlers: {
        upsert: (n) => {
          const r = nodeRecord(n);
          if (r) this.model.upsertNode(r);
        },
        remove: (n) => {
          if (n.metadata?.name) this.model.removeNode(n.metadata.name);
        },
      },
      log: this.log,
    });
    const pods = new ResilientInformer<V1Pod>(kc, {
      name: 'pods',
      path: '/api/v1/pods',
      listPage: (token, limit) =>
        this.kube.core.listPodForAllNamespaces({ limit, _continue: token }),
      slim: (p) => slimPod(p as PodLike) as V1Pod,
      handlers: {
        upsert: (p) => this.onPod(p as PodLike),
        remove: (p) => this.onPodGone(p as PodLike),
      },
      log: this.log,
    });
    this.informers = [nodes, pods];
    if (this.workloadApi) {
      this.informers.push(
        new ResilientInformer<KubernetesObject>(kc, {
          name: 'podgroups',
          path: `${PODGROUP_API}/podgroups`,
          listPage: (token, limit) =>
            this.kube.listPodGroups(token, limit) as Promise<
              KubernetesListObject<KubernetesObject>
            >,
          slim: (g) => g,
          handlers: {
            upsert: (g) => this.onPodGroup(g as PodGroupLike, false),
            remove: (g) => this.onPodGroup(g as PodGroupLike, true),
          },
          log: this.log,
        }),
      );
    }
    const started = Date.now();
    await Promise.all(this.informers.map((i) => i.start()));
    this.log.info('cluster view synced', {
      nodes: this.model.nodeNames().length,
      pods: this.model.podCount(),
      gangs: this.model.gangEntries().length,
      ms: Date.now() - started,
    });
    // After a (re)start: gangs with members still unbound get the bind timeout from now.
    this.carryOut(this.ledger.applyAll({ kind: 'synced' }, this.moment()));

    this.link = new HubLink({
      address: this.config.hubAddress,
      // TLS / mutual TLS from MUSTER_TLS_CA_FILE, MUSTER_TLS_CERT_FILE, MUSTER_TLS_KEY_FILE (tls.ts).
      credentials: hubTransport(this.config).credentials,
      reconnect: { initialMs: this.config.reconnectInitialMs, maxMs: this.config.reconnectMaxMs },
      log: this.log,
      onOpen: () => this.onStreamOpen(),
      onMessage: (m) => this.onHubMessage(m),
      onUp: () => this.flushAnswers(),
    });
    this.link.start();
    this.timers.push(setInterval(() => this.reportTick(), this.config.reportIntervalMs));
    this.timers.push(setInterval(() => this.housekeeping(), HOUSEKEEPING_MS));
    this.restartHeartbeat();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearInterval(this.heartbeatTimer);
    this.link?.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    this.kube?.close();
  }

  private get workloadApi(): boolean {
    return this.gangMode === GangScheduling.GANG_SCHEDULING_WORKLOAD_API;
  }

  /** MUSTER_GANG_SCHEDULING against what the worker serves (API discovery). */
  private async decideGangMode(): Promise<GangScheduling> {
    const setting = this.config.gangScheduling;
    if (setting === 'gates') return GangScheduling.GANG_SCHEDULING_GATES;
    const served = await this.retry('discover scheduling.k8s.io/v1alpha2 podgroups', () =>
      this.kube.servesPodGroups(),
    );
    if (served) return GangScheduling.GANG_SCHEDULING_WORKLOAD_API;
    if (setting === 'workload-api') {
      throw new Error(
        'MUSTER_GANG_SCHEDULING=workload-api, but the worker does not serve podgroups in ' +
          'scheduling.k8s.io/v1alpha2 (feature gates GenericWorkload and GangScheduling and ' +
          '--runtime-config=scheduling.k8s.io/v1alpha2=true); use auto or gates',
      );
    }
    return GangScheduling.GANG_SCHEDULING_GATES;
  }

  private onPodGroup(g: PodGroupLike, gone: boolean): void {
    const namespace = g.metadata?.namespace ?? '';
    const name = g.metadata?.name;
    if (!name) return;
    const key = podKey(namespace, name);
    if (gone) {
      this.podGroups.delete(key);
      this.deletingGroups.delete(key);
      return;
    }
    const labels = g.metadata?.labels ?? {};
    const meta = memberMeta({ ...labels, 'muster.dev/member-index': '0' }, {});
    if (!labels[LABEL_GANG_ID] || !meta) return; // not Muster's
    const deleting =
      g.metadata?.deletionTimestamp !== undefined && g.metadata?.deletionTimestamp !== null;
    const old = this.podGroups.get(key);
    this.podGroups.set(key, {
      namespace,
      name,
      gangId: meta.gangId,
      token: meta.token,
      deleting,
      seenAt: old?.seenAt ?? performance.now(),
    });
  }

  /** Deletes a PodGroup of Muster's unless it is already going. */
  private deleteGroup(namespace: string, name: string, why: string, log: Log): void {
    const key = podKey(namespace, name);
    if (this.deletingGroups.has(key) || this.podGroups.get(key)?.deleting) return;
    this.deletingGroups.add(key);
    void deletePodGroup(this.kube, namespace, name).then((ok) => {
      this.deletingGroups.delete(key);
      if (ok) log.debug('PodGroup deleted', { podGroup: key, reason: why });
      else
        log.warn('could not delete a PodGroup; the sweep retries', { podGroup: key, reason: why });
    });
  }

  private async retry<T>(what: string, op: () => Promise<T>): Promise<T> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
    for (;;) {
      try {
        return await op();
      } catch (err) {
        const delay = backoff.next();
        this.log.warn(`could not ${what}; retrying`, { err, retryInMs: delay });
        await sleep(delay);
      }
    }
  }

  // ---- informer events ----

  private onPod(p: PodLike): void {
    const r = podRecord(p);
    if (!r) return;
    this.trustMember(r);
    if (r.problem)
      this.log.debug('pod requests partly uncounted', { pod: r.key, error: r.problem });
    const was = this.model.pod(r.key)?.member;
    this.model.upsertPod(r);
    const recorded = r.member?.selfFenceTimeoutMs;
    if (recorded !== undefined && recorded < this.shortestRecordedMs)
      this.shortestRecordedMs = recorded;
    if (was && (was.gangId !== r.member?.gangId || was.token !== r.member.token))
      this.refresh(was.gangId, was.token);
    if (r.member) this.refresh(r.member.gangId, r.member.token);
  }

  /**
   * A pod with the deterministic name of a member (podRecord checks that) outside the namespace of
   * the gang's plan is a copy, not a member (review 2.9). Without a plan (after a restart) the
   * name is all there is to go by.
   */
  private trustMember(r: PodRecord): void {
    const m = r.member;
    if (!m) return;
    const plan = this.plans.get(gangRefKey(m.gangId, m.token));
    if (plan && plan.plan.namespace !== r.namespace) {
      if (!this.untrusted.has(r.key))
        this.log.warn('pod copies the labels of a member in another namespace; not a member', {
          pod: r.key,
          gang: m.gangId,
          token: m.token,
          namespace: plan.plan.namespace,
        });
      this.untrusted.add(r.key);
      delete r.member;
    }
  }

  private onPodGone(p: PodLike): void {
    const name = p.metadata?.name;
    if (!name) return;
    const key = podKey(p.metadata?.namespace ?? '', name);
    // A watch DELETED event carries the pod's last state; a relist only its name.
    if (p.spec) {
      const r = podRecord(p);
      if (r) {
        this.trustMember(r);
        this.model.upsertPod(r);
      }
    }
    const was = this.model.removePod(key)?.member;
    this.untrusted.delete(key);
    this.deleting.delete(key);
    if (was) this.refresh(was.gangId, was.token);
  }

  // ---- hub stream ----

  private nextSeq(): number {
    return ++this.seq;
  }

  private onStreamOpen(): void {
    const link = this.link!;
    link.send({
      message: {
        $case: 'hello',
        hello: {
          cluster: this.config.cluster,
          agentVersion: this.config.agentVersion,
          epoch: this.epoch,
          kubernetesVersion: this.kubernetesVersion,
          topologyLevels: [...this.config.topologyLevels],
          gangScheduling: this.gangMode,
        },
      },
    });
    this.sendSnapshot('stream opened');
    // The full picture, plus whatever the old stream left unacknowledged.
    this.outbox.put(this.model.takeAllMemberStates());
    this.outbox.resendAll();
    this.sendMemberStates();
  }

  /** Sends the member states that are due (new, or unacknowledged past the ack timeout). */
  private sendMemberStates(): void {
    const link = this.link;
    if (!link?.open) return;
    for (const b of this.outbox.take(performance.now())) {
      link.send({
        message: {
          $case: 'memberStates',
          memberStates: { members: b.members, batchId: b.batchId },
        },
      });
      this.log.debug('member states sent', { batchId: b.batchId, members: b.members.length });
    }
  }

  /** Answers given while the hub was unreachable, sent once a stream is up. */
  private flushAnswers(): void {
    for (const [gangId, answer] of this.pendingAnswers) {
      if (!this.link?.send(answer)) return;
      this.pendingAnswers.delete(gangId);
    }
  }

  private sendSnapshot(why: string): void {
    // held_gangs is what the agent holds or is materialising, not only what the pod informer has
    // seen: the hub requeues or fails a Dispatched/Running gang the snapshot omits, so a gang
    // accepted a moment ago must be in it before its pods reach the informer.
    const view = { ...this.model.takeSnapshot(), heldGangs: gangRefsOf(this.heldGangs()) };
    const reportSequence = this.nextSeq();
    this.link?.send({ message: { $case: 'snapshot', snapshot: { reportSequence, ...view } } });
    this.log.debug('snapshot sent', {
      why,
      reportSequence,
      nodes: view.nodes.length,
      heldGangs: view.heldGangs.length,
      reflected: view.reflectedDispatches.length,
    });
  }

  private reportTick(): void {
    if (this.model.hasMemberChanges()) this.outbox.put(this.model.takeMemberChanges());
    const link = this.link;
    // Only on a stream the hub has answered: changes taken now must not vanish into a dead dial.
    if (!link?.up) return;
    const delta = this.model.takeDelta();
    if (delta) {
      const reportSequence = this.nextSeq();
      link.send({ message: { $case: 'delta', delta: { reportSequence, ...delta } } });
      this.log.debug('delta sent', {
        reportSequence,
        upserted: delta.upsertedNodes.length,
        removed: delta.removedNodes.length,
        reflected: delta.reflectedDispatches.length,
      });
    }
    this.sendMemberStates();
  }

  private restartHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (!this.link?.up) return;
      this.link.send({
        message: {
          $case: 'heartbeat',
          heartbeat: { reportSequence: this.seq, sentAt: new Date() },
        },
      });
    }, this.heartbeatMs);
  }

  private onHubMessage(m: ConnectResponse): void {
    const now = performance.now();
    // A message that arrives after the lease ran out (this process was stopped, or the hub's
    // messages were held up) does not undo the lapse: what was due is fenced before it renews.
    // (Only when some gang's lease can have lapsed: a tick visits every gang, and messages come
    // in bursts.)
    if (this.lease.silentFor(now) > this.shortestTimeoutMs)
      this.carryOut(this.ledger.applyAll({ kind: 'tick' }, { ...this.moment(), now }));
    this.lease.heard(now);
    const msg = m.message;
    if (!msg) return;
    switch (msg.$case) {
      case 'helloAck':
        return this.onHelloAck(msg.helloAck);
      case 'hubHeartbeat':
        return; // renewed the lease above; that is all it is for
      case 'memberStatesAck': {
        const delivered = this.outbox.ack(msg.memberStatesAck.batchId);
        this.log.debug('member states acknowledged', {
          batchId: msg.memberStatesAck.batchId,
          delivered,
          unacknowledged: this.outbox.size,
        });
        return;
      }
      case 'snapshotRequest':
        this.log.info('snapshot requested by the hub', { why: msg.snapshotRequest.reason });
        return this.sendSnapshot(`requested: ${msg.snapshotRequest.reason}`);
      case 'dispatch':
        try {
          this.onDispatch(msg.dispatch);
        } catch (err) {
          this.log.error('dispatch handling failed', {
            gang: msg.dispatch.gangId,
            job: msg.dispatch.jobId,
            token: msg.dispatch.fencingToken,
            err,
          });
        }
        return;
      case 'cancel':
        return this.onCancel(msg.cancel);
      case 'gangList':
        return this.onGangList(msg.gangList);
    }
  }

  private onHelloAck(ack: HelloAck): void {
    if (ack.heartbeatIntervalMs > 0 && ack.heartbeatIntervalMs !== this.heartbeatMs) {
      this.heartbeatMs = Math.max(100, ack.heartbeatIntervalMs);
      this.restartHeartbeat();
    }
    const terms = termsOfHelloAck(ack);
    if (terms) this.told = terms;
    this.log.info('hello acknowledged', {
      heartbeatIntervalMs: this.heartbeatMs,
      selfFenceTimeoutMs: this.told?.selfFenceTimeoutMs,
      fenceDeleteGraceSeconds: this.told?.deleteGraceSeconds,
    });
  }

  /** The shortest self-fence timeout any gang can be under: told, configured, or recorded. */
  private get shortestTimeoutMs(): number {
    return Math.min(
      this.told?.selfFenceTimeoutMs ?? Infinity,
      this.config.selfFenceTimeoutMs ?? Infinity,
      this.shortestRecordedMs,
    );
  }

  /** The fence terms of a gang present in the cluster (see fenceTermsFor). */
  private termsOfGang(g: { recordedTerms: Partial<FenceTerms> }): FenceTerms | undefined {
    return fenceTermsFor(this.told, g.recordedTerms, this.config.selfFenceTimeoutMs);
  }

  /**
   * Sends a dispatch answer; with the stream down it is kept for the next one (`keep`, default
   * true). A StaleToken answer is not kept: it would replace the gang's real pending answer, and
   * the hub redelivers the stale dispatch anyway.
   */
  private sendAnswer(
    gangId: string,
    token: number,
    o: Outcome,
    log: Log,
    { keep = true }: { keep?: boolean } = {},
  ): void {
    const answer: ConnectRequest = {
      message: {
        $case: 'dispatchAnswer',
        dispatchAnswer: {
          gangId,
          fencingToken: token,
          outcome: o.outcome,
          reason: o.reason,
          message: o.message,
        },
      },
    };
    const outcome =
      o.outcome === DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED ? 'ACCEPTED' : 'REJECTED';
    if (this.link?.up && this.link.send(answer)) {
      log.info('dispatch answered', { outcome, reason: o.reason || undefined, message: o.message });
    } else if (keep) {
      this.pendingAnswers.set(gangId, answer);
      log.warn('hub stream down; answer kept for the next stream', { outcome, reason: o.reason });
    }
  }

  // ---- the ledger: events in, effects out ----

  /** The clock and the lease now (monotonic: review 2.19). */
  private moment(): Moment {
    return {
      now: performance.now(),
      lastHeardAt: this.lease.lastHeardAt,
      told: this.told,
      fallbackTimeoutMs: this.config.selfFenceTimeoutMs,
      bindTimeoutMs: this.config.bindTimeoutMs,
    };
  }

  private feed(gangId: string, e: GangEvent): void {
    this.carryOut(this.ledger.apply(gangId, e, this.moment()));
  }

  private logOf(gangId: string, token: number): Log {
    return this.log.child({ gang: gangId, job: this.jobOf(gangId, token), token });
  }

  private carryOut(effects: readonly Effect[]): void {
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
          this.sendAnswer(e.gangId, e.token, e.outcome, log, { keep: e.keep });
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
  private refresh(gangId: string, token: number): void {
    this.feed(gangId, { kind: 'pods', token, presence: this.presenceOf(gangId, token) });
  }

  private materialiseContext(gangId: string, token: number, log: Log): MaterialiseContext {
    return {
      pods: this.kube,
      concurrency: this.config.createConcurrency,
      log,
      abandoned: () => {
        // Asked before every create and ungate, on the clock of that moment: an agent resuming
        // from a stop must not release members of a gang the hub may have moved meanwhile.
        const m = this.moment();
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
            ? this.termsOfGang(g)
            : this.plans.get(gangRefKey(e.gangId, e.token))?.terms;
          log.warn('no word from the hub within the self-fence timeout; deleting requeue gang', {
            silentForMs: Math.round(this.lease.silentFor(performance.now())),
            selfFenceTimeoutMs: terms?.selfFenceTimeoutMs,
            fenceDeleteGraceSeconds: terms?.deleteGraceSeconds,
            streamUp: this.link?.up ?? false,
          });
          break;
        }
      }
    }
    this.deleteGang(e.gangId, e.token, e.reason, log);
  }

  // ---- dispatch ----

  private onDispatch(d: Dispatch): void {
    const log = this.log.child({ gang: d.gangId, job: d.jobId, token: d.fencingToken });
    const key = gangRefKey(d.gangId, d.fencingToken);
    const before = this.ledger.record(d.gangId, d.fencingToken);
    // The hub told the terms on this stream before any dispatch; recorded on the pods so that a
    // restarted agent that cannot reach the hub still fences the gang (pods are the only state
    // that outlives the agent; a Dispatch is not read again after a restart).
    const terms = this.told ?? fenceTermsFor(undefined, {}, this.config.selfFenceTimeoutMs);
    const planned = planGang(d, { workloadApi: this.workloadApi, fenceTerms: this.told });
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
      this.moment(),
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
      this.plans.set(key, { plan: planned.plan, terms, at: performance.now() });
      this.untrustCopies(planned.plan.gangId, planned.plan.token, planned.plan.namespace);
    }
    this.carryOut(effects);
  }

  /** A copy seen before the plan existed stops counting as a member now. */
  private untrustCopies(gangId: string, token: number, namespace: string): void {
    for (const p of [...(this.model.gang(gangId, token)?.members.values() ?? [])]) {
      if (p.namespace !== namespace) {
        const copy = { ...p };
        this.trustMember(copy);
        this.model.upsertPod(copy);
      }
    }
    this.refresh(gangId, token);
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
      ? (entry ? this.termsOfGang(entry) : (known?.terms ?? this.told))?.deleteGraceSeconds
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
    if (this.workloadApi && !inFlight) {
      // The gang's PodGroup goes with it (an in-flight materialisation's rollback deletes its own).
      const group = gangPodGroupName(gangId, token);
      const namespaces = new Set(byNamespace.keys());
      if (plan) namespaces.add(plan.namespace);
      for (const pg of this.podGroups.values()) {
        if (pg.gangId === gangId && pg.token === token) namespaces.add(pg.namespace);
      }
      for (const ns of namespaces) this.deleteGroup(ns, group, reason, log);
    }
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

  // ---- cancel and fencing ----

  private onCancel(c: Cancel): void {
    const log = this.logOf(c.gangId, c.fencingToken);
    const effects = this.ledger.apply(
      c.gangId,
      { kind: 'cancel', token: c.fencingToken },
      this.moment(),
    );
    log.info('cancel: deleting the gang', {
      reason: c.reason || undefined,
      tokens: effects.filter((e) => e.kind === 'delete').length,
    });
    this.carryOut(effects);
  }

  private jobOf(gangId: string, token: number): string | undefined {
    return (
      this.model.gang(gangId, token)?.jobId || this.ledger.record(gangId, token)?.jobId || undefined
    );
  }

  /** Every (gang, token) the agent holds or is materialising (the ledger's held set). */
  private heldGangs(): HeldGang[] {
    return this.ledger.held();
  }

  private onGangList(list: AuthoritativeGangList): void {
    const effects = this.ledger.applyList(list.generation, list.gangs, this.moment());
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
    this.carryOut(effects);
  }

  // ---- housekeeping: bind watchdog, self-fencing, pruning ----

  private housekeeping(): void {
    if (this.stopped) return;
    // Monotonic, like every stamp it is compared with (review 2.19): a wall-clock step must not
    // fire bind timeouts early or keep doomed gangs and answers forever.
    const m = this.moment();
    const now = m.now;
    this.carryOut(this.ledger.applyAll({ kind: 'tick' }, m));
    this.warnTermless();
    if (this.workloadApi) this.sweepPodGroups(now);
    this.model.pruneLost(LOST_RETENTION_MS, now);
    for (const [key, plan] of this.plans) {
      const [g, t] = splitGangKey(key);
      const record = this.ledger.record(g, t);
      if (!record || (now - plan.at > 60_000 && !this.model.gang(g, t) && !this.inFlight(g, t)))
        this.plans.delete(key);
    }
  }

  /** Logs once per (gang, token) a `requeue` gang that no self-fence timeout governs. */
  private warnTermless(): void {
    for (const g of this.model.gangEntries()) {
      if (g.onClusterLost !== 'requeue') continue;
      const key = gangRefKey(g.gangId, g.token);
      if (this.termsOfGang(g) || this.termless.has(key)) continue;
      this.termless.add(key);
      this.log.warn('no self-fence timeout known for a requeue gang; it is not self-fenced', {
        gang: g.gangId,
        job: g.jobId,
        token: g.token,
        hint: 'the hub tells one on connect; set MUSTER_SELF_FENCE_TIMEOUT_MS for pods of older agents',
      });
    }
    for (const key of this.termless) {
      const [g, t] = splitGangKey(key);
      if (!this.model.gang(g, t)) this.termless.delete(key);
    }
  }

  /**
   * Deletes Muster PodGroups whose (gang, token) the agent neither holds (no member pod, no
   * accepted plan) nor is materialising: left by a crash between the PodGroup and its members, or
   * by a delete that failed.
   */
  private sweepPodGroups(now: number): void {
    if (this.podGroups.size === 0) return;
    const held = new Set(this.heldGangs().map((g) => gangRefKey(g.gangId, g.token)));
    for (const pg of this.podGroups.values()) {
      if (pg.deleting || held.has(gangRefKey(pg.gangId, pg.token))) continue;
      if (now - pg.seenAt < ORPHAN_PODGROUP_GRACE_MS) continue;
      const log = this.logOf(pg.gangId, pg.token);
      log.info('deleting an orphan PodGroup', { podGroup: `${pg.namespace}/${pg.name}` });
      this.deleteGroup(pg.namespace, pg.name, 'Orphan', log);
    }
  }
}

function internalError(err: unknown): Outcome {
  return { outcome: REJECTED, reason: 'InternalError', message: errorText(err) };
}

function splitGangKey(key: string): [string, number] {
  const i = key.lastIndexOf('#');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}
