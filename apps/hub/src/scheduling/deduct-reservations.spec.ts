import type { ClusterSnapshot } from '@muster/placement';
import { deductReservations } from './scheduler';

const cluster = (reflected: string[] = []): ClusterSnapshot & { reflected: Set<string> } => ({
  name: 'c1',
  topologyLevels: ['kubernetes.io/hostname'],
  nodes: [
    { name: 'n1', allocatable: { 'nvidia.com/gpu': 8000n }, free: { 'nvidia.com/gpu': 8000n } },
    { name: 'n2', allocatable: { 'nvidia.com/gpu': 8000n }, free: { 'nvidia.com/gpu': 2000n } },
  ],
  reflected: new Set(reflected),
});

const reservation = {
  jobId: 'g1',
  cluster: 'c1',
  fencingToken: 3,
  nodeRequests: { n1: { 'nvidia.com/gpu': '6' } },
};

describe('deductReservations', () => {
  it('subtracts reservations the report does not reflect yet', () => {
    const [c] = deductReservations([cluster()], [reservation]);
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(2000n);
    expect(c!.nodes[1]!.free['nvidia.com/gpu']).toBe(2000n);
  });

  it('does not subtract twice what the report already reflects', () => {
    const [c] = deductReservations([cluster(['g1:3'])], [reservation]);
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(8000n);
  });

  it('treats a reflected older token as not reflecting the current reservation', () => {
    const [c] = deductReservations([cluster(['g1:2'])], [reservation]);
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(2000n);
  });

  it('ignores reservations of other clusters and does not mutate its input', () => {
    const input = cluster();
    const [c] = deductReservations([input], [{ ...reservation, cluster: 'c2' }]);
    expect(c!.nodes[0]!.free['nvidia.com/gpu']).toBe(8000n);
    deductReservations([input], [reservation]);
    expect(input.nodes[0]!.free['nvidia.com/gpu']).toBe(8000n);
    expect('reflected' in c!).toBe(false);
  });
});
