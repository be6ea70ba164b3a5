// TcpProxy's blackhole on plain loopback sockets: nothing crosses and nothing closes until heal,
// then what was sent arrives and what gave up meanwhile is closed; cut() is unchanged.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TcpProxy } from '../support/tcp-proxy';
import { eventually } from '../support/eventually';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server that records what each connection sends and whether it closed. */
class Upstream {
  readonly conns: { socket: Socket; data: string; closed: boolean }[] = [];
  private server: Server | undefined;
  port = 0;

  async open(): Promise<void> {
    this.server = createServer((socket) => {
      const c = { socket, data: '', closed: false };
      this.conns.push(c);
      socket.on('data', (d) => (c.data += d.toString()));
      socket.on('close', () => (c.closed = true));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

async function dial(
  port: number,
): Promise<{ socket: Socket; got: () => string; closed: () => boolean }> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  socket.on('data', (d) => (data += d.toString()));
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  return { socket, got: () => data, closed: () => closed };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  await eventually(what, () => ok() || undefined, { timeoutMs: 5000, intervalMs: 5 });
}

let upstream: Upstream;
let proxy: TcpProxy;

beforeEach(async () => {
  upstream = new Upstream();
  await upstream.open();
  proxy = new TcpProxy({ host: '127.0.0.1', port: upstream.port });
  await proxy.open();
});

afterEach(async () => {
  await proxy.cut();
  await upstream.close();
});

it('forwards both ways, then silently drops everything until heal, which delivers it', async () => {
  const a = await dial(proxy.port);
  a.socket.write('hello');
  await until('hello upstream', () => upstream.conns[0]?.data === 'hello');
  upstream.conns[0]!.socket.write('hi');
  await until('hi back', () => a.got() === 'hi');

  proxy.blackhole();
  expect(proxy.blackholed).toBe(true);
  a.socket.write('lost?');
  upstream.conns[0]!.socket.write('there?');
  const b = await dial(proxy.port); // connects to the proxy, reaches nothing
  b.socket.write('new');
  await sleep(300);
  expect(upstream.conns[0]!.data).toBe('hello');
  expect(a.got()).toBe('hi');
  expect(upstream.conns).toHaveLength(1);
  expect([a.closed(), b.closed(), upstream.conns[0]!.closed]).toEqual([false, false, false]);

  proxy.heal();
  expect(proxy.blackholed).toBe(false);
  await until('queued data delivered', () => upstream.conns[0]!.data === 'hellolost?');
  await until('queued reply delivered', () => a.got() === 'hithere?');
  await until('the held connection reaches upstream', () => upstream.conns[1]?.data === 'new');
});

it('keeps a close from crossing a blackhole; heal then closes the other end', async () => {
  const a = await dial(proxy.port);
  a.socket.write('x');
  await until('connected upstream', () => upstream.conns[0]?.data === 'x');
  proxy.blackhole();
  a.socket.destroy(); // the agent gives up on its side
  await sleep(300);
  expect(upstream.conns[0]!.closed).toBe(false);
  proxy.heal();
  await until('upstream closed at heal', () => upstream.conns[0]!.closed);
});

it('cut() still drops every connection and refuses new ones', async () => {
  const a = await dial(proxy.port);
  a.socket.write('x');
  await until('connected upstream', () => upstream.conns[0]?.data === 'x');
  const port = proxy.port;
  await proxy.cut();
  await until('client closed', () => a.closed());
  await until('upstream closed', () => upstream.conns[0]!.closed);
  await expect(dial(port)).rejects.toThrow();
  await proxy.open(port); // and reopens on the same port
  const b = await dial(port);
  b.socket.write('y');
  await until('reconnected upstream', () => upstream.conns[1]?.data === 'y');
});
