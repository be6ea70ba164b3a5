// Dispatches and topologies for the agent tests.
import { randomUUID } from 'node:crypto';
import { OnClusterLost, type Dispatch, type PodSetPlacement } from '@muster/api';
import type { TopologySpec } from '../../../infra/testbed/src';

export const GPU_NODE = { cpu: '32', memory: '256Gi', pods: '110', 'nvidia.com/gpu': '8' };

/** One worker cluster with `nodes` GPU nodes, all in one rack. */
export function workerTopology(name: string, nodes: number): TopologySpec {
  return {
    clusters: [
      {
        name,
        role: 'worker',
        nodePools: [{ name: 'gpu', count: nodes, resources: { ...GPU_NODE } }],
      },
    ],
  };
}

/** requests plus limits for extended resources (Kubernetes requires limit = request for them). */
export function resources(
  requests: Record<string, string>,
): Record<string, Record<string, string>> {
  const limits = Object.fromEntries(Object.entries(requests).filter(([k]) => k.includes('/')));
  return Object.keys(limits).length > 0 ? { requests, limits } : { requests };
}

export function template(
  requests: Record<string, string> = { cpu: '1' },
  extra: {
    container?: Record<string, unknown>;
    spec?: Record<string, unknown>;
    annotations?: Record<string, string>;
  } = {},
): string {
  return JSON.stringify({
    metadata: { labels: { app: 'train' }, annotations: extra.annotations ?? {} },
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'registry.example/train:1',
          resources: resources(requests),
          ...extra.container,
        },
      ],
      ...extra.spec,
    },
  });
}

export function podSet(
  name: string,
  nodes: string[],
  requests: Record<string, string> = { cpu: '1' },
  over: Partial<PodSetPlacement> = {},
): PodSetPlacement {
  return {
    name,
    podTemplateJson: template(requests),
    members: nodes.map((nodeName, index) => ({ index, nodeName })),
    domainLevel: '',
    domainValue: '',
    ...over,
  };
}

export function dispatch(over: Partial<Dispatch> & { podSets: PodSetPlacement[] }): Dispatch {
  const gangId = over.gangId ?? randomUUID();
  return {
    gangId,
    jobId: `job-${gangId.slice(0, 8)}`,
    fencingToken: 1,
    namespace: 'ml',
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
    labels: { 'muster.dev/queue': 'research' },
    resourceClaimTemplates: [],
    ...over,
  };
}

export { OnClusterLost };
