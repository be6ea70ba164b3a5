// ClusterProfileStore on a real API server through @kubernetes/client-node: server-side apply of
// objects and status, a list+watch cache per namespace (resumed from the last resourceVersion,
// relisted after 410 Gone or an error, with capped backoff), and namespace creation.
import { isRecord } from '@muster/common';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  ServerConfiguration,
  Watch,
  createConfiguration,
  setHeaderOptions,
  type Middleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import {
  CLUSTER_PROFILE_GROUP,
  CLUSTER_PROFILE_PLURAL,
  CLUSTER_PROFILE_VERSION,
  clusterProfilesPath,
  type ClusterProfile,
} from '@muster/k8s';
import type { Log } from '@muster/log';
import {
  FIELD_MANAGER,
  type ClusterProfileApply,
  type ClusterProfileStatusApply,
} from './cluster-profile.publish';
import type { ClusterProfileStore, ProfileEventType, ProfileWatch } from './cluster-profile.store';

/** Deadline of one API request (not of watches), in ms. */
const REQUEST_TIMEOUT_MS = 15_000;
const LIST_PAGE = 500;
const BACKOFF_MS = { initial: 500, max: 30_000 };

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

class KubeRequestError extends Error {
  constructor(
    readonly failure: KubeFailure,
    what: string,
  ) {
    super(
      `${what}: ${failure.code ? `HTTP ${failure.code}${failure.reason ? ` ${failure.reason}` : ''}` : 'unreachable'}: ${failure.message}`,
    );
  }
}

/** An API object with a name is taken as a ClusterProfile; deeper checks are the mapper's. */
function asProfile(v: unknown): ClusterProfile | undefined {
  if (!isRecord(v) || !isRecord(v.metadata) || typeof v.metadata.name !== 'string')
    return undefined;
  return v as unknown as ClusterProfile;
}

