// Violations seeded in the real worker clusters, which the run's own sampler code must count,
// read from the real API servers, before its zeros are worth anything: pods made by hand before
// any agent runs (one gang in two clusters with two tokens, a gang ungated before it is whole, a
// node booked past its CPUs), and a real duplicate made through the hub and the agents.
import { randomUUID } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { AgentState, JobState } from '@muster/api';
import { kubeJSON } from '@muster/testbed';
import { eventually } from '../support/fake-agent';
import {
  ClusterObserver,
  GANG_LABEL,
  TOKEN_LABEL,
  type ViolationKind,
} from '../support/cluster-observer';
import { WORKERS, type FaultFleet } from './fleet';
import { gangSpec } from './workload';

const SEEDED = 'muster-faults/seeded';

function seedPod(
  name: string,
  labels: Record<string, string>,
  extra: { cpu?: string; node?: string } = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { [SEEDED]: 'true', ...labels } },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'registry.example/seeded:1',
          resources: { requests: { cpu: extra.cpu ?? '100m', memory: '64Mi' } },
        },
      ],
      ...(extra.node
        ? {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchFields: [{ key: 'metadata.name', operator: 'In', values: [extra.node] }],
                    },
                  ],
                },
              },
            },
          }
        : {}),
    },
  };
}

const member = (gang: string, token: number) => ({
  [GANG_LABEL]: gang,
  [TOKEN_LABEL]: String(token),
});

/** Seeds the violations, samples until each kind is counted (or 30 s), removes the pods. */
export async function seedViolations(fleet: FaultFleet): Promise<ViolationKind[]> {
  const w1 = fleet.cluster('w1');
  const seeds: [string, V1Pod][] = [
    ['w1', seedPod('seeded-dup-1-0', member('seeded-dup', 1))],
    ['w1', seedPod('seeded-dup-1-1', member('seeded-dup', 1))],
    ['w2', seedPod('seeded-dup-2-0', member('seeded-dup', 2))],
    ['w2', seedPod('seeded-dup-2-1', member('seeded-dup', 2))],
    ['w3', seedPod('seeded-partial-1-0', member('seeded-partial', 1))],
    ['w1', seedPod('seeded-big', {}, { cpu: '1000', node: w1.nodes[0]! })],
  ];
  const observer = new ClusterObserver(
    WORKERS.map((w) => fleet.cluster(w)),
    new Map([
      ['seeded-dup', 2],
      ['seeded-partial', 3],
    ]),
    { keepLastRead: true },
  );
  const want: ViolationKind[] = [
    'gang-in-two-clusters',
    'two-live-tokens',
    'partial-gang-ungated',
    'node-over-committed',
  ];
  try {
    for (const [cluster, pod] of seeds)
      await kubeJSON(fleet.cluster(cluster), 'POST', '/api/v1/namespaces/default/pods', pod);
    observer.start(250);
    await eventually(
      'every seeded violation counted',
      () => want.every((k) => observer.violations.some((v) => v.kind === k)) || undefined,
      30_000,
    ).catch(() => undefined); // what was counted is the result; the test compares it
  } finally {
    await observer.stop();
    for (const [cluster, pod] of seeds)
      await kubeJSON(
        fleet.cluster(cluster),
        'DELETE',
        `/api/v1/namespaces/default/pods/${pod.metadata!.name}`,
        { gracePeriodSeconds: 0 },
        [404],
      );
    await eventually(
      'seeded pods gone',
      async () => {
        for (const c of WORKERS) {
          const { items } = await kubeJSON<{ items: V1Pod[] }>(
            fleet.cluster(c),
            'GET',
            `/api/v1/pods?labelSelector=${encodeURIComponent(SEEDED)}`,
          );
          if (items.length > 0) return undefined;
        }
        return true;
      },
      30_000,
    );
  }
  return [...new Set(observer.violations.map((v) => v.kind))].sort();
}

