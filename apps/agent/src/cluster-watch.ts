// What the agent sees of its cluster: the informers (nodes, pods, and in Workload API mode Muster's
// PodGroups) keep the cluster model live. Pods are checked before they count as members (a copy
// outside its plan's namespace does not), the self-fence timeouts they recorded are noted on the
// lease, and every change to a gang's pods is passed on to the ledger. Also the PodGroup
// bookkeeping (deletes in flight, the sweep of orphans) and the one-time warning about `requeue`
// gangs no self-fence timeout governs. Where the worker serves DRA (resource.k8s.io/v1), its
// ResourceSlices, DeviceClasses and ResourceClaims feed the model's device inventory.
import type {
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
  V1Node,
  V1Pod,
} from '@kubernetes/client-node';
import { gangRefKey, splitGangRefKey } from '@muster/common';
import type { Log } from '@muster/log';
import { DRA_API, LABEL_GANG_ID, PODGROUP_API } from './constants';
import {
  allocatedDevices,
  claimHolder,
  deviceClassOf,
  sliceRecord,
  slimClaim,
  type DeviceClassLike,
  type ResourceClaimLike,
  type ResourceSliceLike,
} from './devices';
import type { HeldGang } from './fencing';
import { ResilientInformer } from './informers';
import type { KubeClient, PodGroupLike } from './kube';
import type { Lease } from './lease';
import { deletePodGroup } from './materialise';
import type { ClusterModel } from './model';
import {
  memberMeta,
  nodeRecord,
  podKey,
  podRecord,
  slimPod,
  type PodLike,
  type PodRecord,
} from './objects';

/** A Muster PodGroup whose gang the agent neither holds nor materialises is deleted after this. */
const ORPHAN_PODGROUP_GRACE_MS = 10_000;

/** A Muster PodGroup seen by the PodGroup informer. */
interface KnownPodGroup {
  namespace: string;
  name: string;
  gangId: string;
  token: number;
  deleting: boolean;
  /** When the agent first saw it. */
  seenAt: number;
}

/** What the watch asks of the agent's gangs and tells them (GangEffects; wired in agent.ts). */
export interface WatchedGangs {
  /** The namespace of the plan of (gang, token) dispatched in this process, if any. */
  planNamespace(gangId: string, token: number): string | undefined;
  /** What the cluster shows of (gang, token) may have changed. */
  refresh(gangId: string, token: number): void;
  /** The pod `key` is gone (a delete of it in flight is over). */
  podGone(key: string): void;
  /** Every (gang, token) the agent holds or is materialising (the ledger's held set). */
  held(): HeldGang[];
  jobOf(gangId: string, token: number): string | undefined;
}

export interface ClusterWatchOptions {
  kube: KubeClient;
  model: ClusterModel;
  lease: Lease;
  gangs: WatchedGangs;
  /** PodGroups are watched (Workload API mode). */
  workloadApi: boolean;
  /** ResourceSlices, DeviceClasses and ResourceClaims are watched (the worker serves DRA). */
  dra: boolean;
  log: Log;
}

export class ClusterWatch {
  private readonly log: Log;
  private readonly kube: KubeClient;
  private readonly model: ClusterModel;
  private readonly gangs: WatchedGangs;
  private informers: Array<
    ResilientInformer<V1Node> | ResilientInformer<V1Pod> | ResilientInformer<KubernetesObject>
  > = [];
  /** Muster PodGroups in the cluster, by "namespace/name" (workload-api mode). */
  private readonly podGroups = new Map<string, KnownPodGroup>();
  /** PodGroup keys with a delete request in flight. */
  private readonly deletingGroups = new Set<string>();
  /** Pods with a member's labels and name outside its plan's namespace (logged once). */
  private readonly untrusted = new Set<string>();
  /** (gang, token)s whose missing fence terms were already logged. */
  private readonly termless = new Set<string>();
  /** ResourceSlices whose devices are not reported (not local to one node), logged once. */
  private readonly skippedSlices = new Set<string>();

  constructor(private readonly options: ClusterWatchOptions) {
    this.log = options.log.child({ component: 'cluster-watch' });
    this.kube = options.kube;
    this.model = options.model;
    this.gangs = options.gangs;
  }

