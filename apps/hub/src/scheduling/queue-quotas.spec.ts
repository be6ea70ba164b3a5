import type { DeviceClaim } from '@muster/placement';
import {
  ALL_DEVICES_QUOTA,
  deviceCounts,
  deviceCountsOf,
  heldAmounts,
  quotaRequest,
  usageByQueue,
} from './queue-quotas';

const GPU_CLASS = 'gpu.nvidia.com.deviceclass.resource.k8s.io/devices';
const MIG_CLASS = 'mig.nvidia.com.deviceclass.resource.k8s.io/devices';

const claim = (requests: DeviceClaim['requests']): DeviceClaim => ({ name: 'gpus', requests });

describe('deviceCounts', () => {
  it('counts devices per class as ResourceQuota does, for every member of a pod set', () => {
    const counts = deviceCounts([
      {
        count: 3,
        claims: [
          claim([
            { name: 'two', exactly: { deviceClassName: 'gpu.nvidia.com', count: 2 } },
            { name: 'one', exactly: { deviceClassName: 'gpu.nvidia.com' } },
          ]),
        ],
      },
      {
        count: 1,
        claims: [
          claim([
            { name: 'all', exactly: { deviceClassName: 'mig.nvidia.com', allocationMode: 'All' } },
          ]),
        ],
      },
    ]);
    // 3 members × (2 + 1) whole GPUs; `All` as the most one allocation may hold.
    expect(counts).toEqual({ [GPU_CLASS]: 9000n, [MIG_CLASS]: BigInt(ALL_DEVICES_QUOTA) * 1000n });
  });

  it('counts a prioritised list as its largest alternative of each class', () => {
    const counts = deviceCounts([
      {
        count: 2,
        claims: [
          claim([
            {
              name: 'gpu',
              firstAvailable: [
                { name: 'big', deviceClassName: 'gpu.nvidia.com', count: 1 },
                { name: 'small', deviceClassName: 'mig.nvidia.com', count: 4 },
                { name: 'two', deviceClassName: 'gpu.nvidia.com', count: 2 },
              ],
            },
          ]),
        ],
      },
    ]);
    expect(counts).toEqual({ [GPU_CLASS]: 4000n, [MIG_CLASS]: 8000n });
  });

  it('adds the device counts to a gang`s requests, and nothing for a gang without claims', () => {
    const podSets = [
      {
        count: 2,
        requests: { cpu: 4000n },
        claims: [claim([{ name: 'g', exactly: { deviceClassName: 'gpu.nvidia.com' } }])],
      },
      { count: 1, requests: { cpu: 1000n } },
    ];
    expect(quotaRequest(podSets)).toEqual({ cpu: 9000n, [GPU_CLASS]: 2000n });
    expect(quotaRequest([{ count: 2, requests: { cpu: 1000n } }])).toEqual({ cpu: 2000n });
  });
});

describe('heldAmounts and usageByQueue', () => {
  const row = {
    queue: 'research',
    nodeRequests: { n1: { cpu: '2', 'nvidia.com/gpu': '1' }, n2: { cpu: '500m' } },
    clusterSet: 'east',
    deviceCounts: deviceCountsOf({ cpu: 2500, [GPU_CLASS]: 2000 }),
  };

  it('sums node requests and stored device counts, and scopes them all to the cluster set', () => {
    expect(heldAmounts(row)).toEqual({
      cpu: 2500n,
      'nvidia.com/gpu': 1000n,
      [GPU_CLASS]: 2000n,
      'east:cpu': 2500n,
      'east:nvidia.com/gpu': 1000n,
      [`east:${GPU_CLASS}`]: 2000n,
    });
    expect(heldAmounts({ ...row, clusterSet: '', deviceCounts: null })).toEqual({
      cpu: 2500n,
      'nvidia.com/gpu': 1000n,
    });
  });

  it('reads only device counts from a stored usage, and skips odd values', () => {
    expect(deviceCountsOf({ cpu: 1, [GPU_CLASS]: 3000 })).toEqual({ [GPU_CLASS]: 3000 });
    expect(deviceCountsOf(null)).toEqual({});
    expect(heldAmounts({ ...row, clusterSet: '', deviceCounts: { [GPU_CLASS]: -1 } })).toEqual({
      cpu: 2500n,
      'nvidia.com/gpu': 1000n,
    });
  });

  it('sums per queue', () => {
    const usage = usageByQueue([row, { ...row, clusterSet: 'west' }, { ...row, queue: 'other' }]);
    expect(usage.get('research')).toMatchObject({
      cpu: 5000n,
      'east:cpu': 2500n,
      'west:cpu': 2500n,
      [GPU_CLASS]: 4000n,
    });
    expect(usage.get('other')).toMatchObject({ cpu: 2500n });
  });
});
