// What Muster's stores of custom objects on the management cluster share, over
// @kubernetes/client-node: API clients with a deadline per request, API errors read into code and
// reason, and a reflector: a list+watch cache of one namespace's objects, or of every namespace's
// selected by label (resumed from the last resourceVersion, relisted after 410 Gone or an error,
// with capped backoff). Written here rather than with client-node's informer because the stores
// observe their own writes into the cache (so a pass does not rewrite what it just applied) and
// list in pages.
import { isRecord } from '@muster/common';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ServerConfiguration,
  Watch,
  createConfiguration,
  type Middleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { Log } from '@muster/log';

/** Deadline of one API request (not of watches), in ms. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Objects per page of a list. */
export const LIST_PAGE = 500;
const BACKOFF_MS = { initial: 500, max: 30_000 };

/** The clients of one management cluster, every request with a deadline. */
export function kubeClients(kc: KubeConfig): {
  custom: CustomObjectsApi;
  core: CoreV1Api;
  watcher: Watch;
  /** The API server URL, for logs. */
  server: string;
} {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the inventory kubeconfig names no current cluster');
  const deadline: Middleware = {
    pre: async (ctx: RequestContext) => {
      if (!ctx.getSignal()) ctx.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
      return ctx;
    },
    post: async (rsp: ResponseContext) => rsp,
  };
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [deadline],
  });
  return {
    custom: new CustomObjectsApi(config),
    core: new CoreV1Api(config),
    watcher: new Watch(kc),
    server: cluster.server,
  };
}

export interface KubeFailure {
  /** HTTP status; 0 when there was no answer. */
  code: number;
  reason: string;
  message: string;
}

/** Reads a client-node ApiException (or any error) into code, Status reason and message. */
export function kubeFailure(err: unknown): KubeFailure {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; body?: unknown; message?: unknown };
    if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) {
      let body: unknown = e.body;
      if (typeof body === 'string') {
        try {
          body = JSON.parse(body);
        } catch {
          body = { message: body };
        }
      }
      const b = (typeof body === 'object' && body !== null ? body : {}) as {
        reason?: unknown;
        message?: unknown;
      };
      return {
        code: e.code,
        reason: typeof b.reason === 'string' ? b.reason : '',
        message: typeof b.message === 'string' ? b.message : `HTTP ${e.code}`,
      };
    }
    if (typeof e.message === 'string') return { code: 0, reason: '', message: e.message };
  }
  return { code: 0, reason: '', message: String(err) };
}

/** A request that failed, with what it was doing, its HTTP status (0: no answer) and reason. */
export class KubeRequestError extends Error {
  constructor(
    readonly failure: KubeFailure,
    what: string,
  ) {
    super(
      `${what}: ${failure.code ? `HTTP ${failure.code}${failure.reason ? ` ${failure.reason}` : ''}` : 'unreachable'}: ${failure.message}`,
    );
  }

  get code(): number {
    return this.failure.code;
  }
}

/** Any API object with a name: the stores' mappers check the rest. */
export interface NamedObject {
  metadata: { name: string; resourceVersion?: string };
}

/** An API object with a name, taken as a T; deeper checks are the caller's. */
export function asNamed<T extends NamedObject>(v: unknown): T | undefined {
  if (!isRecord(v) || !isRecord(v.metadata) || typeof v.metadata.name !== 'string')
    return undefined;
  return v as unknown as T;
}

