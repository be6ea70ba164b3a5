// The hub side of AgentService.Connect for agent tests: records everything the agent sends, keeps
// the view a hub would build from it (snapshot + deltas, member states, answers), and lets the test
// send dispatches, cancels, gang lists and snapshot requests. Like a hub it sends a HubHeartbeat
// every heartbeat interval, echoing the agent's last ping (the agent's self-fence lease runs from
// when it sent the ping the last message echoed)
// and acknowledges member-state batches.
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  AgentServiceService,
  type AuthoritativeGangList,
  type Cancel,
  type CapacitySnapshot,
  type ConnectRequest,
  type ConnectResponse,
  type Dispatch,
  type DispatchAnswer,
  type EvictionNoticed,
  type Hello,
  type HelloAck,
  type MemberState,
  type NodeState,
} from '@muster/api';

type Stream = ServerDuplexStream<ConnectRequest, ConnectResponse>;

export interface Received {
  stream: number;
  at: number;
  msg: NonNullable<ConnectRequest['message']>;
}

export interface TestHubOptions {
  /** Sent on every new stream; null sends none. Default: no intervals, no fence terms (all 0). */
  helloAck?: HelloAck | null;
  /** Period of the HubHeartbeat sent on the current stream, in ms; 0 sends none. Default 500. */
  hubHeartbeatMs?: number;
  /** Answer MemberStatesAck for every batch with an id, as the hub does after its commit. Default true. */
  ackMemberStates?: boolean;
}

const POLL_MS = 50;

export function memberKey(s: {
  gangId: string;
  fencingToken: number;
  podSet: string;
  index: number;
}): string {
  return `${s.gangId}#${s.fencingToken}/${s.podSet}/${s.index}`;
}

