// ClusterProfileStore on a real API server through @kubernetes/client-node: server-side apply of
// objects and status, a list+watch cache per namespace (kube-objects' Reflector), and namespace
// creation.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
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
import {
  asNamed,
  deleteCustomObject,
  kubeClients,
  kubeFailure,
  KubeRequestError,
  LIST_PAGE,
  Reflector,
  type ListPage,
} from '../common/kube-objects';

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
    ({
      custom: this.custom,
      core: this.core,
      watcher: this.watcher,
      server: this.server,
    } = kubeClients(kc));
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
    const reflector = new Reflector<ClusterProfile>({
      kind: 'ClusterProfile',
      namespace,
      path: clusterProfilesPath(namespace),
      listPage,
      watcher: this.watcher,
      onChange: (type, profile) => onChange(type, profile),
      log: this.log,
    });
    reflector.start();
    return reflector;
  }

  private profileOf(v: unknown, what: string): ClusterProfile {
    const p = asNamed<ClusterProfile>(v);
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

  delete(namespace: string, name: string, uid: string | undefined): Promise<void> {
    return deleteCustomObject(this.custom, this.ref(namespace), name, uid, 'ClusterProfile');
  }
}
