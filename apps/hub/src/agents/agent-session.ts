import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { ConnectRequest, ConnectResponse } from '@muster/api';
import type { DeviceClass } from '@muster/placement';
import type { ReportedNode } from './capacity.mapper';
import { Injectable } from '@nestjs/common';
import { gangRefKey } from '@muster/common';

/** One connected agent: its stream and the capacity it last reported. */
export class AgentSession {
  readonly nodes = new Map<string, ReportedNode>();
  /** gangRefKeys of dispatches the reported capacity already accounts for. */
  reflected = new Set<string>();
  /** The cluster's DRA DeviceClasses, as its last report had them. */
  deviceClasses: DeviceClass[] = [];
  reportSequence = 0;
  closed = false;
  readonly connectedAt = new Date();
  /** performance.now() of the last message received on the stream: liveness on one clock. */
  lastMessageAt = performance.now();
  /**
   * Set when a newer stream of the same cluster was accepted: the messages this stream still has
   * queued are dropped, so nothing older is applied after something newer.
   */
  replaced = false;
  /** Resolves once every message received on this stream so far is handled (or dropped). */
  drained: () => Promise<void> = () => Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly cluster: string,
    readonly epoch: string,
    readonly agentVersion: string,
    private readonly call: ServerDuplexStream<ConnectRequest, ConnectResponse>,
  ) {}

  /** The highest heartbeat ping received on this stream, echoed on every message sent. */
  heardPing = 0;

  /** Sends one message, with the heartbeat echo the agent's lease counts from; false when the stream is gone. */
  send(message: Omit<ConnectResponse, 'heartbeatEcho'>): boolean {
    if (this.closed) return false;
    try {
      this.call.write({ ...message, heartbeatEcho: this.heardPing });
      return true;
    } catch {
      return false;
    }
  }

  private listReads = 0;
  private sentDuringRead = new Map<string, number>();

  /** Marks the start of reading the authoritative gang list from Postgres. */
  beginListRead(): void {
    if (this.listReads++ === 0) this.sentDuringRead = new Map();
  }

  /** Dispatches sent since beginListRead(); they belong on the list about to be sent. */
  endListRead(): Map<string, number> {
    const sent = this.sentDuringRead;
    if (--this.listReads === 0) this.sentDuringRead = new Map();
    return sent;
  }

  /** performance.now() of the last send of each dispatch on this stream, by gangRefKey. */
  private readonly lastSent = new Map<string, number>();

  noteSent(gangId: string, fencingToken: number): void {
    if (this.listReads > 0) this.sentDuringRead.set(gangId, fencingToken);
    const now = performance.now();
    if (this.lastSent.size >= 4096)
      for (const [key, at] of this.lastSent) if (now - at > 60_000) this.lastSent.delete(key);
    this.lastSent.set(gangRefKey(gangId, fencingToken), now);
  }

  /** Whether this stream carried the dispatch less than `ms` ago. */
  sentWithin(gangId: string, fencingToken: number, ms: number): boolean {
    const at = this.lastSent.get(gangRefKey(gangId, fencingToken));
    return at !== undefined && performance.now() - at < ms;
  }

  /**
   * Sends a HubHeartbeat every `intervalMs` until the stream ends: the agent's self-fence lease
   * runs from the last message it received, so a hub with nothing to say must still speak. A
   * timer of its own, not the message chain, so a slow database does not silence it.
   */
  startHeartbeat(intervalMs: number): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (!this.send({ message: { $case: 'hubHeartbeat', hubHeartbeat: { sentAt: new Date() } } }))
        this.stopHeartbeat();
    }, intervalMs);
    this.heartbeat.unref();
  }

  stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  close(): void {
    this.stopHeartbeat();
    if (this.closed) return;
    this.closed = true;
    this.call.end();
  }
}

/** This replica's agent streams, one per cluster. */
@Injectable()
export class AgentRegistry {
  private readonly sessions = new Map<string, AgentSession>();
  /** The newest stream accepted per cluster, still known after it ended (its queue may not be). */
  private readonly newest = new Map<string, AgentSession>();

  get(cluster: string): AgentSession | undefined {
    return this.sessions.get(cluster);
  }

  /**
   * Adds a session; an older stream of the same cluster is closed (the agent reconnected) and
   * marked replaced, so whatever it still has queued is dropped. Returns that older stream, if
   * any — ended or not — so the caller can wait for the message it is handling right now.
   */
  add(session: AgentSession): AgentSession | undefined {
    const old = this.sessions.get(session.cluster);
    if (old && old !== session) old.close();
    this.sessions.set(session.cluster, session);
    const previous = this.newest.get(session.cluster);
    this.newest.set(session.cluster, session);
    if (!previous || previous === session) return undefined;
    previous.replaced = true;
    return previous;
  }

  remove(session: AgentSession): boolean {
    if (this.sessions.get(session.cluster) !== session) return false;
    this.sessions.delete(session.cluster);
    return true;
  }

  all(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** Clusters whose stream on this replica delivered a message within the last `withinMs`. */
  heardFrom(withinMs: number, now = performance.now()): string[] {
    return this.all()
      .filter((s) => !s.closed && now - s.lastMessageAt <= withinMs)
      .map((s) => s.cluster);
  }
}
