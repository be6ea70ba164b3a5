import {
  MAX_CONDITION_MESSAGE,
  nodeRecord,
  pinnedNodeOf,
  podRecord,
  slimPod,
  type PodLike,
} from './objects';

const memberLabels = {
  'muster.dev/gang-id': 'g1',
  'muster.dev/job-id': 'j1',
  'muster.dev/fencing-token': '3',
  'muster.dev/pod-set': 'workers',
  'muster.dev/member-index': '2',
  app: 'x',
};

function pod(over: Partial<PodLike> = {}): PodLike {
  return {
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u',
      labels: memberLabels,
      annotations: {
        'muster.dev/on-cluster-lost': 'requeue',
        'muster.dev/gang-size': '8',
        big: 'x'.repeat(1000),
      },
      ...over.metadata,
    },
    spec: {
      nodeName: 'n1',
      containers: [{ resources: { requests: { cpu: '1' } } }],
      schedulingGates: [],
      ...over.spec,
    },
    status: { phase: 'Running', ...over.status },
  };
}

describe('nodeRecord', () => {
  it('reads labels, taints, allocatable, cordon and readiness', () => {
    const r = nodeRecord({
      metadata: { name: 'n1', labels: { zone: 'a' } },
      spec: { unschedulable: true, taints: [{ key: 'gpu', effect: 'NoSchedule' }] },
      status: {
        allocatable: { cpu: '8', memory: '1Gi' },
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
    expect(r).toEqual({
      name: 'n1',
      labels: { zone: 'a' },
      taints: [{ key: 'gpu', value: '', effect: 'NoSchedule' }],
      allocatable: { cpu: 8000n, memory: 1024n ** 3n * 1000n },
      unschedulable: true,
      ready: true,
    });
    expect(nodeRecord({ metadata: { name: 'n2' } })!.ready).toBe(false);
    expect(nodeRecord({ metadata: {} })).toBeUndefined();
  });
});

describe('podRecord', () => {
  it('reads a member pod', () => {
    const r = podRecord(pod())!;
    expect(r).toMatchObject({
      key: 'ns/p',
      nodeName: 'n1',
      phase: 'Running',
      terminal: false,
      deleting: false,
      gated: false,
      requests: { cpu: 1000n, pods: 1000n },
      member: {
        gangId: 'g1',
        jobId: 'j1',
        token: 3,
        podSet: 'workers',
        index: 2,
        onClusterLost: 'requeue',
        gangSize: 8,
      },
    });
  });

  it('is not a member without well-formed Muster labels', () => {
    expect(podRecord(pod({ metadata: { labels: { app: 'x' } } }))!.member).toBeUndefined();
    expect(
      podRecord(
        pod({ metadata: { labels: { ...memberLabels, 'muster.dev/fencing-token': 'x' } } }),
      )!.member,
    ).toBeUndefined();
  });

  it('sees the Muster gate and deletion', () => {
    const r = podRecord(
      pod({
        metadata: { deletionTimestamp: '2025-01-01T00:00:00Z' },
        spec: { nodeName: undefined, schedulingGates: [{ name: 'muster.dev/gang' }] },
        status: { phase: 'Pending' },
      }),
    )!;
    expect(r.gated).toBe(true);
    expect(r.deleting).toBe(true);
    expect(r.nodeName).toBe('');
    expect(r.reason).toBe('SchedulingGated');
  });

  it('takes the failing container exit code and reason', () => {
    const r = podRecord(
      pod({
        status: {
          phase: 'Failed',
          containerStatuses: [
            { name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } },
            { name: 'b', state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } },
          ],
        },
      }),
    )!;
    expect(r).toMatchObject({ terminal: true, exitCode: 137, reason: 'OOMKilled' });
    const evicted = podRecord(pod({ status: { phase: 'Failed', reason: 'Evicted' } }))!;
    expect(evicted.reason).toBe('Evicted');
  });

  it('reads a disruption reason', () => {
    const r = podRecord(
      pod({
        status: {
          phase: 'Running',
          conditions: [
            { type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' },
          ],
        },
      }),
    )!;
    expect(r.disruption).toBe('PreemptionByScheduler');
  });

  it('slimPod keeps exactly what podRecord reads', () => {
    const full = pod({
      status: {
        phase: 'Failed',
        reason: 'Error',
        conditions: [
          { type: 'Ready', status: 'False' },
          { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' },
        ],
        containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 2, reason: 'Error' } } }],
      },
    });
    const slim = slimPod(full);
    expect(podRecord(slim)).toEqual(podRecord(full));
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(full).length / 2);
  });

  it('keeps the PodScheduled condition (status, reason, message), capped', () => {
    const message = '0/4 nodes are available: 4 Too many pods.';
    const r = podRecord(
      pod({
        spec: { nodeName: '' },
        status: {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
        },
      }),
    )!;
    expect(r.scheduled).toEqual({ status: 'False', reason: 'Unschedulable', message });
    expect(podRecord(pod())!.scheduled).toBeUndefined();
    const long = podRecord(
      pod({
        status: {
          conditions: [{ type: 'PodScheduled', status: 'False', message: 'x'.repeat(5000) }],
        },
      }),
    )!;
    expect(long.scheduled!.message).toHaveLength(MAX_CONDITION_MESSAGE);
  });

  it('slimPod keeps the PodScheduled condition and the pinning node affinity', () => {
    const full = pod({
      spec: {
        nodeName: '',
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchFields: [{ key: 'metadata.name', operator: 'In', values: ['gpu-3'] }],
                  ...({
                    matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }],
                  } as object),
                },
              ],
            },
          },
        },
      },
      status: {
        phase: 'Pending',
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/4 nodes' },
        ],
      },
    });
    const r = podRecord(slimPod(full))!;
    expect(r).toEqual(podRecord(full));
    expect(r.pinnedNode).toBe('gpu-3');
    expect(r.scheduled).toEqual({ status: 'False', reason: 'Unschedulable', message: '0/4 nodes' });
  });
});

describe('pinnedNodeOf', () => {
  const name = (values: string[], operator = 'In') => ({ key: 'metadata.name', operator, values });
  const spec = (...terms: Array<Array<ReturnType<typeof name>>>) => ({
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: terms.map((matchFields) => ({ matchFields })),
        },
      },
    },
  });

  it.each([
    ['no affinity', {}, ''],
    ['one term naming one node', spec([name(['a'])]), 'a'],
    ['every term naming the same node', spec([name(['a'])], [name(['a'])]), 'a'],
    ['two In requirements of one term intersect', spec([name(['a', 'b']), name(['b', 'c'])]), 'b'],
    ['two nodes', spec([name(['a', 'b'])]), ''],
    ['terms naming different nodes', spec([name(['a'])], [name(['b'])]), ''],
    ['a term without a name requirement', spec([name(['a'])], []), ''],
    ['NotIn only', spec([name(['a'], 'NotIn')]), ''],
  ])('%s', (_, s, node) => {
    expect(pinnedNodeOf(s as PodLike['spec'])).toBe(node);
  });
});
