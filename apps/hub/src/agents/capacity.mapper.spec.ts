import { bookableCapacityOf } from './capacity.mapper';

describe('bookableCapacityOf', () => {
  it('books cpu, memory, extended resources and device classes in milli-units, not pods', () => {
    expect(
      bookableCapacityOf({
        nodeCount: 2,
        readyNodeCount: 2,
        allocatable: { cpu: '64', memory: '1Ki', pods: '220', 'nvidia.com/gpu': '16' },
        free: {},
        observedAt: '2026-12-01T00:00:00Z',
        devices: [
          { deviceClass: 'gpu.example.com', total: 8, free: 3 },
          { deviceClass: 'none.example.com', total: 0, free: 0 },
        ],
      }),
    ).toEqual({
      cpu: 64_000,
      memory: 1_024_000,
      'nvidia.com/gpu': 16_000,
      'gpu.example.com.deviceclass.resource.k8s.io/devices': 8_000,
    });
  });
});
