// The hub's own confirmation that a lost cluster no longer runs a gang: delete the gang's pods
// through the worker's API server, with the cluster's registered access (the ClusterProfile
// access model Argo CD and MultiKueue use), and read back that none remain — terminating pods
// included, since a terminating pod may still be running on its node.
import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import {
  kubeConfigForClusterProfile,
  LABEL_GANG_ID,
  PODGROUP_GROUP,
  PODGROUP_PLURAL,
  PODGROUP_VERSION,
  type AccessProviderFile,
} from '@muster/k8s';
import { accessProvidersFor, canonical } from '../cluster-profiles/cluster-profile.publish';
import { kubeFailure } from '../common/kube-objects';
import type { AccessProvider } from '../inventory/cluster.domain';
import type { Log } from '@muster/log';
import { Inject, Injectable } from '@nestjs/common';
import { InjectLog } from '../logging/inject-log';

/** Deadline of one API request of a fence, in ms: an unreachable server must not stall liveness. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Gangs per label-selector list (set-based selectors stay short enough for a URL). */
const GANGS_PER_LIST = 50;

export interface FenceTarget {
  cluster: string;
  accessProviders: AccessProvider[];
}

/** What a fence found for one gang. */
export interface GangFence {
  /** No pod of the gang remains in the cluster, terminating ones included. */
  gone: boolean;
  /** Delete requests sent in this pass. */
  deleted: number;
  /** Pods still present (terminating or not) when this pass read back. */
  remaining: number;
}

/** Why the hub could not fence through the API server (no access, or no answer). */
export class FenceUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FenceUnavailable';
  }
}

function withTimeout<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function terminating(p: V1Pod): boolean {
  return p.metadata?.deletionTimestamp !== undefined && p.metadata?.deletionTimestamp !== null;
}

export const FENCER_SETTINGS = Symbol('FENCER_SETTINGS');

export interface FencerSettings {
  /** How the hub reaches worker API servers, by access provider name; unset: it cannot. */
  providers: AccessProviderFile | undefined;
  /** The most grace a pod deleted for fencing gets, in seconds. */
  deleteGraceSeconds: number;
}

@Injectable()
export class ClusterFencer {
  /** KubeConfigs by cluster, rebuilt when its registered access changes. */
  private readonly configs = new Map<string, { key: string; kc: KubeConfig }>();

  constructor(
    @Inject(FENCER_SETTINGS) private readonly settings: FencerSettings,
    @InjectLog('fencing') private readonly log: Log,
  ) {}

  /**
   * One fencing pass over these gangs of a lost cluster: deletes every pod (and PodGroup) of
   * theirs that is not already terminating, then lists again. Throws {@link FenceUnavailable}
   * when the hub has no access to the cluster or its API server does not answer.
   */
  async fence(target: FenceTarget, gangIds: readonly string[]): Promise<Map<string, GangFence>> {
    const kc = await this.kubeConfig(target);
    const core = kc.makeApiClient(CoreV1Api);
    const result = new Map<string, GangFence>(
      gangIds.map((g) => [g, { gone: false, deleted: 0, remaining: 0 }]),
    );
    try {
      for (let i = 0; i < gangIds.length; i += GANGS_PER_LIST) {
        const chunk = gangIds.slice(i, i + GANGS_PER_LIST);
        const selector = `${LABEL_GANG_ID} in (${chunk.join(',')})`;
        const before = await withTimeout(
          'list pods',
          core.listPodForAllNamespaces({ labelSelector: selector }),
        );
        for (const pod of before.items) {
          if (terminating(pod)) continue;
          const gang = pod.metadata?.labels?.[LABEL_GANG_ID] ?? '';
          await withTimeout('delete pod', this.deletePod(core, pod));
          const r = result.get(gang);
          if (r) r.deleted++;
        }
        await this.deletePodGroups(kc, selector);
        const after = await withTimeout(
          'list pods',
          core.listPodForAllNamespaces({ labelSelector: selector }),
        );
        for (const pod of after.items) {
          const r = result.get(pod.metadata?.labels?.[LABEL_GANG_ID] ?? '');
          if (r) r.remaining++;
        }
      }
    } catch (err) {
      if (err instanceof FenceUnavailable) throw err;
      const f = kubeFailure(err);
      throw new FenceUnavailable(
        `the API server of ${target.cluster} did not confirm (${f.code ? `HTTP ${f.code} ` : ''}${f.message})`,
      );
    }
    for (const r of result.values()) r.gone = r.remaining === 0;
    return result;
  }

  private async deletePod(core: CoreV1Api, pod: V1Pod): Promise<void> {
    const own = pod.spec?.terminationGracePeriodSeconds ?? 30;
    try {
      await core.deleteNamespacedPod({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        gracePeriodSeconds: Math.min(own, this.settings.deleteGraceSeconds),
        // Only the pod that was listed: a pod recreated under the same name is another's.
        body: { preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (err) {
      const code = kubeFailure(err).code;
      if (code !== 404 && code !== 409) throw err;
    }
  }

  /** PodGroups hold no pods, so they do not block the confirmation; they are deleted anyway. */
  private async deletePodGroups(kc: KubeConfig, selector: string): Promise<void> {
    const api = kc.makeApiClient(CustomObjectsApi);
    let groups: { items?: Array<{ metadata?: { name?: string; namespace?: string } }> };
    try {
      groups = (await withTimeout(
        'list podgroups',
        api.listClusterCustomObject({
          group: PODGROUP_GROUP,
          version: PODGROUP_VERSION,
          plural: PODGROUP_PLURAL,
          labelSelector: selector,
        }),
      )) as typeof groups;
    } catch (err) {
      if (kubeFailure(err).code === 404) return; // the worker does not serve PodGroups
      throw err;
    }
    for (const g of groups.items ?? []) {
      try {
        await withTimeout(
          'delete podgroup',
          api.deleteNamespacedCustomObject({
            group: PODGROUP_GROUP,
            version: PODGROUP_VERSION,
            plural: PODGROUP_PLURAL,
            namespace: g.metadata?.namespace ?? '',
            name: g.metadata?.name ?? '',
          }),
        );
      } catch (err) {
        if (kubeFailure(err).code !== 404) throw err;
      }
    }
  }

  private async kubeConfig(target: FenceTarget): Promise<KubeConfig> {
    if (!this.settings.providers) {
      throw new FenceUnavailable(
        'the hub has no access provider file (MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE), so it cannot reach worker API servers',
      );
    }
    if (target.accessProviders.length === 0) {
      throw new FenceUnavailable(
        `cluster ${target.cluster} is registered without access providers (muster clusters register --server ...), so the hub cannot reach its API server`,
      );
    }
    const key = canonical(target.accessProviders);
    const cached = this.configs.get(target.cluster);
    if (cached?.key === key) return cached.kc;
    let kc: KubeConfig;
    try {
      kc = await kubeConfigForClusterProfile(
        {
          apiVersion: 'multicluster.x-k8s.io/v1alpha1',
          kind: 'ClusterProfile',
          metadata: { name: target.cluster, namespace: 'muster' },
          spec: { displayName: target.cluster, clusterManager: { name: 'muster' } },
          status: {
            accessProviders: accessProvidersFor({ accessProviders: target.accessProviders }),
          },
        },
        this.settings.providers,
      );
    } catch (err) {
      throw new FenceUnavailable(
        `no usable access to ${target.cluster}: ${(err as Error).message}`,
      );
    }
    this.configs.set(target.cluster, { key, kc });
    this.log.debug('worker API access resolved for fencing', { cluster: target.cluster });
    return kc;
  }
}