/** True when resourceVersion a is older than b (etcd versions are integers; else unknown: false). */
function olderThan(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

type ListPage = (continueToken: string | undefined) => Promise<unknown>;

/** List, then watch from the list's resourceVersion, keeping a cache of the namespace's objects. */
class ProfileReflector implements ProfileWatch {
  private cache = new Map<string, ClusterProfile>();
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delayMs = BACKOFF_MS.initial;
  private relist = true;
  private stopped = false;
  private lastError = '';
  synced = false;

  constructor(
    private readonly namespace: string,
    private readonly listPage: ListPage,
    private readonly watcher: Watch,
    private readonly onChange: (type: ProfileEventType, profile: ClusterProfile) => void,
    private readonly log: Log,
  ) {}

  list(): ClusterProfile[] {
    return [...this.cache.values()];
  }

  get(name: string): ClusterProfile | undefined {
    return this.cache.get(name);
  }

  observe(profile: ClusterProfile): void {
    const old = this.cache.get(profile.metadata.name);
    if (old && olderThan(profile.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    this.cache.set(profile.metadata.name, profile);
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
      this.abort = await this.watcher.watch(
        clusterProfilesPath(this.namespace),
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        (phase: string, obj: unknown) => this.onEvent(phase, obj),
        (err: unknown) => this.onDone(err),
      );
    } catch (err) {
      this.retry(err);
    }
  }

  private async fullList(): Promise<void> {
    const items: ClusterProfile[] = [];
    let token: string | undefined;
    let rv = '';
    do {
      const page = await this.listPage(token);
      if (!isRecord(page) || !Array.isArray(page.items))
        throw new Error('the ClusterProfile list answer has no items');
      for (const item of page.items) {
        const p = asProfile(item);
        if (p) items.push(p);
      }
      const meta = isRecord(page.metadata) ? page.metadata : {};
      rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : rv;
      token = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
    } while (token);
    const next = new Map(items.map((p) => [p.metadata.name, p]));
    const previous = this.cache;
    this.cache = next;
    this.resourceVersion = rv;
    this.relist = false;
    this.synced = true;
    for (const [name, old] of previous) if (!next.has(name)) this.onChange('DELETED', old);
    for (const [name, p] of next) {
      const old = previous.get(name);
      if (!old) this.onChange('ADDED', p);
      else if (old.metadata.resourceVersion !== p.metadata.resourceVersion)
        this.onChange('MODIFIED', p);
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
    const p = asProfile(obj);
    if (!p) return;
    const name = p.metadata.name;
    if (phase === 'DELETED') {
      this.cache.delete(name);
      this.onChange('DELETED', p);
      return;
    }
    const old = this.cache.get(name);
    // Already cached from the answer of Muster's own write: nothing new.
    if (old && old.metadata.resourceVersion === p.metadata.resourceVersion) return;
    if (old && olderThan(p.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    this.cache.set(name, p);
    this.onChange(phase === 'ADDED' ? 'ADDED' : 'MODIFIED', p);
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
      this.log.info('ClusterProfile watch recovered', { namespace: this.namespace });
      this.lastError = '';
    }
    void this.run();
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    const text = kubeFailure(err).message;
    if (text !== this.lastError) {
      this.log.warn('ClusterProfile watch failed; relisting', {
        namespace: this.namespace,
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

/** ClusterProfiles on the management cluster named by a kubeconfig file. */
export class KubeClusterProfileStore implements ClusterProfileStore {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;
  /** The management cluster's API server URL, for logs. */
  readonly server: string;

  constructor(
    kc: KubeConfig,
    private readonly log: Log,
  ) {
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
    this.custom = new CustomObjectsApi(config);
    this.core = new CoreV1Api(config);
    this.watcher = new Watch(kc);
    this.server = cluster.server;
  }

  static fromFile(path: string, log: Log): KubeClusterProfileStore {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new KubeClusterProfileStore(kc, log);
  }

  private ref(namespace: string) {
    return {
      group: CLUSTER_PROFILE_GROUP,
      version: CLUSTER_PROFILE_VERSION,
      plural: CLUSTER_PROFILE_PLURAL,
      namespace,
    };
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new KubeRequestError(kubeFailure(err), what);
    }
  }

  async problem(namespace: string): Promise<string | undefined> {
    // Needs only list permission in the namespace (no cluster-wide CRD read).
    try {
      await this.custom.listNamespacedCustomObject({ ...this.ref(namespace), limit: 1 });
      return undefined;
    } catch (err) {
      const f = kubeFailure(err);
      // Listing needs no namespace to exist: a 404 means the resource type is not served.
      if (f.code === 404)
        return `the ClusterProfile CRD (${CLUSTER_PROFILE_PLURAL}.${CLUSTER_PROFILE_GROUP}/${CLUSTER_PROFILE_VERSION}) is not installed on ${this.server}; apply infra/crds/${CLUSTER_PROFILE_PLURAL}.${CLUSTER_PROFILE_GROUP}.yaml`;
      return `cannot list ClusterProfiles on ${this.server}: ${f.code ? `HTTP ${f.code} ` : ''}${f.message}`;
    }
  }

  async ensureNamespace(namespace: string): Promise<void> {
    try {
      await this.core.readNamespace({ name: namespace });
      return;
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code !== 404) {
        this.log.warn('cannot read the inventory namespace; assuming it exists', {
          namespace,
          err,
        });
        return;
      }
    }
    try {
      await this.core.createNamespace({ body: { metadata: { name: namespace } } });
      this.log.info('inventory namespace created', { namespace });
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code !== 409) throw new KubeRequestError(f, `creating namespace ${namespace}`);
    }
  }

  watch(
    namespace: string,
    onChange: (type: ProfileEventType, profile: ClusterProfile) => void,
  ): ProfileWatch {
    const listPage: ListPage = (token) =>
      this.custom.listNamespacedCustomObject({
        ...this.ref(namespace),
        limit: LIST_PAGE,
        ...(token ? { _continue: token } : {}),
      }) as Promise<unknown>;
    const reflector = new ProfileReflector(namespace, listPage, this.watcher, onChange, this.log);
    reflector.start();
    return reflector;
  }

  private profileOf(v: unknown, what: string): ClusterProfile {
    const p = asProfile(v);
    if (!p) throw new Error(`${what}: the API server answered without an object`);
    return p;
  }

  async apply(profile: ClusterProfileApply): Promise<ClusterProfile> {
    const { name, namespace } = profile.metadata;
    const what = `applying ClusterProfile ${namespace}/${name}`;
    const res: unknown = await this.call(what, () =>
      this.custom.patchNamespacedCustomObject(
        { ...this.ref(namespace), name, body: profile, fieldManager: FIELD_MANAGER, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      ),
    );
    return this.profileOf(res, what);
  }

  async applyStatus(status: ClusterProfileStatusApply): Promise<ClusterProfile> {
    const { name, namespace } = status.metadata;
    const what = `applying ClusterProfile status ${namespace}/${name}`;
    const res: unknown = await this.call(what, () =>
      this.custom.patchNamespacedCustomObjectStatus(
        { ...this.ref(namespace), name, body: status, fieldManager: FIELD_MANAGER, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      ),
    );
    return this.profileOf(res, what);
  }

  async replaceStatus(status: ClusterProfileStatusApply): Promise<ClusterProfile> {
    const { name, namespace } = status.metadata;
    const what = `patching ClusterProfile status ${namespace}/${name}`;
    const body = {
      status: {
        ...status.status,
        version: { kubernetes: status.status.version.kubernetes ?? null },
      },
    };
    const res: unknown = await this.call(what, () =>
      this.custom.patchNamespacedCustomObjectStatus(
        { ...this.ref(namespace), name, body, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    return this.profileOf(res, what);
  }

  async delete(namespace: string, name: string, uid: string | undefined): Promise<void> {
    try {
      await this.custom.deleteNamespacedCustomObject({
        ...this.ref(namespace),
        name,
        body: uid ? { preconditions: { uid } } : {},
      });
    } catch (err) {
      const f = kubeFailure(err);
      // Gone already, or replaced by a new object of the same name (uid precondition): fine.
      if (f.code === 404 || f.code === 409) return;
      throw new KubeRequestError(f, `deleting ClusterProfile ${namespace}/${name}`);
    }
  }
}
