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
import { Backoff, sleep } from './backoff';
import type { AgentConfig } from './config';
import { fencedByList, GenerationGate, selfFenceDue, type HeldGang } from './fencing';
import { GangBook } from './gang-book';
import { HubLink } from './hub-link';
import { hubTransport } from './tls';
import { ResilientInformer } from './informers';
import { KubeClient, loadKubeConfig, type PodGroupLike } from './kube';
import { errorText, Logger } from './log';
import { deletePodGroup, deletePods, materialise, REJECTED, type Outcome } from './materialise';
import { ClusterModel, gangKey, schedulerReason } from './model';
import { memberMeta, nodeRecord, podKey, podRecord, slimPod, type PodLike } from './objects';
import { gangPodGroupName } from './naming';
import { LABEL_GANG_ID, PODGROUP_API } from './constants';
import { planGang, type GangPlan } from './pod-builder';

/** How long the agent remembers answers and plans of gangs no longer in the cluster. */
const ANSWER_RETENTION_MS = 10 * 60_000;
/** How long LOST member states are resent on every new stream. */
const LOST_RETENTION_MS = 10 * 60_000;
/** How long a deleted gang is watched for leftovers after its last pod is gone. */
const DOOM_RETENTION_MS = 60_000;
/** Time the first delete of a gang gets before the sweep deletes leftovers again. */
const SWEEP_GRACE_MS = 2_000;
/** Period of the housekeeping loop (bind watchdog, self-fencing, pruning). */
const HOUSEKEEPING_MS = 500;
/** A Muster PodGroup whose gang the agent neither holds nor materialises is deleted after this. */
const ORPHAN_PODGROUP_GRACE_MS = 10_000;

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

interface BindWatch {
  gangId: string;
  jobId: string;
  token: number;
  deadline: number;
}

interface KnownPlan {
  namespace: string;
  names: string[];
  jobId: string;
  onClusterLost: GangPlan['onClusterLost'];
  at: number;
}

export class Agent {
  readonly epoch = randomBytes(8).toString('hex');
  private readonly model = new ClusterModel();
  private readonly book = new GangBook();
  private readonly lists = new GenerationGate();
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
  private selfFenceMs: number;
  private seq = 0;
  private readonly bindWatch = new Map<string, BindWatch>();
  private readonly plans = new Map<string, KnownPlan>();
  /** Pod keys with a delete request in flight (so fencing does not repeat it every tick). */
  private readonly deleting = new Set<string>();
  /**
   * (gang, token)s that must be gone, with why: a housekeeping sweep deletes again whatever of
   * them is still present and not being deleted (a delete may fail, the informer may lag).
   */
  private readonly doomed = new Map<string, { reason: string; since: number; log: Logger }>();
  /** Latest undelivered answer per gang, sent once the next stream is up. */
  private readonly pendingAnswers = new Map<string, ConnectRequest>();
  private stopped = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {
    this.heartbeatMs = config.heartbeatIntervalMs;
    this.selfFenceMs = config.selfFenceTimeoutMs;
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
    this.watchUnboundGangs();

    this.link = new HubLink({
      address: this.config.hubAddress,
      // TLS / mutual TLS from MUSTER_TLS_CA_FILE, MUSTER_TLS_CERT_FILE, MUSTER_TLS_KEY_FILE (tls.ts).
      credentials: hubTransport().credentials,
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
      seenAt: old?.seenAt ?? Date.now(),
    });
  }