export class TestHub {
  readonly received: Received[] = [];
  readonly hellos: Hello[] = [];
  readonly snapshots: CapacitySnapshot[] = [];
  readonly answers: DispatchAnswer[] = [];
  /** The agent's confirmations of eviction notices, in order. */
  readonly noticed: EvictionNoticed[] = [];
  /** Node view as a hub keeps it: last snapshot with every later delta applied. */
  readonly nodes = new Map<string, NodeState>();
  /** Gang keys "id#token" reported reflected in the latest snapshot or delta. */
  readonly reflected = new Set<string>();
  /** Latest state per member ("gang#token/podSet/index"). */
  readonly members = new Map<string, MemberState>();
  /** Problems with the protocol seen so far (e.g. report_sequence not increasing). */
  readonly violations: string[] = [];
  private readonly server = new Server();
  private current: Stream | undefined;
  private streamCount = 0;
  private lastSeq = 0;
  private epoch = '';
  private port = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Date.now() of the last message written to any agent stream (the agent's lease starts there). */
  lastSentAt = 0;

  private constructor(private readonly options: TestHubOptions) {}

  static async start(options: TestHubOptions = {}, port = 0): Promise<TestHub> {
    const hub = new TestHub(options);
    hub.server.addService(AgentServiceService, { connect: (call: Stream) => hub.onStream(call) });
    hub.port = await new Promise<number>((resolve, reject) =>
      hub.server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const every = options.hubHeartbeatMs ?? 500;
    if (every > 0) {
      hub.heartbeat = setInterval(() => {
        if (hub.current)
          hub.write(hub.current, { $case: 'hubHeartbeat', hubHeartbeat: { sentAt: new Date() } });
      }, every);
    }
    return hub;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get streams(): number {
    return this.streamCount;
  }

  get connected(): boolean {
    return this.current !== undefined;
  }

  private onStream(call: Stream): void {
    const stream = ++this.streamCount;
    this.current = call;
    call.on('data', (req: ConnectRequest) => {
      if (req.message) this.record(stream, req.message, call);
    });
    call.on('end', () => {
      if (this.current === call) this.current = undefined;
      call.end();
    });
    call.on('error', () => {
      if (this.current === call) this.current = undefined;
    });
    call.on('cancelled', () => {
      if (this.current === call) this.current = undefined;
    });
    const ack =
      this.options.helloAck === undefined
        ? {
            heartbeatIntervalMs: 0,
            selfFenceTimeoutMs: 0,
            fenceDeleteGraceSeconds: 0,
            echoesHeartbeats: true,
          }
        : this.options.helloAck;
    if (ack) this.write(call, { $case: 'helloAck', helloAck: ack });
  }

  /** The highest heartbeat ping heard per stream and when the agent sent it, echoed like the hub does. */
  private readonly pings = new WeakMap<Stream, { ping: number; sentAt: number }>();
  /**
   * When the agent sent the ping the last message echoed (the agent's clock): the agent's lease
   * runs from there, not from when that message arrived.
   */
  lastEchoedPingSentAt = 0;

  private write(call: Stream, message: NonNullable<ConnectResponse['message']>): void {
    const heard = this.pings.get(call);
    call.write({ message, heartbeatEcho: heard?.ping ?? 0 });
    if (heard) this.lastEchoedPingSentAt = heard.sentAt;
    this.lastSentAt = Date.now();
  }

  private record(stream: number, msg: NonNullable<ConnectRequest['message']>, call: Stream): void {
    this.received.push({ stream, at: Date.now(), msg });
    if (msg.$case === 'heartbeat' && msg.heartbeat.ping > (this.pings.get(call)?.ping ?? 0))
      this.pings.set(call, {
        ping: msg.heartbeat.ping,
        sentAt: msg.heartbeat.sentAt?.getTime() ?? Date.now(),
      });
    if (
      msg.$case === 'memberStates' &&
      msg.memberStates.batchId > 0 &&
      this.options.ackMemberStates !== false
    ) {
      this.write(call, {
        $case: 'memberStatesAck',
        memberStatesAck: { batchId: msg.memberStates.batchId },
      });
    }
    switch (msg.$case) {
      case 'hello':
        this.hellos.push(msg.hello);
        if (msg.hello.epoch !== this.epoch) this.lastSeq = 0;
        this.epoch = msg.hello.epoch;
        break;
      case 'snapshot': {
        const s = msg.snapshot;
        this.checkSeq(s.reportSequence, 'snapshot');
        this.snapshots.push(s);
        this.nodes.clear();
        for (const n of s.nodes) this.nodes.set(n.name, n);
        this.reflected.clear();
        for (const g of s.reflectedDispatches) this.reflected.add(`${g.gangId}#${g.fencingToken}`);
        break;
      }
      case 'delta': {
        const d = msg.delta;
        this.checkSeq(d.reportSequence, 'delta');
        for (const n of d.upsertedNodes) this.nodes.set(n.name, n);
        for (const n of d.removedNodes) this.nodes.delete(n);
        // Like the snapshot, a delta carries the whole reflected set.
        this.reflected.clear();
        for (const g of d.reflectedDispatches) this.reflected.add(`${g.gangId}#${g.fencingToken}`);
        break;
      }
      case 'dispatchAnswer':
        this.answers.push(msg.dispatchAnswer);
        break;
      case 'evictionNoticed':
        this.noticed.push(msg.evictionNoticed);
        break;
      case 'memberStates':
        for (const m of msg.memberStates.members) this.members.set(memberKey(m), m);
        break;
      case 'heartbeat':
        if (msg.heartbeat.reportSequence < this.lastSeq) {
          this.violations.push(
            `heartbeat sequence ${msg.heartbeat.reportSequence} < ${this.lastSeq}`,
          );
        }
        break;
    }
  }

  private checkSeq(seq: number, what: string): void {
    if (seq <= this.lastSeq) this.violations.push(`${what} sequence ${seq} after ${this.lastSeq}`);
    this.lastSeq = seq;
  }

  /** Messages of one kind, oldest first. */
  messages<K extends Received['msg']['$case']>(
    kind: K,
  ): Array<Extract<Received['msg'], { $case: K }>> {
    return this.received
      .map((r) => r.msg)
      .filter((m): m is Extract<Received['msg'], { $case: K }> => m.$case === kind);
  }

  send(message: NonNullable<ConnectResponse['message']>): void {
    if (!this.current) throw new Error('test hub: no agent stream');
    this.write(this.current, message);
  }

  dispatch(dispatch: Dispatch): void {
    this.send({ $case: 'dispatch', dispatch });
  }

  cancel(cancel: Cancel): void {
    this.send({ $case: 'cancel', cancel });
  }

  gangList(gangList: AuthoritativeGangList): void {
    this.send({ $case: 'gangList', gangList });
  }

  requestSnapshot(reason: string): void {
    this.send({ $case: 'snapshotRequest', snapshotRequest: { reason } });
  }

  answersFor(gangId: string, fencingToken?: number): DispatchAnswer[] {
    return this.answers.filter(
      (a) => a.gangId === gangId && (fencingToken === undefined || a.fencingToken === fencingToken),
    );
  }

  membersOf(gangId: string, fencingToken: number): MemberState[] {
    return [...this.members.values()].filter(
      (m) => m.gangId === gangId && m.fencingToken === fencingToken,
    );
  }

  /** Ends the agent's stream with UNAVAILABLE, as a hub restart would. */
  dropStream(): void {
    const call = this.current;
    this.current = undefined;
    // grpc-js turns an 'error' on a server stream into the call's final status.
    call?.emit('error', { code: status.UNAVAILABLE, details: 'test hub dropped the stream' });
  }

  /** Polls `fn` until it returns something truthy; fails naming `what` and the last value. */
  async waitFor<T>(
    what: string,
    fn: () => T | undefined | null | false,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > deadline)
        throw new Error(`test hub: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.server.forceShutdown();
    this.current = undefined;
  }
}
