// PlacementDecisionStore on a real API server through @kubernetes/client-node: server-side apply,
// delete with a uid precondition, and a list+watch cache of one namespace (resumed from the last
// resourceVersion, relisted after 410 Gone or an error, with capped backoff), as the ClusterProfile
// store does for ClusterProfiles.
import { isRecord } from '@muster/common';
import {
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
import type { Log } from '@muster/log';
import { kubeFailure, type KubeFailure } from './cluster-profile.kube';
import { FIELD_MANAGER } from './cluster-profile.publish';
import {
  PLACEMENT_DECISION_CRD_FILE,
  PLACEMENT_DECISION_CRD_NAME,
  PLACEMENT_DECISION_GROUP,
  PLACEMENT_DECISION_PLURAL,
  PLACEMENT_DECISION_VERSION,
  placementDecisionsPath,
  type PlacementDecision,
  type PlacementDecisionApply,
} from './placement-decision.publish';
import type { DecisionWatch, PlacementDecisionStore, StoreError } from './placement-decision.store';

/** Deadline of one API request (not of watches), in ms. */
const REQUEST_TIMEOUT_MS = 15_000;
const LIST_PAGE = 500;
const BACKOFF_MS = { initial: 500, max: 30_000 };

class DecisionRequestError extends Error implements StoreError {
  readonly code: number;
  constructor(failure: KubeFailure, what: string) {
    super(
      `${what}: ${failure.code ? `HTTP ${failure.code}${failure.reason ? ` ${failure.reason}` : ''}` : 'unreachable'}: ${failure.message}`,
    );
    this.code = failure.code;
  }
}

/** An API object with a name is taken as a PlacementDecision; the planner reads it defensively. */
function asDecision(v: unknown): PlacementDecision | undefined {
  if (!isRecord(v) || !isRecord(v.metadata) || typeof v.metadata.name !== 'string')
    return undefined;
  return v as unknown as PlacementDecision;
}

/** True when resourceVersion a is older than b (etcd versions are integers; else unknown: false). */
function olderThan(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

type ListPage = (continueToken: string | undefined) => Promise<unknown>;

/** List, then watch from the list's resourceVersion, keeping a cache of the namespace's objects. */
class DecisionReflector implements DecisionWatch {
  private cache = new Map<string, PlacementDecision>();
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
    private readonly onChange: () => void,
    private readonly log: Log,
  ) {}

  list(): PlacementDecision[] {
    return [...this.cache.values()];
  }

  get(name: string): PlacementDecision | undefined {
    return this.cache.get(name);
  }

  observe(decision: PlacementDecision): void {
    const old = this.cache.get(decision.metadata.name);
    if (old && olderThan(decision.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    this.cache.set(decision.metadata.name, decision);
  }

  forget(name: string): void {
    this.cache.delete(name);
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
        placementDecisionsPath(this.namespace),
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        (phase: string, obj: unknown) => this.onEvent(phase, obj),
        (err: unknown) => this.onDone(err),
      );
    } catch (err) {
      this.retry(err);
    }
  }

  private async fullList(): Promise<void> {
    const items: PlacementDecision[] = [];
    let token: string | undefined;
    let rv = '';
    do {
      const page = await this.listPage(token);
      if (!isRecord(page) || !Array.isArray(page.items))
        throw new Error('the PlacementDecision list answer has no items');
      for (const item of page.items) {
        const d = asDecision(item);
        if (d) items.push(d);
      }
      const meta = isRecord(page.metadata) ? page.metadata : {};
      rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : rv;
      token = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
    } while (token);
    const next = new Map(items.map((d) => [d.metadata.name, d]));
    const previous = this.cache;
    this.cache = next;
    this.resourceVersion = rv;
    this.relist = false;
    this.synced = true;
    let changed = previous.size !== next.size;
    for (const [name, d] of next)
      if (previous.get(name)?.metadata.resourceVersion !== d.metadata.resourceVersion)
        changed = true;
    if (changed) this.onChange();
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
    const d = asDecision(obj);
    if (!d) return;
    const name = d.metadata.name;
    const old = this.cache.get(name);
    if (phase === 'DELETED') {
      // Forgotten already: Muster deleted it itself.
      if (!old) return;
      this.cache.delete(name);
      this.onChange();
      return;
    }
    // Already cached from the answer of Muster's own write: nothing new.
    if (old && old.metadata.resourceVersion === d.metadata.resourceVersion) return;
    if (old && olderThan(d.metadata.resourceVersion, old.metadata.resourceVersion)) return;
    this.cache.set(name, d);
    this.onChange();
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
      this.log.info('PlacementDecision watch recovered', { namespace: this.namespace });
      this.lastError = '';
    }
    void this.run();
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    const text = kubeFailure(err).message;
    if (text !== this.lastError) {
      this.log.warn('PlacementDecision watch failed; relisting', {
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

/** PlacementDecisions on the management cluster of a kubeconfig. */
export class KubePlacementDecisionStore implements PlacementDecisionStore {
  private readonly custom: CustomObjectsApi;
  private readonly watcher: Watch;
  /** The management cluster's API server URL, for logs. */
  readonly server: string;

  constructor(
    kc: KubeConfig,
    private readonly namespaces: { ensureNamespace(namespace: string): Promise<void> },
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
    this.watcher = new Watch(kc);
    this.server = cluster.server;
  }

  private ref(namespace: string) {
    return {
      group: PLACEMENT_DECISION_GROUP,
      version: PLACEMENT_DECISION_VERSION,
      plural: PLACEMENT_DECISION_PLURAL,
      namespace,
    };
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
        return `the PlacementDecision CRD (${PLACEMENT_DECISION_CRD_NAME}/${PLACEMENT_DECISION_VERSION}) is not installed on ${this.server}; apply ${PLACEMENT_DECISION_CRD_FILE}`;
      if (f.code === 403)
        return `the hub may not list PlacementDecisions in namespace ${namespace} on ${this.server} (HTTP 403: grant get, list, watch, patch, delete on placementdecisions; see docs/placement-decisions.md): ${f.message}`;
      return `cannot list PlacementDecisions on ${this.server}: ${f.code ? `HTTP ${f.code} ` : ''}${f.message}`;
    }
  }

  ensureNamespace(namespace: string): Promise<void> {
    return this.namespaces.ensureNamespace(namespace);
  }

  watch(namespace: string, onChange: () => void): DecisionWatch {
    const listPage: ListPage = (token) =>
      this.custom.listNamespacedCustomObject({
        ...this.ref(namespace),
        limit: LIST_PAGE,
        ...(token ? { _continue: token } : {}),
      }) as Promise<unknown>;
    const reflector = new DecisionReflector(namespace, listPage, this.watcher, onChange, this.log);
    reflector.start();
    return reflector;
  }

  async apply(decision: PlacementDecisionApply): Promise<PlacementDecision> {
    const { name, namespace } = decision.metadata;
    const what = `applying PlacementDecision ${namespace}/${name}`;
    let res: unknown;
    try {
      res = await this.custom.patchNamespacedCustomObject(
        { ...this.ref(namespace), name, body: decision, fieldManager: FIELD_MANAGER, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    } catch (err) {
      throw new DecisionRequestError(kubeFailure(err), what);
    }
    const d = asDecision(res);
    if (!d) throw new Error(`${what}: the API server answered without an object`);
    return d;
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
      throw new DecisionRequestError(f, `deleting PlacementDecision ${namespace}/${name}`);
    }
  }
}