  /** Lists and watches; resolves once every informer has synced. */
  async start(kc: KubeConfig): Promise<void> {
    const nodes = new ResilientInformer<V1Node>(kc, {
      name: 'nodes',
      path: '/api/v1/nodes',
      listPage: (token, limit) => this.kube.core.listNode({ limit, _continue: token }),
      slim: (n) => n,
      handlers: {
        upsert: (n) => {
          const r = nodeRecord(n);
          if (r) this.model.upsertNode(r);
        },
        remove: (n) => {
          if (n.metadata?.name) this.model.removeNode(n.metadata.name);
        },
      },
      log: this.log,
    });
    const pods = new ResilientInformer<V1Pod>(kc, {
      name: 'pods',
      path: '/api/v1/pods',
      listPage: (token, limit) =>
        this.kube.core.listPodForAllNamespaces({ limit, _continue: token }),
      slim: (p) => slimPod(p as PodLike) as V1Pod,
      handlers: {
        upsert: (p) => this.onPod(p as PodLike),
        remove: (p) => this.onPodGone(p as PodLike),
      },
      log: this.log,
    });
    this.informers = [nodes, pods];
    if (this.options.workloadApi) {
      this.informers.push(
        new ResilientInformer<KubernetesObject>(kc, {
          name: 'podgroups',
          path: `${PODGROUP_API}/podgroups`,
          listPage: (token, limit) =>
            this.kube.listPodGroups(token, limit) as Promise<
              KubernetesListObject<KubernetesObject>
            >,
          slim: (g) => g,
          handlers: {
            upsert: (g) => this.onPodGroup(g as PodGroupLike, false),
            remove: (g) => this.onPodGroup(g as PodGroupLike, true),
          },
          log: this.log,
        }),
      );
    }
    if (this.options.dra) this.informers.push(...this.draInformers(kc));
    const started = Date.now();
    await Promise.all(this.informers.map((i) => i.start()));
    this.log.info('cluster view synced', {
      nodes: this.model.nodeNames().length,
      pods: this.model.podCount(),
      gangs: this.model.gangEntries().length,
      ...(this.options.dra
        ? {
            resourceSlices: this.model.devices.sliceCount,
            allocatedClaims: this.model.devices.claimCount,
            deviceClasses: this.model.devices.deviceClasses().length,
          }
        : {}),
      ms: Date.now() - started,
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** The three DRA informers; each object is read into the inventory, then stripped. */
  private draInformers(kc: KubeConfig): Array<ResilientInformer<KubernetesObject>> {
    const devices = this.model.devices;
    const informer = <T>(
      name: string,
      resource: string,
      slim: (o: T) => T,
      upsert: (o: T) => void,
      remove: (o: T) => void,
    ) =>
      new ResilientInformer<KubernetesObject>(kc, {
        name,
        path: `${DRA_API}/${resource}`,
        listPage: (token, limit) =>
          this.kube.listPage<KubernetesObject>(`${DRA_API}/${resource}`, token, limit),
        slim: (o) => slim(o as T) as KubernetesObject,
        handlers: { upsert: (o) => upsert(o as T), remove: (o) => remove(o as T) },
        log: this.log,
      });
    return [
      informer<ResourceSliceLike>(
        'resourceslices',
        'resourceslices',
        (s) => s,
        (s) => {
          const r = sliceRecord(s);
          if (!r) return;
          if (r.skippedDevices > 0 && !this.skippedSlices.has(r.name)) {
            this.skippedSlices.add(r.name);
            this.log.info('ResourceSlice not local to one node; its devices are not reported', {
              resourceSlice: r.name,
              driver: r.driver,
              pool: r.pool,
              devices: r.skippedDevices,
            });
          }
          devices.upsertSlice(r);
        },
        (s) => {
          const name = s.metadata?.name;
          if (!name) return;
          this.skippedSlices.delete(name);
          devices.removeSlice(name);
        },
      ),
      informer<DeviceClassLike>(
        'deviceclasses',
        'deviceclasses',
        (c) => c,
        (c) => {
          const r = deviceClassOf(c);
          if (r) devices.upsertClass(r);
        },
        (c) => {
          if (c.metadata?.name) devices.removeClass(c.metadata.name);
        },
      ),
      informer<ResourceClaimLike>(
        'resourceclaims',
        'resourceclaims',
        slimClaim,
        (c) => {
          if (c.metadata?.name)
            devices.upsertClaim(
              podKey(c.metadata.namespace ?? '', c.metadata.name),
              allocatedDevices(c),
              claimHolder(c),
            );
        },
        (c) => {
          if (c.metadata?.name)
            devices.removeClaim(podKey(c.metadata.namespace ?? '', c.metadata.name));
        },
      ),
    ];
  }

  private logOf(gangId: string, token: number): Log {
    return this.log.child({ gang: gangId, job: this.gangs.jobOf(gangId, token), token });
  }

  // ---- pods ----

  private onPod(p: PodLike): void {
    const r = podRecord(p);
    if (!r) return;
    this.trustMember(r);
    if (r.problem)
      this.log.debug('pod requests partly uncounted', { pod: r.key, error: r.problem });
    const was = this.model.pod(r.key)?.member;
    this.model.upsertPod(r);
    this.options.lease.recorded(r.member?.selfFenceTimeoutMs);
    if (was && (was.gangId !== r.member?.gangId || was.token !== r.member.token))
      this.gangs.refresh(was.gangId, was.token);
    if (r.member) this.gangs.refresh(r.member.gangId, r.member.token);
  }

  /**
   * A pod with the deterministic name of a member (podRecord checks that) outside the namespace of
   * the gang's plan is a copy, not a member (review 2.9). Without a plan (after a restart) the
   * name is all there is to go by.
   */
  private trustMember(r: PodRecord): void {
    const m = r.member;
    if (!m) return;
    const namespace = this.gangs.planNamespace(m.gangId, m.token);
    if (namespace !== undefined && namespace !== r.namespace) {
      if (!this.untrusted.has(r.key))
        this.log.warn('pod copies the labels of a member in another namespace; not a member', {
          pod: r.key,
          gang: m.gangId,
          token: m.token,
          namespace,
        });
      this.untrusted.add(r.key);
      delete r.member;
    }
  }

  private onPodGone(p: PodLike): void {
    const name = p.metadata?.name;
    if (!name) return;
    const key = podKey(p.metadata?.namespace ?? '', name);
    // A watch DELETED event carries the pod's last state; a relist only its name.
    if (p.spec) {
      const r = podRecord(p);
      if (r) {
        this.trustMember(r);
        this.model.upsertPod(r);
      }
    }
    const was = this.model.removePod(key)?.member;
    this.untrusted.delete(key);
    this.gangs.podGone(key);
    if (was) this.gangs.refresh(was.gangId, was.token);
  }

  /** A copy seen before the plan existed stops counting as a member now. */
  untrustCopies(gangId: string, token: number, namespace: string): void {
    for (const p of [...(this.model.gang(gangId, token)?.members.values() ?? [])]) {
      if (p.namespace !== namespace) {
        const copy = { ...p };
        this.trustMember(copy);
        this.model.upsertPod(copy);
      }
    }
    this.gangs.refresh(gangId, token);
  }

  /** Logs once per (gang, token) a `requeue` gang that no self-fence timeout governs. */
  warnTermless(): void {
    for (const g of this.model.gangEntries()) {
      if (g.onClusterLost !== 'requeue') continue;
      const key = gangRefKey(g.gangId, g.token);
      if (this.options.lease.termsOfGang(g) || this.termless.has(key)) continue;
      this.termless.add(key);
      this.log.warn('no self-fence timeout known for a requeue gang; it is not self-fenced', {
        gang: g.gangId,
        job: g.jobId,
        token: g.token,
        hint: 'the hub tells one on connect; set MUSTER_SELF_FENCE_TIMEOUT_MS for pods of older agents',
      });
    }
    for (const key of this.termless) {
      const [g, t] = splitGangRefKey(key);
      if (!this.model.gang(g, t)) this.termless.delete(key);
    }
  }

  // ---- PodGroups ----

  private onPodGroup(g: PodGroupLike, gone: boolean): void {
    const namespace = g.metadata?.namespace ?? '';
    const name = g.metadata?.name;
    if (!name) return;
    const key = podKey(namespace, name);
    if (gone) {
      this.podGroups.delete(key);
      this.deletingGroups.delete(key);
      return;
    }
    const labels = g.metadata?.labels ?? {};
    const meta = memberMeta({ ...labels, 'muster.dev/member-index': '0' }, {});
    if (!labels[LABEL_GANG_ID] || !meta) return; // not Muster's
    const deleting =
      g.metadata?.deletionTimestamp !== undefined && g.metadata?.deletionTimestamp !== null;
    const old = this.podGroups.get(key);
    this.podGroups.set(key, {
      namespace,
      name,
      gangId: meta.gangId,
      token: meta.token,
      deleting,
      seenAt: old?.seenAt ?? performance.now(),
    });
  }

  /** The namespaces holding a PodGroup of (gang, token). */
  groupNamespaces(gangId: string, token: number): string[] {
    const namespaces: string[] = [];
    for (const pg of this.podGroups.values()) {
      if (pg.gangId === gangId && pg.token === token) namespaces.push(pg.namespace);
    }
    return namespaces;
  }

  /** Deletes a PodGroup of Muster's unless it is already going. */
  deleteGroup(namespace: string, name: string, why: string, log: Log): void {
    const key = podKey(namespace, name);
    if (this.deletingGroups.has(key) || this.podGroups.get(key)?.deleting) return;
    this.deletingGroups.add(key);
    void deletePodGroup(this.kube, namespace, name).then((ok) => {
      this.deletingGroups.delete(key);
      if (ok) log.debug('PodGroup deleted', { podGroup: key, reason: why });
      else
        log.warn('could not delete a PodGroup; the sweep retries', { podGroup: key, reason: why });
    });
  }

  /**
   * Deletes Muster PodGroups whose (gang, token) the agent neither holds (no member pod, no
   * accepted plan) nor is materialising: left by a crash between the PodGroup and its members, or
   * by a delete that failed.
   */
  sweepPodGroups(now: number): void {
    if (this.podGroups.size === 0) return;
    const held = new Set(this.gangs.held().map((g) => gangRefKey(g.gangId, g.token)));
    for (const pg of this.podGroups.values()) {
      if (pg.deleting || held.has(gangRefKey(pg.gangId, pg.token))) continue;
      if (now - pg.seenAt < ORPHAN_PODGROUP_GRACE_MS) continue;
      const log = this.logOf(pg.gangId, pg.token);
      log.info('deleting an orphan PodGroup', { podGroup: `${pg.namespace}/${pg.name}` });
      this.deleteGroup(pg.namespace, pg.name, 'Orphan', log);
    }
  }
}
