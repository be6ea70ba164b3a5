// Live views of Nodes and Pods built on client-node informers (list, then watch from the list's
// resourceVersion). On top of client-node:
// - the list is paged (limit/continue) and each page is slimmed before the next is fetched;
// - every object handed to the handlers is then stripped to its metadata in the informer's own
//   cache (the handlers keep what they need), so memory follows the object count, not size;
// - watches carry allowWatchBookmarks (the resourceVersion stays fresh, so resuming rarely
//   meets 410 Gone) and a server-side timeout (a silently dead connection is replaced);
// - after any error the informer is restarted with capped, jittered backoff. 410 Gone resets
//   the resourceVersion inside client-node, which then relists; objects missing from the new
//   list are reported deleted.
import {
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { Backoff, errorText } from '@muster/common';
import type { Log } from '@muster/log';
import { kubeError } from './api-errors';

export interface InformerHandlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** Short name for logs, e.g. "pods". */
  name: string;
  /** Collection path, e.g. "/api/v1/pods". */
  path: string;
  /** Lists one page. */
  listPage(continueToken: string | undefined, limit: number): Promise<KubernetesListObject<T>>;
  /** Drops unneeded fields of a listed object before the next page is fetched. */
  slim(obj: T): T;
  handlers: InformerHandlers<T>;
  log: Log;
  pageSize?: number;
  backoff?: { initialMs: number; maxMs: number };
}

function stripToMetadata(obj: KubernetesObject): void {
  const m = obj.metadata ?? {};
  const o = obj as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== 'metadata') delete o[key];
  o.metadata = {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
  };
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private readonly backoff: Backoff;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncedOnce = false;
  private readonly syncWaiters: Array<() => void> = [];
  private lastError = '';

  constructor(
    kc: KubeConfig,
    private readonly options: ResilientInformerOptions<T>,
  ) {
    // 5 to 10 minutes, like client-go's reflector, so watches do not all end together.
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    const path = `${options.path}?allowWatchBookmarks=true&timeoutSeconds=${timeoutSeconds}`;
    this.informer = makeInformer<T>(kc, path, () => this.listAll());
    this.backoff = new Backoff(options.backoff ?? { initialMs: 500, maxMs: 30_000 });
    const { handlers } = options;
    const onUpsert = (obj: T) => {
      this.healthy();
      try {
        handlers.upsert(obj);
      } finally {
        stripToMetadata(obj);
      }
    };
    this.informer.on('add', onUpsert);
    this.informer.on('update', onUpsert);
    this.informer.on('delete', (obj: T) => {
      this.healthy();
      handlers.remove(obj);
    });
    this.informer.on('error', (err: unknown) => this.onError(err));
  }

  private async listAll(): Promise<KubernetesListObject<T>> {
    const limit = this.options.pageSize ?? 500;
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.options.listPage(token, limit);
      for (const item of page.items) items.push(this.options.slim(item));
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      token = page.metadata?._continue || undefined;
    } while (token);
    // client-node applies the list synchronously right after this promise settles: by the next
    // macrotask the view holds the whole list.
    setImmediate(() => this.markSynced());
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items };
  }

  private markSynced(): void {
    this.healthy();
    if (this.syncedOnce) return;
    this.syncedOnce = true;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  /** A list or an event came through: the next failure starts the backoff afresh. */
  private healthy(): void {
    this.backoff.reset();
    if (this.lastError !== '') {
      this.options.log.info('informer recovered', { informer: this.options.name });
      this.lastError = '';
    }
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    const e = kubeError(err);
    const delay = this.backoff.next();
    const text = e.code ? `HTTP ${e.code} ${e.reason} ${e.message}` : errorText(err);
    // Repeated identical failures are logged once at warn, then at debug.
    const level = text === this.lastError ? 'debug' : 'warn';
    this.lastError = text;
    this.options.log[level]('informer failed; restarting', {
      informer: this.options.name,
      err,
      retryInMs: delay,
    });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.run(), delay);
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    await this.informer.start();
  }

  /** Starts listing and watching; resolves once the first full list has been applied. */
  start(): Promise<void> {
    this.stopped = false;
    const synced = new Promise<void>((resolve) => {
      if (this.syncedOnce) resolve();
      else this.syncWaiters.push(resolve);
    });
    void this.run();
    return synced;
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }
}
