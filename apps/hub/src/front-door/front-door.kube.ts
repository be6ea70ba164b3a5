// The front door's view of the management cluster through @kubernetes/client-node: one reflector
// per kind and queue label (every namespace, selected by the label), merge patches of the objects
// and their status, and Events on them.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Log } from '@muster/log';
import {
  asNamed,
  kubeClients,
  kubeFailure,
  KubeRequestError,
  LIST_PAGE,
  Reflector,
  type ListPage,
} from '../common/kube-objects';
import { apiVersionOf, type WatchedKind } from './front-door.kinds';
import type { KubeObject } from './front-door.intake';

/** What the front door reads and writes on the management cluster. */
export interface FrontDoorCluster {
  /** Why the kind cannot be watched (not served, forbidden), or undefined when it can. */
  problem(kind: WatchedKind): Promise<string | undefined>;
  /** Starts watching a kind; `onChange` on every change not caused by Muster's own writes. */
  watch(kind: WatchedKind, onChange: () => void): KindWatch;
  /** The object as the API server has it now (undefined: gone). */
  get(kind: WatchedKind, namespace: string, name: string): Promise<KubeObject | undefined>;
  /** A JSON merge patch of the object (or of its status). */
  patch(
    kind: WatchedKind,
    object: KubeObject,
    patch: Record<string, unknown>,
    status?: boolean,
  ): Promise<void>;
  /** Records a Kubernetes Event on the object. */
  event(
    object: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void>;
  stop(): Promise<void>;
}

export interface KindWatch {
  /** True once every label's first list arrived. */
  readonly synced: boolean;
  /** The cached objects with either queue label (each once). */
  list(): KubeObject[];
  stop(): Promise<void>;
}

/** Event messages are capped by the API server at 1 KiB in practice (kubectl shows them whole). */
const MAX_EVENT_MESSAGE = 1024;

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export class KubeFrontDoorCluster implements FrontDoorCluster {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;
  readonly server: string;
  private readonly watches = new Set<KindWatch>();

  constructor(
    kc: KubeConfig,
    /** Names the Events' reporting instance (the hub replica). */
    private readonly instance: string,
    /** The queue labels that select objects (one watch each). */
    private readonly labels: readonly string[],
    private readonly log: Log,
  ) {
    ({
      custom: this.custom,
      core: this.core,
      watcher: this.watcher,
      server: this.server,
    } = kubeClients(kc));
  }

  private ref(kind: WatchedKind) {
    return { group: kind.group, version: kind.version, plural: kind.plural };
  }

  async problem(kind: WatchedKind): Promise<string | undefined> {
    try {
      await this.custom.listClusterCustomObject({
        ...this.ref(kind),
        limit: 1,
        labelSelector: this.labels[0],
      });
      return undefined;
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code === 404) return `${kind.kind} (${apiVersionOf(kind)}) is not served`;
      if (f.code === 403)
        return `the hub may not list ${kind.plural}.${kind.group || 'core'} in every namespace (HTTP 403; see infra/deploy/hub/front-door-rbac.yaml): ${f.message}`;
      return `cannot list ${kind.plural}: ${f.code ? `HTTP ${f.code} ` : ''}${f.message}`;
    }
  }

  watch(kind: WatchedKind, onChange: () => void): KindWatch {
    const apiVersion = apiVersionOf(kind);
    const reflectors = this.labels.map((labelSelector) => {
      const listPage: ListPage = (token) =>
        this.custom.listClusterCustomObject({
          ...this.ref(kind),
          labelSelector,
          limit: LIST_PAGE,
          ...(token ? { _continue: token } : {}),
        }) as Promise<unknown>;
      return new Reflector<KubeObject>({
        kind: kind.kind,
        namespace: '',
        path: `/apis/${kind.group}/${kind.version}/${kind.plural}`,
        labelSelector,
        keyOf,
        listPage,
        watcher: this.watcher,
        onChange: () => onChange(),
        log: this.log,
      });
    });
    for (const r of reflectors) r.start();
    const watch: KindWatch = {
      get synced() {
        return reflectors.every((r) => r.synced);
      },
      list: () => {
        const byUid = new Map<string, KubeObject>();
        for (const r of reflectors)
          for (const o of r.list()) {
            // The items of a list of a built-in kind carry no apiVersion and kind; watch events do.
            const typed = {
              ...o,
              apiVersion: o.apiVersion ?? apiVersion,
              kind: o.kind ?? kind.kind,
            };
            byUid.set(o.metadata.uid ?? keyOf(o), typed);
          }
        return [...byUid.values()];
      },
      stop: async () => {
        await Promise.all(reflectors.map((r) => r.stop()));
        this.watches.delete(watch);
      },
    };
    this.watches.add(watch);
    return watch;
  }

  async get(kind: WatchedKind, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      return asNamed<KubeObject>(
        await this.custom.getNamespacedCustomObject({ ...this.ref(kind), namespace, name }),
      );
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code === 404) return undefined;
      throw new KubeRequestError(f, `reading ${kind.kind} ${namespace}/${name}`);
    }
  }

  async patch(
    kind: WatchedKind,
    object: KubeObject,
    patch: Record<string, unknown>,
    status = false,
  ): Promise<void> {
    const namespace = object.metadata.namespace ?? 'default';
    const name = object.metadata.name;
    const args = { ...this.ref(kind), namespace, name, body: patch };
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    try {
      if (status) await this.custom.patchNamespacedCustomObjectStatus(args, options);
      else await this.custom.patchNamespacedCustomObject(args, options);
    } catch (err) {
      throw new KubeRequestError(
        kubeFailure(err),
        `patching ${status ? 'the status of ' : ''}${kind.kind} ${namespace}/${name}`,
      );
    }
  }

  async event(
    object: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = object.metadata.namespace ?? 'default';
    const now = new Date();
    const text =
      message.length > MAX_EVENT_MESSAGE ? `${message.slice(0, MAX_EVENT_MESSAGE - 1)}…` : message;
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: {
            // Unique per object and moment, as kubectl's recorder names them.
            name: `${object.metadata.name}.${now.getTime().toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`,
            namespace,
          },
          involvedObject: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name: object.metadata.name,
            namespace,
            uid: object.metadata.uid,
            resourceVersion: object.metadata.resourceVersion,
          },
          type,
          reason,
          message: text,
          source: { component: 'muster-hub' },
          reportingComponent: 'muster.dev/hub',
          reportingInstance: this.instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      throw new KubeRequestError(
        kubeFailure(err),
        `recording an Event on ${object.kind} ${namespace}/${object.metadata.name}`,
      );
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.watches].map((w) => w.stop()));
  }
}
