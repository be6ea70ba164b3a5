// Reads Muster's pods straight from the worker clusters' API servers and checks the
// invariants a user would check with kubectl: one cluster per gang, no half-ungated gang, no
// over-committed node.
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';

export const GANG_LABEL = 'muster.dev/gang-id';

export interface Violation {
  at: string;
  kind: 'gang-in-two-clusters' | 'partial-gang-ungated' | 'node-over-committed';
  detail: string;
}

function cpuMilli(q: string | undefined): number {
  if (!q) return 0;
  if (q.endsWith('m')) return Number(q.slice(0, -1));
  return Math.round(Number(q) * 1000);
}

function live(p: V1Pod): boolean {
  return p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}

export class ClusterObserver {
  private readonly apis = new Map<string, CoreV1Api>();
  readonly violations: Violation[] = [];
  samples = 0;
  /** Gangs seen with pods, per cluster. */
  readonly seen = new Map<string, Set<string>>();

  constructor(
    kubeconfigs: { name: string; kubeconfig: string }[],
    /** Members per gang id, as submitted. */
    private readonly sizes: Map<string, number>,
    private readonly allocatableCpuMilli: number,
  ) {
    for (const k of kubeconfigs) {
      const kc = new KubeConfig();
      kc.loadFromString(k.kubeconfig);
      this.apis.set(k.name, kc.makeApiClient(CoreV1Api));
    }
  }

  async sample(): Promise<void> {
    const at = new Date().toISOString();
    const byCluster = new Map<string, V1Pod[]>();
    await Promise.all(
      [...this.apis].map(async ([name, api]) => {
        const list = await api.listPodForAllNamespaces({ labelSelector: GANG_LABEL });
        byCluster.set(name, list.items);
      }),
    );
    this.samples++;
    const clustersOfGang = new Map<string, Set<string>>();
    for (const [cluster, pods] of byCluster) {
      const perGang = new Map<string, V1Pod[]>();
      const perNode = new Map<string, number>();
      for (const p of pods) {
        const gang = p.metadata?.labels?.[GANG_LABEL];
        if (!gang) continue;
        if (!this.seen.has(gang)) this.seen.set(gang, new Set());
        this.seen.get(gang)!.add(cluster);
        if (live(p) && !p.metadata?.deletionTimestamp) {
          const set = clustersOfGang.get(gang) ?? new Set<string>();
          set.add(cluster);
          clustersOfGang.set(gang, set);
        }
        const list = perGang.get(gang) ?? [];
        list.push(p);
        perGang.set(gang, list);
        if (p.spec?.nodeName && live(p)) {
          const cpu = (p.spec.containers ?? []).reduce(
            (n, c) => n + cpuMilli(c.resources?.requests?.cpu as string | undefined),
            0,
          );
          perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + cpu);
        }
      }
      for (const [node, cpu] of perNode) {
        if (cpu > this.allocatableCpuMilli) {
          this.violations.push({
            at,
            kind: 'node-over-committed',
            detail: `${cluster}/${node}: ${cpu}m of ${this.allocatableCpuMilli}m CPU requested`,
          });
        }
      }
      for (const [gang, gangPods] of perGang) {
        const size = this.sizes.get(gang);
        if (size === undefined) continue;
        // While a gang is being deleted (finished, cancelled, rejected) its pods go one by one.
        if (gangPods.some((p) => p.metadata?.deletionTimestamp || !live(p))) continue;
        const ungated = gangPods.filter((p) => (p.spec?.schedulingGates ?? []).length === 0);
        if (ungated.length > 0 && gangPods.length < size) {
          this.violations.push({
            at,
            kind: 'partial-gang-ungated',
            detail: `${cluster}: gang ${gang} has ${gangPods.length} of ${size} members, ${ungated.length} ungated`,
          });
        }
      }
    }
    for (const [gang, clusters] of clustersOfGang) {
      if (clusters.size > 1)
        this.violations.push({
          at,
          kind: 'gang-in-two-clusters',
          detail: `gang ${gang} in ${[...clusters].join(', ')}`,
        });
    }
  }
}
