import { status, type ServiceError } from '@grpc/grpc-js';
import type { JobSpec, PodSet } from '@muster/api';

export function podTemplate(
  requests: Record<string, string>,
  extra: Record<string, unknown> = {},
  annotations?: Record<string, string>,
): string {
  return JSON.stringify({
    ...(annotations ? { metadata: { annotations } } : {}),
    spec: {
      containers: [{ name: 'main', image: 'registry.example/train:1', resources: { requests } }],
      ...extra,
    },
  });
}

export function podSet(
  name: string,
  count: number,
  requests: Record<string, string> = { cpu: '1' },
  annotations?: Record<string, string>,
): PodSet {
  return {
    name,
    count,
    podTemplateJson: podTemplate(requests, {}, annotations),
    topology: undefined,
  };
}

/** Pod annotations that make the testbed end each member with success `after` (a Go duration) of running. */
export function succeedsAfter(after: string): Record<string, string> {
  return { 'testbed.muster.dev/succeed-after': after };
}

export function jobSpec(queue: string, overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'train',
    queue,
    priority: 0,
    onClusterLost: 0,
    labels: {},
    podSets: [podSet('workers', 4, { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' })],
    podSetGroups: [],
    namespace: '',
    maxRestarts: 0,
    resourceClaimTemplates: [],
    matchDeviceAttribute: '',
    ...overrides,
  };
}

/** Runs a call expected to fail and returns its gRPC error. */
export async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export { status };
