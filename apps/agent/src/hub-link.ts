// The agent's one stream to the hub (AgentService.Connect): dials out, hands every hub message to
// the agent, and redials with capped, jittered exponential backoff whenever the stream ends.
//
// The stream counts as "up" once the hub has answered on it (response headers or a message);
// it is "down" from the moment it ends, or — if it never came up — since the last time it was
// up (or since the process started). Self-fencing does not go by this: a stopped or blackholed
// hub leaves the stream looking up for as long as keepalive takes to notice, so the agent's lease
// counts from the last message received instead (see fencing.ts).
import {
  ChannelCredentials,
  credentials,
  status as grpcStatus,
  type ClientDuplexStream,
  type StatusObject,
} from '@grpc/grpc-js';
import { AgentServiceClient, type ConnectRequest, type ConnectResponse } from '@muster/api';
import { Backoff } from '@muster/common';
import type { Log } from '@muster/log';

export interface HubLinkOptions {
  address: string;
  credentials?: ChannelCredentials;
  reconnect: { initialMs: number; maxMs: number };
  log: Log;
  /** A new stream exists: send Hello and the snapshot now (they queue until it connects). */
  onOpen(): void;
  onMessage(message: ConnectResponse): void;
  /** The hub answered on the new stream (headers or a first message). */
  onUp?(): void;
  /** The stream ended (it is redialled automatically). */
  onClose?(): void;
}

export class HubLink {
  private readonly client: AgentServiceClient;
  private readonly backoff: Backoff;
  private call: ClientDuplexStream<ConnectRequest, ConnectResponse> | undefined;
  private callUp = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private downSinceMs: number | undefined = Date.now();
  private streams = 0;
  private lastFailure = '';

  constructor(private readonly options: HubLinkOptions) {
    this.client = new AgentServiceClient(
      options.address,
      options.credentials ?? credentials.createInsecure(),
      {
        'grpc.keepalive_time_ms': 20_000,
        'grpc.keepalive_timeout_ms': 10_000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        // The channel keeps a reconnect backoff of its own (up to 120 s by default) under this
        // link's: without these a restarted hub stays unreached long after the link redials.
        'grpc.initial_reconnect_backoff_ms': options.reconnect.initialMs,
        'grpc.max_reconnect_backoff_ms': options.reconnect.maxMs,
      },
    );
    this.backoff = new Backoff(options.reconnect);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.dial();
  }

  /** True while a stream exists (messages written now are delivered once it connects). */
  get open(): boolean {
    return this.call !== undefined;
  }

  /** True once the hub has answered on the current stream. */
  get up(): boolean {
    return this.callUp;
  }

  /** When the hub stream went down (Date.now() ms), or undefined while it is up. */
  get downSince(): number | undefined {
    return this.downSinceMs;
  }

  /** Writes a message on the current stream; false when there is none. */
  send(message: ConnectRequest): boolean {
    if (!this.call) return false;
    this.call.write(message);
    return true;
  }

  private dial(): void {
    if (this.stopped) return;
    const call = this.client.connect();
    this.call = call;
    this.callUp = false;
    const stream = ++this.streams;
    const markUp = () => {
      if (this.call !== call || this.callUp) return;
      this.callUp = true;
      this.downSinceMs = undefined;
      this.backoff.reset();
      this.lastFailure = '';
      this.options.log.info('hub stream up', { hub: this.options.address, stream });
      this.options.onUp?.();
    };
    call.on('metadata', markUp);
    call.on('data', (msg: ConnectResponse) => {
      markUp();
      if (this.call === call) this.options.onMessage(msg);
    });
    call.on('error', () => undefined); // reported through 'status'
    call.on('status', (s: StatusObject) => this.closed(call, s));
    this.options.onOpen();
  }

  private closed(call: ClientDuplexStream<ConnectRequest, ConnectResponse>, s: StatusObject): void {
    if (this.call !== call) return;
    const wasUp = this.callUp;
    this.call = undefined;
    this.callUp = false;
    if (wasUp) this.downSinceMs = Date.now();
    try {
      call.end();
    } catch {
      // already ended
    }
    this.options.onClose?.();
    if (this.stopped) return;
    const delay = this.backoff.next();
    const failure = `${grpcStatus[s.code] ?? s.code}: ${s.details}`;
    // The first failure after being up is a warning; repeats of the same failure are debug.
    const level = wasUp || failure !== this.lastFailure ? 'warn' : 'debug';
    this.lastFailure = failure;
    this.options.log[level]('hub stream down; redialling', {
      hub: this.options.address,
      code: grpcStatus[s.code] ?? String(s.code),
      error: s.details,
      retryInMs: delay,
      downForMs: this.downSinceMs === undefined ? 0 : Date.now() - this.downSinceMs,
    });
    this.timer = setTimeout(() => this.dial(), delay);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const call = this.call;
    this.call = undefined;
    if (call) {
      call.end();
      call.cancel();
    }
    this.client.close();
  }
}
