// PlacementDecisionStore on a real API server through @kubernetes/client-node: server-side apply,
// delete with a uid precondition, and a list+watch cache of one namespace (kube-objects'
// Reflector), as the ClusterProfile store has for ClusterProfiles.
import {
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Log } from '@muster/log';
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
import type { DecisionWatch, PlacementDecisionStore } from './placement-decision.store';

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
    ({ custom: this.custom, watcher: this.watcher, server: this.server } = kubeClients(kc));
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
    const reflector = new Reflector<PlacementDecision>({
      kind: 'PlacementDecision',
      namespace,
      path: placementDecisionsPath(namespace),
      listPage,
      watcher: this.watcher,
      // A deletion Muster made and forgot itself changes nothing.
      onChange: (type, _decision, known) => {
        if (type !== 'DELETED' || known) onChange();
      },
      log: this.log,
    });
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
      throw new KubeRequestError(kubeFailure(err), what);
    }
    const d = asNamed<PlacementDecision>(res);
    if (!d) throw new Error(`${what}: the API server answered without an object`);
    return d;
  }

  delete(namespace: string, name: string, uid: string | undefined): Promise<void> {
    return deleteCustomObject(this.custom, this.ref(namespace), name, uid, 'PlacementDecision');
  }
}
