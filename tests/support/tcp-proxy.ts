// A loopback TCP proxy the test can cut, to partition one agent from the hub, or blackhole, to
// partition it silently.
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One proxied connection; `upstream` is undefined while it waits out a blackhole. */
interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** One side closed during a blackhole: the other learns of it only at heal(). */
  broken: boolean;
}

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<Pair>();
  private server: Server | undefined;
  private dark = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(port = 0): Promise<number> {
    this.server = createServer((client) => {
      const pair: Pair = { client, upstream: undefined, broken: false };
      this.pairs.add(pair);
      this.track(pair, client);
      // A connection made through a blackhole reaches nothing until heal(), as a SYN that is
      // dropped and retried would; the client sees it open and silent meanwhile.
      if (this.dark) client.pause();
      else this.join(pair);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private track(pair: Pair, s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => {
      this.sockets.delete(s);
      // Across a blackhole a close (FIN or RST) is lost like every other packet.
      if (this.dark) {
        pair.broken = true;
        return;
      }
      this.drop(pair);
    });
    s.on('error', () => s.destroy());
  }

  /** Either side gone means both are: a half-dead pair would hide a crashed hub from the agent. */
  private drop(pair: Pair): void {
    this.pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }

  private join(pair: Pair): void {
    if (!pair.upstream) {
      pair.upstream = connect(this.target.port, this.target.host);
      this.track(pair, pair.upstream);
    }
    pair.client.pipe(pair.upstream).pipe(pair.client);
    pair.client.resume();
    pair.upstream.resume();
  }

  /**
   * A silent partition: nothing is forwarded either way and no socket is closed, so each end
   * learns of it only from its own timeouts (keepalives), as with packets dropped on the path.
   * What was sent meanwhile stays queued and is delivered by heal(), as TCP retransmits would.
   */
  blackhole(): void {
    this.dark = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      client.pause();
      upstream?.unpipe();
      upstream?.pause();
    }
  }

  /**
   * Ends a blackhole: forwarding resumes on every connection both of whose ends are still open;
   * one whose other end gave up meanwhile is closed now, as the first packet that gets through
   * would be answered with a reset.
   */
  heal(): void {
    if (!this.dark) return;
    this.dark = false;
    for (const pair of [...this.pairs]) {
      if (pair.broken || pair.client.destroyed || pair.upstream?.destroyed) this.drop(pair);
      else this.join(pair);
    }
  }

  /** True between blackhole() and heal(). */
  get blackholed(): boolean {
    return this.dark;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    this.dark = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pairs.clear();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.server = undefined;
  }
}