/**
 * A real run that must show a gang in two clusters with two live tokens: w1's agent is
 * SIGKILLed and its API server SIGSTOPped while it runs a `requeue` gang, so nothing can confirm
 * the gang gone. A hub that requeues on a timer moves it by itself; one that waits for a fence
 * (reason AwaitingFence) is told by an operator, wrongly, that w1 runs nothing any more
 * (FenceCluster). Either way the gang runs on another cluster while its old copy still runs on
 * w1, which the sampler must count on fresh reads once w1 answers again; the returning agent
 * then removes the old copy.
 */
export async function seedRealDuplicate(fleet: FaultFleet): Promise<{
  kinds: ViolationKind[];
  /** How the gang came to move: by the hub itself, or by the wrongful fence. */
  moved: 'by the hub on its own' | 'by a wrongful FenceCluster';
}> {
  const job = async (jobId: string) =>
    (await fleet.withHub((api) => api.jobs.getJob({ jobId }))).job!;
  for (const name of ['w2', 'w3'])
    await fleet.withHub((api) => api.inventory.cordonCluster({ name, reason: 'seeded run' }));
  let id: string;
  try {
    const { job: submitted } = await fleet.withHub((api) =>
      api.jobs.submitJob({
        clientRequestId: randomUUID(),
        spec: gangSpec('seeded-twice', 4, 'requeue', '300s'),
      }),
    );
    id = submitted!.id;
    await eventually(
      'the seeded gang running on w1',
      async () => {
        const j = await job(id);
        return (j.state === JobState.JOB_STATE_RUNNING && j.cluster === 'w1') || undefined;
      },
      90_000,
    );
  } finally {
    for (const name of ['w2', 'w3'])
      await fleet.withHub((api) => api.inventory.uncordonCluster({ name }));
  }
  const observer = new ClusterObserver(
    WORKERS.map((w) => fleet.cluster(w)),
    new Map([[id, 4]]),
    { keepLastRead: true },
  );
  observer.start(400);
  let moved: 'by the hub on its own' | 'by a wrongful FenceCluster' = 'by the hub on its own';
  let contAt = 0;
  try {
    fleet.stopApiServer('w1');
    await fleet.killAgent('w1');
    await eventually(
      'w1 Lost',
      async () =>
        (await fleet.agentStates()).get('w1') === AgentState.AGENT_STATE_LOST || undefined,
      60_000,
    );
    const held = await eventually(
      'the seeded gang moved or held for a fence',
      async () => {
        const j = await job(id);
        if (j.cluster !== 'w1' || j.state === JobState.JOB_STATE_QUEUED) return 'moved';
        return j.reason === 'AwaitingFence' ? 'held' : undefined;
      },
      30_000,
    );
    if (held === 'held') {
      moved = 'by a wrongful FenceCluster';
      await fleet.withHub((api) =>
        api.inventory.fenceCluster({ name: 'w1', reason: 'seeded: a wrong confirmation' }),
      );
    }
    await eventually(
      'the seeded gang running on another cluster',
      async () => {
        const j = await job(id);
        return (j.state === JobState.JOB_STATE_RUNNING && j.cluster !== 'w1') || undefined;
      },
      90_000,
    );
    fleet.contApiServer('w1');
    contAt = Date.now();
    // Counted on what w1 says now, not only on its read from before the stop.
    await eventually(
      'the duplicate counted on a fresh read of w1',
      () =>
        ((observer.lastRead('w1')?.at ?? 0) > contAt &&
          observer.violations.some(
            (v) => v.kind === 'gang-in-two-clusters' && Date.parse(v.at) > contAt,
          )) ||
        undefined,
      30_000,
    );
  } finally {
    if (fleet.stopped.has('w1')) fleet.contApiServer('w1');
    fleet.startAgent('w1');
    await fleet.allConnected();
    await fleet.withHub((api) => api.jobs.cancelJob({ jobId: id, reason: 'seeded run over' }));
    await eventually(
      'the seeded gang gone from every cluster',
      () =>
        WORKERS.every((w) =>
          (observer.lastRead(w)?.state.pods ?? []).every(
            (p) => p.metadata?.labels?.[GANG_LABEL] !== id,
          ),
        ) || undefined,
      60_000,
    );
    await observer.stop();
  }
  const kinds = new Set(
    observer.violations.filter((v) => Date.parse(v.at) > contAt).map((v) => v.kind),
  );
  return { kinds: [...kinds].sort(), moved };
}
