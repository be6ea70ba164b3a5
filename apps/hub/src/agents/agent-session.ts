import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { ConnectRequest, ConnectResponse } from '@muster/api';
import type { ReportedNode } from './capacity.mapper';

/** One connected agent: its stream and the capacity it last reported. */
export class AgentSession {
  readonly nodes = new Map<string, ReportedNode>();
  /** "gangId:token" of dispatches the reported capacity already accounts for. */
  reflected = new Set<string>();
  reportSequence = 0;
  closed = false;
  readonly connectedAt = new Date();
  /** performance.now() of the last message received on the stream: liveness on one clock. */
  lastMessageAt = performance.now();

  constructor(
    readonly cluster: string,
    readonly epoch: string,
    readonly agentVersion: string,
    private readonly call: ServerDuplexStream<ConnectRequest, ConnectResponse>,
  ) {}

  /** Sends one message; false when the stream is gone. */
  send(message: ConnectResponse): boolean {
    if (this.closed) return false;
    try {
      this.call.write(message);
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

  noteSent(gangId: string, fencingToken: number): void {
    if (this.listReads > 0) this.sentDuringRead.set(gangId, fencingToken);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.end();
  }
}

/** This replica's agent streams, one per cluster. */
export class AgentRegistry {
  private readonly sessions = new Map<string, AgentSession>();

  get(cluster: string): AgentSession | undefined {
    return this.sessions.get(cluster);
  }

  /** Adds a session; an older stream of the same cluster is closed (the agent reconnected). */
  add(session: AgentSession): void {
    const old = this.sessions.get(session.cluster);
    if (old && old !== session) old.close();
    this.sessions.set(session.cluster, session);
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
