import { podRequests } from './pod-requests';

const c = (
  requests: Record<string, string>,
  limits?: Record<string, string>,
  restartPolicy?: string,
) => ({
  resources: { requests, ...(limits ? { limits } : {}) },
  ...(restartPolicy ? { restartPolicy } : {}),
});

describe('podRequests', () => {
  it('sums containers and adds one pod slot', () => {
    const r = podRequests({ containers: [c({ cpu: '500m', memory: '1Gi' }), c({ cpu: '1' })] });
    expect(r.requests).toEqual({ cpu: 1500n, memory: 1024n ** 3n * 1000n, pods: 1000n });
    expect(r.problem).toBeUndefined();
  });

  it('takes the largest init container when it exceeds the sum', () => {
    const r = podRequests({
      containers: [c({ cpu: '1' })],
      initContainers: [c({ cpu: '3' }), c({ cpu: '2', 'nvidia.com/gpu': '1' })],
    });
    expect(r.requests).toEqual({ cpu: 3000n, 'nvidia.com/gpu': 1000n, pods: 1000n });
  });

  it('adds the pod overhead', () => {
    const r = podRequests({ containers: [c({ cpu: '1' })], overhead: { cpu: '250m' } });
    expect(r.requests.cpu).toBe(1250n);
  });

  it('defaults a missing request to the limit', () => {
    const r = podRequests({ containers: [c({}, { cpu: '2', 'nvidia.com/gpu': '4' })] });
    expect(r.requests).toEqual({ cpu: 2000n, 'nvidia.com/gpu': 4000n, pods: 1000n });
  });

  it('counts sidecars (restartable init containers) in the sum and in later inits', () => {
    // sidecar 1 cpu runs throughout; init 2 cpu runs with the sidecar (3); main 1 + sidecar 1 = 2.
    const r = podRequests({
      containers: [c({ cpu: '1' })],
      initContainers: [c({ cpu: '1' }, undefined, 'Always'), c({ cpu: '2' })],
    });
    expect(r.requests.cpu).toBe(3000n);
    const r2 = podRequests({
      containers: [c({ cpu: '4' })],
      initContainers: [c({ cpu: '1' }, undefined, 'Always'), c({ cpu: '2' })],
    });
    expect(r2.requests.cpu).toBe(5000n);
  });

  it('uses pod-level requests for cpu and memory when set', () => {
    const r = podRequests({
      containers: [c({ cpu: '1', 'nvidia.com/gpu': '1' })],
      resources: { requests: { cpu: '4' } },
      overhead: { cpu: '100m' },
    });
    expect(r.requests).toEqual({ cpu: 4100n, 'nvidia.com/gpu': 1000n, pods: 1000n });
  });

  it('rounds non-cpu fractions up to whole units, as the scheduler does', () => {
    expect(podRequests({ containers: [c({ memory: '1500m' })] }).requests.memory).toBe(2000n);
  });

  it('still counts a pod with many containers', () => {
    const containers = Array.from({ length: 100 }, () => c({ cpu: '10m' }));
    expect(podRequests({ containers }).requests.cpu).toBe(1000n);
  });

  it('counts what it can and reports a malformed quantity', () => {
    const r = podRequests({ containers: [c({ cpu: 'lots' }), c({ cpu: '1' })] });
    expect(r.requests.cpu).toBe(1000n);
    expect(r.problem).toContain('cpu');
  });

  it('gives a pod without spec just its slot', () => {
    expect(podRequests(undefined).requests).toEqual({ pods: 1000n });
  });
});
