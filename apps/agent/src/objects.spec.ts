import {
  MAX_CONDITION_MESSAGE,
  nodeRecord,
  pinnedNodeOf,
  podRecord,
  slimPod,
  type PodLike,
} from './objects';
import { claimTemplateName, memberPodName } from './naming';

const memberLabels = {
  'muster.dev/gang-id': 'g1',
  'muster.dev/job-id': 'j1',
  'muster.dev/fencing-token': '3',
  'muster.dev/pod-set': 'workers',
  'muster.dev/member-index': '2',
  app: 'x',
};

/** The name the agent gives member workers-2 of g1, token 3. */
const MEMBER_NAME = memberPodName('g1', 3, 'workers', 2);

function pod(over: Partial<PodLike> = {}): PodLike {
  return {
    metadata: {
      name: MEMBER_NAME,
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
      key: `ns/${MEMBER_NAME}`,
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

  it('reads the fence terms recorded on the pod and its own grace, through slimPod too', () => {
    const p = pod({
      metadata: {
        annotations: {
          'muster.dev/on-cluster-lost': 'requeue',
          'muster.dev/self-fence-timeout-ms': '40000',
          'muster.dev/fence-delete-grace-s': '10',
        },
      },
      spec: { terminationGracePeriodSeconds: 5 },
    });
    for (const r of [podRecord(p)!, podRecord(slimPod(p))!]) {
      expect(r.terminationGraceSeconds).toBe(5);
      expect(r.member).toMatchObject({ selfFenceTimeoutMs: 40_000, fenceDeleteGraceSeconds: 10 });
    }
    // Not recorded (a pod of an older agent): nothing; no grace in the spec: the API default.
    const old = podRecord(pod())!;
    expect(old.terminationGraceSeconds).toBe(30);
    expect(old.member?.selfFenceTimeoutMs).toBeUndefined();
    expect(old.member?.fenceDeleteGraceSeconds).toBeUndefined();
  });

  it('is not a member without well-formed Muster labels', () => {
    expect(podRecord(pod({ metadata: { labels: { app: 'x' } } }))!.member).toBeUndefined();
    expect(
      podRecord(
        pod({ metadata: { labels: { ...memberLabels, 'muster.dev/fencing-token': 'x' } } }),
      )!.member,
    ).toBeUndefined();
  });

  it('is not a member under another name than the one the agent gives that member (review 2.9)', () => {
    // A copy of a member's labels under any other name: not counted, not reported.
    for (const name of ['forged', memberPodName('g1', 3, 'workers', 99), `${MEMBER_NAME}-x`]) {
      const r = podRecord(pod({ metadata: { name } }))!;
      expect(r.key).toBe(`ns/${name}`);
      expect(r.member).toBeUndefined();
      expect(podRecord(slimPod(pod({ metadata: { name } })))!.member).toBeUndefined();
    }
    // Labels naming another index than the name says: not a member either.
    const moved = podRecord(
      pod({ metadata: { labels: { ...memberLabels, 'muster.dev/member-index': '99' } } }),
    )!;
    expect(moved.member).toBeUndefined();
    expect(podRecord(pod())!.member).toMatchObject({ gangId: 'g1', token: 3, index: 2 });
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

  it("keeps the gang's claim templates a member names, through slimPod too", () => {
    const p = pod({
      spec: {
        nodeName: '',
        resourceClaims: [
          { name: 'a', resourceClaimTemplateName: claimTemplateName('g1', 3, 'gpu') },
          { name: 'b', resourceClaimTemplateName: 'someone-elses' },
          { name: 'c', resourceClaimName: 'a-claim' },
        ],
      },
      status: {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/2 nodes are available: 2 cannot allocate all claims.',
          },
        ],
      },
    });
    for (const r of [podRecord(p)!, podRecord(slimPod(p))!]) {
      expect(r.claimTemplates).toEqual([claimTemplateName('g1', 3, 'gpu')]);
      expect(r.reason).toBe('ResourceClaimPending');
    }
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
