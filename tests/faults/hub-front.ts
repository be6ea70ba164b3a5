// The address agents dial when there are several hub replicas, as a Kubernetes Service or a TCP
// load balancer gives them: each new connection goes to the next replica that accepts it, and a
// connection whose replica dies is closed, so its agent redials and lands on a live one.
import { connect, createServer, type Server, type Socket } from 'node:net';

export class HubFront {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private next = 0;
  port = 0;

  /** `replicas` are read on every connection: a replica restarted on its port is found again. */
  constructor(private readonly replicas: () => number[]) {}

  async open(): Promise<number> {
    this.server = createServer((client) => {
      client.pause();
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => client.destroy());
      void this.route(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private async route(client: Socket): Promise<void> {
    const ports = this.replicas();
    for (let i = 0; i < ports.length && !client.destroyed; i++) {
      const port = ports[(this.next + i) % ports.length]!;
      const upstream = await new Promise<Socket | undefined>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', () => {
          s.destroy();
          resolve(undefined);
        });
      });
      if (!upstream) continue;
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.next = (this.next + i + 1) % ports.length;
      this.sockets.add(upstream);
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.on('close', () => {
          this.sockets.delete(a);
          b.destroy();
        });
        a.on('error', () => a.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.resume();
      return;
    }
    client.destroy(); // no replica accepts: the agent sees a refused hub and redials
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.server = undefined;
  }
}
