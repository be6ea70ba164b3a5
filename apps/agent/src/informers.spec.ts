// The informer's recovery logic against a scripted list/watch endpoint (no Kubernetes here; the
// e2e tests run it against a real API server): paging, 410 Gone → relist with deletions, restart
// after errors, bookmarks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesListObject, type V1Pod } from '@kubernetes/client-node';
import { ResilientInformer } from './informers';
import { createLog } from '@muster/log';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

const pod = (name: string, rv: string): V1Pod => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv, uid: name },
  spec: { containers: [{ name: 'c', image: 'x' }], nodeName: 'n1' },
});

function event(res: ServerResponse, type: string, object: unknown): void {
  res.write(JSON.stringify({ type, object }) + '\n');
}

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ResilientInformer', () => {
  let server: Server;
  let base: string;
  let onWatch: Handler;
  let lists: Array<(url: URL) => KubernetesListObject<V1Pod>>;
  const watchUrls: URL[] = [];
  const open: ServerResponse[] = [];

  beforeEach(async () => {
    watchUrls.length = 0;
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.searchParams.get('watch') === 'true') {
        watchUrls.push(url);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        open.push(res);
        onWatch(req, res, url);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const r of open.splice(0)) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function informer(seen: string[]) {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: base, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    let listCall = 0;
    return new ResilientInformer<V1Pod>(kc, {
      name: 'pods',
      path: '/api/v1/pods',
      listPage: async (token) => {
        const next = lists[listCall++];
        if (!next) throw new Error('no more lists scripted');
        const url = new URL(`${base}/api/v1/pods`);
        if (token) url.searchParams.set('continue', token);
        return next(url);
      },
      slim: (p) => p,
      handlers: {
        upsert: (p) => seen.push(`upsert ${p.metadata!.name}@${p.metadata!.resourceVersion}`),
        remove: (p) => seen.push(`remove ${p.metadata!.name}`),
      },
      log: createLog({ level: 'error', destination: { write: () => true } }),
      pageSize: 1,
      backoff: { initialMs: 10, maxMs: 20 },
    });
  }

  it('pages the list, watches from its resourceVersion, and relists with deletions after 410', async () => {
    const seen: string[] = [];
    lists = [
      () => ({ metadata: { resourceVersion: '10', _continue: 'p2' }, items: [pod('a', '1')] }),
      (url) => {
        expect(url.searchParams.get('continue')).toBe('p2');
        return { metadata: { resourceVersion: '10' }, items: [pod('b', '2')] };
      },
      // The relist after 410: b is gone, a changed, c is new.
      () => ({ metadata: { resourceVersion: '30' }, items: [pod('a', '25'), pod('c', '26')] }),
    ];
    let watches = 0;
    onWatch = (_req, res) => {
      watches++;
      if (watches === 1) {
        event(res, 'MODIFIED', pod('a', '11'));
        event(res, 'BOOKMARK', { metadata: { resourceVersion: '15' } });
        event(res, 'ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
        res.end();
      }
      // Later watches stay open.
    };
    const inf = informer(seen);
    try {
      await inf.start();
      expect(seen.slice(0, 2)).toEqual(['upsert a@1', 'upsert b@2']);
      await until('the relist', () => seen.includes('remove b') && seen.includes('upsert c@26'));
      await until('a second watch', () => watchUrls.length >= 2);
      expect(seen.slice(0, 3)).toEqual(['upsert a@1', 'upsert b@2', 'upsert a@11']);
      expect(seen).toContain('upsert a@25');
      expect(watchUrls[0]!.searchParams.get('resourceVersion')).toBe('10');
      expect(watchUrls[0]!.searchParams.get('allowWatchBookmarks')).toBe('true');
      expect(Number(watchUrls[0]!.searchParams.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
      expect(watchUrls[1]!.searchParams.get('resourceVersion')).toBe('30');
    } finally {
      await inf.stop();
    }
  });

  it('restarts after a failed list and resumes a dropped watch from the last resourceVersion', async () => {
    const seen: string[] = [];
    lists = [
      () => {
        throw new Error('connection refused');
      },
      () => ({ metadata: { resourceVersion: '5' }, items: [pod('a', '5')] }),
    ];
    let watches = 0;
    onWatch = (_req, res) => {
      watches++;
      if (watches === 1) {
        event(res, 'ADDED', pod('b', '7'));
        setTimeout(() => res.socket?.destroy(), 50); // then the connection breaks
      }
    };
    const inf = informer(seen);
    try {
      await inf.start();
      expect(inf.synced).toBe(true);
      expect(seen).toEqual(['upsert a@5']);
      await until('the resumed watch', () => watchUrls.length >= 2);
      expect(seen).toEqual(['upsert a@5', 'upsert b@7']);
      expect(watchUrls[1]!.searchParams.get('resourceVersion')).toBe('7');
    } finally {
      await inf.stop();
    }
  });
});