/** True when resourceVersion a is older than b (etcd versions are integers; else unknown: false). */
function olderThan(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

/** One page of a list: `continueToken` from the previous page's metadata. */
export type ListPage = (continueToken: string | undefined) => Promise<unknown>;

export type ReflectorEvent = 'ADDED' | 'MODIFIED' | 'DELETED';

/** List, then watch from the list's resourceVersion, keeping a cache of the namespace's objects. */
export class Reflector<T extends NamedObject> {
  private cache = new Map<string, T>();
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delayMs = BACKOFF_MS.initial;
  private relist = true;
  private stopped = false;
  private lastError = '';
  synced = false;

  constructor(
    private readonly opts: {
      /** The kind, for errors and logs. */
      kind: string;
      /** The namespace watched, for logs ("" for every namespace). */
      namespace: string;
      /** The watch path of the objects. */
      path: string;
      /** Only objects with these labels (list pages must use the same). */
      labelSelector?: string;
      /** The cache key of an object: its name unless given (cluster-wide: namespace/name). */
      keyOf?: (object: T) => string;
      listPage: ListPage;
      watcher: Watch;
      /**
       * A change not already observed; `known` is false for a DELETED of an object no longer
       * cached (one Muster deleted and forgot itself).
       */
      onChange: (type: ReflectorEvent, object: T, known: boolean) => void;
      log: Log;
    },
  ) {}

  list(): T[] {
    return [...this.cache.values()];
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  observe(object: T): void {
    const key = this.keyOf(object);
    const old = this.cache.get(key);
    if (old && olderThan(object.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    this.cache.set(key, object);
  }

  /** Drops an object Muster deleted (the watch's DELETED event then changes nothing). */
  forget(key: string): void {
    this.cache.delete(key);
  }

  private keyOf(object: T): string {
    return this.opts.keyOf ? this.opts.keyOf(object) : object.metadata.name;
  }

  start(): void {
    void this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.abort?.abort();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.relist) await this.fullList();
      const timeoutSeconds = 240 + Math.floor(Math.random() * 120);
      this.abort = await this.opts.watcher.watch(
        this.opts.path,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
          ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
        },
        (phase: string, obj: unknown) => this.onEvent(phase, obj),
        (err: unknown) => this.onDone(err),
      );
    } catch (err) {
      this.retry(err);
    }
  }

  private async fullList(): Promise<void> {
    const items: T[] = [];
    let token: string | undefined;
    let rv = '';
    do {
      const page = await this.opts.listPage(token);
      if (!isRecord(page) || !Array.isArray(page.items))
        throw new Error(`the ${this.opts.kind} list answer has no items`);
      for (const item of page.items) {
        const o = asNamed<T>(item);
        if (o) items.push(o);
      }
      const meta = isRecord(page.metadata) ? page.metadata : {};
      rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : rv;
      token = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
    } while (token);
    const next = new Map(items.map((p) => [this.keyOf(p), p]));
    const previous = this.cache;
    this.cache = next;
    this.resourceVersion = rv;
    this.relist = false;
    this.synced = true;
    for (const [name, old] of previous)
      if (!next.has(name)) this.opts.onChange('DELETED', old, true);
    for (const [name, p] of next) {
      const old = previous.get(name);
      if (!old) this.opts.onChange('ADDED', p, true);
      else if (old.metadata.resourceVersion !== p.metadata.resourceVersion)
        this.opts.onChange('MODIFIED', p, true);
    }
  }

  private onEvent(phase: string, obj: unknown): void {
    if (phase === 'ERROR') {
      // 410 Gone: the resourceVersion is too old; the watch ends and is followed by a relist.
      this.relist = true;
      return;
    }
    const meta = isRecord(obj) && isRecord(obj.metadata) ? obj.metadata : undefined;
    if (meta && typeof meta.resourceVersion === 'string')
      this.resourceVersion = meta.resourceVersion;
    if (phase === 'BOOKMARK') return;
    const p = asNamed<T>(obj);
    if (!p) return;
    const key = this.keyOf(p);
    if (phase === 'DELETED') {
      const known = this.cache.delete(key);
      this.opts.onChange('DELETED', p, known);
      return;
    }
    const old = this.cache.get(key);
    // Already cached from the answer of Muster's own write: nothing new.
    if (old && old.metadata.resourceVersion === p.metadata.resourceVersion) return;
    if (old && olderThan(p.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    this.cache.set(key, p);
    this.opts.onChange(phase === 'ADDED' ? 'ADDED' : 'MODIFIED', p, true);
  }

  private onDone(err: unknown): void {
    this.abort = undefined;
    if (this.stopped) return;
    if (err && !(isRecord(err) && err.name === 'AbortError')) {
      this.retry(err);
      return;
    }
    // A watch ends normally at its timeout: resume from the last resourceVersion.
    this.delayMs = BACKOFF_MS.initial;
    if (this.lastError !== '') {
      this.opts.log.info(`${this.opts.kind} watch recovered`, { namespace: this.opts.namespace });
      this.lastError = '';
    }
    void this.run();
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    const text = kubeFailure(err).message;
    if (text !== this.lastError) {
      this.opts.log.warn(`${this.opts.kind} watch failed; relisting`, {
        namespace: this.opts.namespace,
        err,
        retryInMs: this.delayMs,
      });
    }
    this.lastError = text;
    this.relist = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.run(), this.delayMs);
    this.delayMs = Math.min(BACKOFF_MS.max, this.delayMs * 2);
  }
}

/**
 * Deletes a namespaced custom object if it still has `uid` (any object of that name without
 * one); gone already, or replaced by a new object of the same name, is fine.
 */
export async function deleteCustomObject(
  custom: CustomObjectsApi,
  ref: { group: string; version: string; plural: string; namespace: string },
  name: string,
  uid: string | undefined,
  kind: string,
): Promise<void> {
  try {
    await custom.deleteNamespacedCustomObject({
      ...ref,
      name,
      body: uid ? { preconditions: { uid } } : {},
    });
  } catch (err) {
    const f = kubeFailure(err);
    if (f.code === 404 || f.code === 409) return;
    throw new KubeRequestError(f, `deleting ${kind} ${ref.namespace}/${name}`);
  }
}
