// The agent's side of the conversation with the hub, over the one stream HubLink keeps: Hello, the
// snapshot and the member states on every new stream; capacity deltas and member-state batches on
// every report tick; heartbeats; dispatch answers (kept while the stream is down). Every message
// from the hub renews the lease from when the hub was provably alive (StreamEcho); a HelloAck tells the fence terms and the heartbeat interval,
// snapshot requests and member-state acks are answered here, and dispatches, cancels and gang
// lists go on to GangOrders.
import {
  DispatchOutcome,
  type AuthoritativeGangList,
  type Cancel,
  type EvictionNotice,
  type ConnectRequest,
  type ConnectResponse,
  type Dispatch,
  type GangScheduling,
  type HelloAck,
} from '@muster/api';
import type { Log } from '@muster/log';
import type { AgentConfig } from './config';
import { gangRefsOf, termsOfHelloAck, type HeldGang } from './fencing';
import { HubLink } from './hub-link';
import { StreamEcho, type Lease } from './lease';
import type { Outcome } from './materialise';
import { MemberOutbox } from './member-outbox';
import type { ClusterModel } from './model';
import { hubTransport } from './tls';

/** A member-state batch the hub has not acknowledged this long goes again on the same stream. */
const MEMBER_ACK_TIMEOUT_MS = 5_000;
/** Most member states in one MemberStates message. */
const MEMBER_BATCH_SIZE = 1000;

/** Where the hub's orders about gangs go (GangOrders). */
export interface HubOrders {
  onDispatch(d: Dispatch): void;
  onCancel(c: Cancel): void;
  onGangList(list: AuthoritativeGangList): void;
  onEvictionNotice(n: EvictionNotice): void;
}

export interface HubSessionOptions {
  config: AgentConfig;
  /** This process's epoch, sent in Hello. */
  epoch: string;
  kubernetesVersion: string;
  gangScheduling: GangScheduling;
  model: ClusterModel;
  lease: Lease;
  /** Every (gang, token) the agent holds or is materialising, for the snapshot. */
  held(): HeldGang[];
  /** Runs the ledger's clock at `now` (a message arrived after the lease may have lapsed). */
  tick(now: number): void;
  orders: HubOrders;
  log: Log;
}

export class HubSession {
  private readonly log: Log;
  private readonly config: AgentConfig;
  private readonly model: ClusterModel;
  private readonly lease: Lease;
  private link: HubLink | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatMs: number;
  /** Member states not yet acknowledged by the hub. */
  private readonly outbox = new MemberOutbox({
    ackTimeoutMs: MEMBER_ACK_TIMEOUT_MS,
    maxBatchMembers: MEMBER_BATCH_SIZE,
  });
  private seq = 0;
  /** Heartbeat pings, increasing for the whole process. */
  private ping = 0;
  /** What the current stream's messages prove about the hub (see StreamEcho). */
  private echo = new StreamEcho(performance.now());
  /** Latest undelivered answer per gang, sent once the next stream is up. */
  private readonly pendingAnswers = new Map<string, ConnectRequest>();

  constructor(private readonly options: HubSessionOptions) {
    this.log = options.log.child({ component: 'hub-session' });
    this.config = options.config;
    this.model = options.model;
    this.lease = options.lease;
    this.heartbeatMs = options.config.heartbeatIntervalMs;
  }

  /** Dials the hub, and reports and heartbeats from now on. */
  start(): void {
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
    this.reportTimer = setInterval(() => this.reportTick(), this.config.reportIntervalMs);
    this.restartHeartbeat();
  }

  stop(): void {
    clearInterval(this.reportTimer);
    clearInterval(this.heartbeatTimer);
    this.link?.stop();
  }

  /** The hub has answered on the current stream. */
  get up(): boolean {
    return this.link?.up ?? false;
  }

  private nextSeq(): number {
    return ++this.seq;
  }

  private onStreamOpen(): void {
    const link = this.link!;
    this.echo = new StreamEcho(performance.now());
    link.send({
      message: {
        $case: 'hello',
        hello: {
          cluster: this.config.cluster,
          agentVersion: this.config.agentVersion,
          epoch: this.options.epoch,
          kubernetesVersion: this.options.kubernetesVersion,
          topologyLevels: [...this.config.topologyLevels],
          gangScheduling: this.options.gangScheduling,
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
    const view = { ...this.model.takeSnapshot(), heldGangs: gangRefsOf(this.options.held()) };
    const reportSequence = this.nextSeq();
    this.link?.send({
      message: { $case: 'snapshot', snapshot: { reportSequence, ...view } },
    });
    this.log.debug('snapshot sent', {
      why,
      reportSequence,
      nodes: view.nodes.length,
      heldGangs: view.heldGangs.length,
      reflected: view.reflectedDispatches.length,
      deviceClasses: view.deviceClasses.length,
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
      link.send({
        message: { $case: 'delta', delta: { reportSequence, ...delta } },
      });
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
      const ping = ++this.ping;
      this.echo.sent(ping, performance.now());
      this.link.send({
        message: {
          $case: 'heartbeat',
          heartbeat: { reportSequence: this.seq, sentAt: new Date(), ping },
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
    if (this.lease.silentFor(now) > this.lease.shortestTimeoutMs) this.options.tick(now);
    const msg = m.message;
    if (msg?.$case === 'helloAck') this.echo.acknowledged(msg.helloAck.echoesHeartbeats);
    const alive = this.echo.aliveSince(
      { heartbeatEcho: m.heartbeatEcho, helloAck: msg?.$case === 'helloAck' },
      now,
    );
    if (alive !== undefined) this.lease.heard(alive);
    if (!msg) return;
    switch (msg.$case) {
      case 'helloAck':
        return this.onHelloAck(msg.helloAck);
      case 'hubHeartbeat':
        return; // renews the lease (above); that is all it is for
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
          this.options.orders.onDispatch(msg.dispatch);
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
        return this.options.orders.onCancel(msg.cancel);
      case 'gangList':
        return this.options.orders.onGangList(msg.gangList);
      case 'evictionNotice':
        return this.options.orders.onEvictionNotice(msg.evictionNotice);
    }
  }

  private onHelloAck(ack: HelloAck): void {
    if (ack.heartbeatIntervalMs > 0 && ack.heartbeatIntervalMs !== this.heartbeatMs) {
      this.heartbeatMs = Math.max(100, ack.heartbeatIntervalMs);
      this.restartHeartbeat();
    }
    const terms = termsOfHelloAck(ack);
    if (terms) this.lease.told = terms;
    this.log.info('hello acknowledged', {
      heartbeatIntervalMs: this.heartbeatMs,
      selfFenceTimeoutMs: this.lease.told?.selfFenceTimeoutMs,
      fenceDeleteGraceSeconds: this.lease.told?.deleteGraceSeconds,
    });
  }

  /**
   * Tells the hub a gang's members carry its eviction notice. Not kept when the stream is down:
   * the hub sends the notice again on the next stream, and it is confirmed then.
   */
  sendNoticed(gangId: string, token: number, members: number): boolean {
    return (
      this.link?.send({
        message: {
          $case: 'evictionNoticed',
          evictionNoticed: { gangId, fencingToken: token, members },
        },
      }) ?? false
    );
  }

  /**
   * Sends a dispatch answer; with the stream down it is kept for the next one (`keep`, default
   * true). A StaleToken answer is not kept: it would replace the gang's real pending answer, and
   * the hub redelivers the stale dispatch anyway.
   */
  sendAnswer(
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
}