  /** Deletes a PodGroup of Muster's unless it is already going. */
  private deleteGroup(namespace: string, name: string, why: string, log: Logger): void {
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
        this.log.warn(`could not ${what}; retrying`, { error: errorText(err), retryInMs: delay });
        await sleep(delay);
      }
    }
  }

  // ---- informer events ----

  private onPod(p: PodLike): void {
    const r = podRecord(p);
    if (!r) return;
    if (r.problem)
      this.log.debug('pod requests partly uncounted', { pod: r.key, error: r.problem });
    this.model.upsertPod(r);
  }

  private onPodGone(p: PodLike): void {
    const name = p.metadata?.name;
    if (!name) return;
    const key = podKey(p.metadata?.namespace ?? '', name);
    // A watch DELETED event carries the pod's last state; a relist only its name.
    if (p.spec) {
      const r = podRecord(p);
      if (r) this.model.upsertPod(r);
    }
    this.model.removePod(key);
    this.deleting.delete(key);
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
    const states = this.model.takeAllMemberStates();
    if (states.length > 0) {
      link.send({ message: { $case: 'memberStates', memberStates: { members: states } } });
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
    const view = this.model.takeSnapshot();
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
    if (this.model.hasMemberChanges()) {
      const members = this.model.takeMemberChanges();
      link.send({ message: { $case: 'memberStates', memberStates: { members } } });
    }
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
    const msg = m.message;
    if (!msg) return;
    switch (msg.$case) {
      case 'helloAck':
        return this.onHelloAck(msg.helloAck);
      case 'snapshotRequest':
        this.log.info('snapshot requested by the hub', { why: msg.snapshotRequest.reason });
        return this.sendSnapshot(`requested: ${msg.snapshotRequest.reason}`);
      case 'dispatch':
        void this.onDispatch(msg.dispatch).catch((err) =>
          this.log.error('dispatch handling failed', {
            gangId: msg.dispatch.gangId,
            jobId: msg.dispatch.jobId,
            error: errorText(err),
          }),
        );
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
    if (ack.selfFenceTimeoutMs > 0) this.selfFenceMs = ack.selfFenceTimeoutMs;
    this.log.info('hello acknowledged', {
      heartbeatIntervalMs: this.heartbeatMs,
      selfFenceTimeoutMs: this.selfFenceMs,
    });
  }

  private sendAnswer(gangId: string, token: number, o: Outcome, log: Logger): void {
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
    } else {
      this.pendingAnswers.set(gangId, answer);
      log.warn('hub stream down; answer kept for the next stream', { outcome, reason: o.reason });
    }
  }

  // ---- dispatch ----

  private async onDispatch(d: Dispatch): Promise<void> {
    const log = this.log.with({ gangId: d.gangId, jobId: d.jobId, token: d.fencingToken });
    const decision = this.book.decide(d.gangId, d.fencingToken, this.model.tokensOf(d.gangId));
    switch (decision.kind) {
      case 'stale':
        log.info('ignoring dispatch with a stale fencing token', { knownToken: decision.known });
        return;
      case 'cancelled':
        return this.sendAnswer(
          d.gangId,
          d.fencingToken,
          { outcome: REJECTED, reason: 'Cancelled', message: 'the gang was cancelled' },
          log,
        );
      case 'replay':
        log.info('repeated dispatch; answering again', {});
        return this.sendAnswer(d.gangId, d.fencingToken, decision.outcome, log);
      case 'join': {
        log.info('repeated dispatch while materialising; answering when done', {});
        return this.sendAnswer(d.gangId, d.fencingToken, await decision.done, log);
      }
      case 'start':
        break;
    }
    for (const old of decision.superseded) {
      log.info('deleting members of a superseded fencing token', { oldToken: old });
      this.bindWatch.delete(gangKey(d.gangId, old));
      this.deleteGang(d.gangId, old, 'Superseded', log);
    }
    const planned = planGang(d, { workloadApi: this.workloadApi });
    if (!planned.ok) {
      const o: Outcome = { outcome: REJECTED, ...planned.error };
      this.book.finish(d.gangId, d.fencingToken, o);
      return this.sendAnswer(d.gangId, d.fencingToken, o, log);
    }
    const plan = planned.plan;
    const key = gangKey(plan.gangId, plan.token);
    this.plans.set(key, {
      namespace: plan.namespace,
      names: plan.members.map((m) => m.name),
      jobId: plan.jobId,
      onClusterLost: plan.onClusterLost,
      at: Date.now(),
    });
    this.bindWatch.delete(key);
    this.doomed.delete(key);
    log.info('materialising gang', {
      members: plan.members.length,
      namespace: plan.namespace,
      onClusterLost: plan.onClusterLost,
    });
    const done = materialise(plan, {
      pods: this.kube,
      concurrency: this.config.createConcurrency,
      log,
      abandoned: () => this.book.abandonReason(plan.gangId, plan.token),
      noteDeletion: (k, reason) => this.model.noteDeletion(k, reason),
    }).catch((err): Outcome => ({
      outcome: REJECTED,
      reason: 'InternalError',
      message: errorText(err),
    }));
    this.book.begin(plan.gangId, plan.token, done);
    const outcome = await done;
    this.book.finish(plan.gangId, plan.token, outcome);
    if (outcome.outcome !== DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED) {
      // The rollback deleted every member; the sweep deletes any it could not.
      this.doomed.set(key, { reason: outcome.reason, since: Date.now(), log });
    } else {
      this.bindWatch.set(key, {
        gangId: plan.gangId,
        jobId: plan.jobId,
        token: plan.token,
        deadline: Date.now() + this.config.bindTimeoutMs,
      });
    }
    this.sendAnswer(plan.gangId, plan.token, outcome, log);
  }

  /** Deletes every member of (gang, token) the agent knows of: seen in the cluster or planned. */
  private deleteGang(gangId: string, token: number, reason: string, log: Logger): void {
    const key = gangKey(gangId, token);
    if (!this.doomed.has(key)) this.doomed.set(key, { reason, since: Date.now(), log });
    const byNamespace = new Map<string, Set<string>>();
    const add = (ns: string, name: string) => {
      let s = byNamespace.get(ns);
      if (!s) byNamespace.set(ns, (s = new Set()));
      s.add(name);
    };
    const entry = this.model.gang(gangId, token);
    for (const p of entry?.members.values() ?? []) if (!p.deleting) add(p.namespace, p.name);
    const plan = this.plans.get(gangKey(gangId, token));
    if (plan && !this.book.isInflight(gangId, token)) {
      for (const n of plan.names) {
        const p = this.model.pod(podKey(plan.namespace, n));
        if (!p?.deleting) add(plan.namespace, n);
      }
    }
    if (this.workloadApi && !this.book.isInflight(gangId, token)) {
      // The gang's PodGroup goes with it (an in-flight materialisation's rollback deletes its own).
      const group = gangPodGroupName(gangId, token);
      const namespaces = new Set(byNamespace.keys());
      if (plan) namespaces.add(plan.namespace);
      for (const pg of this.podGroups.values()) {
        if (pg.gangId === gangId && pg.token === token) namespaces.add(pg.namespace);
      }
      for (const ns of namespaces) this.deleteGroup(ns, group, reason, log);
    }
    for (const [ns, names] of byNamespace) {
      const todo = [...names].filter((n) => !this.deleting.has(podKey(ns, n)));
      if (todo.length === 0) continue;
      for (const n of todo) this.deleting.add(podKey(ns, n));
      void deletePods(this.kube, ns, todo, this.config.createConcurrency, reason, (k, r) =>
        this.model.noteDeletion(k, r),
      ).then(({ deleted, left }) => {
        for (const n of todo) this.deleting.delete(podKey(ns, n));
        if (left.length > 0) {
          log.warn('some member pods could not be deleted; retrying', {
            reason,
            left: left.length,
          });
        } else {
          log.debug('member pods deleted', { reason, deleted });
        }
      });
    }
  }

  // ---- cancel and fencing ----

  private onCancel(c: Cancel): void {
    const log = this.log.with({ gangId: c.gangId, token: c.fencingToken });
    this.book.cancel(c.gangId, c.fencingToken);
    const tokens = new Set(this.model.tokensOf(c.gangId).filter((t) => t <= c.fencingToken));
    for (const key of this.plans.keys()) {
      const [g, t] = splitGangKey(key);
      if (g === c.gangId && t <= c.fencingToken) tokens.add(t);
    }
    log.info('cancel: deleting the gang', { reason: c.reason || undefined, tokens: tokens.size });
    for (const t of tokens) {
      this.bindWatch.delete(gangKey(c.gangId, t));
      this.deleteGang(c.gangId, t, 'Cancelled', log.with({ jobId: this.jobOf(c.gangId, t) }));
    }
  }

  private jobOf(gangId: string, token: number): string | undefined {
    return this.model.gang(gangId, token)?.jobId ?? this.plans.get(gangKey(gangId, token))?.jobId;
  }

  /** Every (gang, token) the agent holds or is materialising. */
  private heldGangs(): HeldGang[] {
    const seen = new Map<string, HeldGang>();
    for (const g of this.model.gangEntries()) {
      seen.set(gangKey(g.gangId, g.token), { gangId: g.gangId, token: g.token });
    }
    for (const g of this.book.inflightGangs()) seen.set(gangKey(g.gangId, g.token), g);
    // Accepted just now, perhaps not yet seen by the pod informer.
    for (const key of this.plans.keys()) {
      const [gangId, token] = splitGangKey(key);
      if (
        this.book.answerFor(gangId, token)?.outcome === DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED
      ) {
        seen.set(key, { gangId, token });
      }
    }
    return [...seen.values()];
  }

  private onGangList(list: AuthoritativeGangList): void {
    if (!this.lists.accept(list.generation)) {
      this.log.info('ignoring a stale authoritative gang list', {
        generation: list.generation,
        lastApplied: this.lists.lastApplied,
      });
      return;
    }
    const fenced = fencedByList(this.heldGangs(), list.gangs);
    this.log.info('authoritative gang list applied', {
      generation: list.generation,
      listed: list.gangs.length,
      fenced: fenced.length,
    });
    for (const g of fenced) {
      const log = this.log.with({
        gangId: g.gangId,
        jobId: this.jobOf(g.gangId, g.token),
        token: g.token,
      });
      log.warn('gang not on the authoritative list; deleting it', {});
      this.book.abandon(g.gangId, 'Fenced', (t) => t !== g.token);
      this.forget(g.gangId, g.token, 'Fenced');
      this.deleteGang(g.gangId, g.token, 'Fenced', log);
    }
  }

  /**
   * A gang deleted on the hub's (or the timeout's) behalf: stop watching its binding, and make a
   * repeat of its dispatch answer that it is gone rather than replay an old ACCEPTED.
   */
  private forget(gangId: string, token: number, reason: string): void {
    this.bindWatch.delete(gangKey(gangId, token));
    if (this.book.answerFor(gangId, token)?.outcome === DispatchOutcome.DISPATCH_OUTCOME_ACCEPTED) {
      this.book.finish(gangId, token, {
        outcome: REJECTED,
        reason,
        message: `the gang was deleted (${reason})`,
      });
    }
  }

  // ---- housekeeping: bind watchdog, self-fencing, pruning ----

  /** After a (re)start: gangs with members still unbound get the bind timeout from now. */
  private watchUnboundGangs(): void {
    const deadline = Date.now() + this.config.bindTimeoutMs;
    for (const g of this.model.gangEntries()) {
      const unbound = [...g.members.values()].some(
        (p) => !p.nodeName && !p.terminal && !p.deleting,
      );
      if (unbound && !g.fullyBound) {
        this.bindWatch.set(gangKey(g.gangId, g.token), {
          gangId: g.gangId,
          jobId: g.jobId,
          token: g.token,
          deadline,
        });
      }
    }
  }

  private housekeeping(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const [key, w] of this.bindWatch) {
      if (this.book.isInflight(w.gangId, w.token)) continue;
      const g = this.model.gang(w.gangId, w.token);
      // Bound, not merely reflected: pinned members are charged (reflected) before they bind.
      if (g?.fullyBound) {
        this.bindWatch.delete(key);
        continue;
      }
      if (now < w.deadline) continue;
      this.bindWatch.delete(key);
      const log = this.log.with({ gangId: w.gangId, jobId: w.jobId, token: w.token });
      log.warn('gang not bound within the bind timeout; deleting it', {
        bindTimeoutMs: this.config.bindTimeoutMs,
        bound: g?.bound ?? 0,
        size: g?.size ?? 0,
      });
      this.deleteGang(w.gangId, w.token, 'BindTimeout', log);
      const o: Outcome = {
        outcome: REJECTED,
        reason: 'BindTimeout',
        message: `${g?.bound ?? 0} of ${g?.size ?? 0} members bound within ${this.config.bindTimeoutMs} ms; worker scheduler: ${schedulerReason(g)}`,
      };
      this.book.finish(w.gangId, w.token, o);
      this.sendAnswer(w.gangId, w.token, o, log);
    }

    if (selfFenceDue(this.link?.downSince, this.selfFenceMs, now)) this.selfFence(now);

    for (const [key, d] of this.doomed) {
      const [gangId, token] = splitGangKey(key);
      if (this.book.isInflight(gangId, token)) continue;
      const g = this.model.gang(gangId, token);
      if (!g) {
        if (now - d.since > DOOM_RETENTION_MS) this.doomed.delete(key);
        continue;
      }
      const alive = [...g.members.values()].some((p) => !p.deleting && !this.deleting.has(p.key));
      if (alive && now - d.since > SWEEP_GRACE_MS) this.deleteGang(gangId, token, d.reason, d.log);
    }

    if (this.workloadApi) this.sweepPodGroups(now);

    this.book.prune((gangId) => this.model.tokensOf(gangId).length > 0, ANSWER_RETENTION_MS, now);
    this.model.pruneLost(LOST_RETENTION_MS, now);
    for (const [key, plan] of this.plans) {
      const [g, t] = splitGangKey(key);
      if (now - plan.at > 60_000 && !this.model.gang(g, t) && !this.book.isInflight(g, t)) {
        this.plans.delete(key);
      }
    }
  }

  /**
   * Deletes Muster PodGroups whose (gang, token) the agent neither holds (no member pod, no
   * accepted plan) nor is materialising: left by a crash between the PodGroup and its members, or
   * by a delete that failed.
   */
  private sweepPodGroups(now: number): void {
    if (this.podGroups.size === 0) return;
    const held = new Set(this.heldGangs().map((g) => gangKey(g.gangId, g.token)));
    for (const pg of this.podGroups.values()) {
      if (pg.deleting || held.has(gangKey(pg.gangId, pg.token))) continue;
      if (now - pg.seenAt < ORPHAN_PODGROUP_GRACE_MS) continue;
      const log = this.log.with({ gangId: pg.gangId, token: pg.token });
      log.info('deleting an orphan PodGroup', { podGroup: `${pg.namespace}/${pg.name}` });
      this.deleteGroup(pg.namespace, pg.name, 'Orphan', log);
    }
  }

  private selfFence(now: number): void {
    const downFor = now - (this.link?.downSince ?? now);
    for (const g of this.model.gangEntries()) {
      if (g.onClusterLost !== 'requeue') continue;
      if (![...g.members.values()].some((p) => !p.deleting && !this.deleting.has(p.key))) continue;
      const log = this.log.with({ gangId: g.gangId, jobId: g.jobId, token: g.token });
      log.warn('hub unreachable past the self-fence timeout; deleting requeue gang', {
        downForMs: downFor,
        selfFenceTimeoutMs: this.selfFenceMs,
      });
      this.forget(g.gangId, g.token, 'SelfFenced');
      this.deleteGang(g.gangId, g.token, 'SelfFenced', log);
    }
    for (const f of this.book.inflightGangs()) {
      if (this.plans.get(gangKey(f.gangId, f.token))?.onClusterLost === 'requeue') {
        this.book.abandon(f.gangId, 'SelfFenced');
      }
    }
  }
}

function splitGangKey(key: string): [string, number] {
  const i = key.lastIndexOf('#');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}
