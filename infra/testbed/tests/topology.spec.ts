// Pure tests of the topology format and the fake nodes generated from it (no clusters started).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DEMO_TOPOLOGY,
  KWOK_NODE_ANNOTATION,
  LABELS,
  buildNodes,
  cleanupStaleRuns,
  loadTopology,
  parseTopology,
} from '../src';

describe('topology', () => {
  it('loads the demo: 1 management + 3 workers of 4, 8 and 16 nodes', () => {
    const t = loadTopology(DEMO_TOPOLOGY);
    expect(t.clusters.map((c) => [c.name, c.role])).toEqual([
      ['mgmt', 'management'],
      ['worker-a', 'worker'],
      ['worker-b', 'worker'],
      ['worker-c', 'worker'],
    ]);
    expect(t.clusters.slice(1).map((c) => buildNodes(c).length)).toEqual([4, 8, 16]);
  });

  it('assigns racks and blocks from nodesPerRack and racksPerBlock', () => {
    const t = parseTopology(`
clusters:
  - name: w
    nodePools:
      - name: gpu
        count: 6
        zone: z1
        nodesPerRack: 2
        racksPerBlock: 2
        resources: { cpu: 8, memory: 64Gi, nvidia.com/gpu: 4 }
        taints: [{ key: dedicated, value: gpu, effect: NoSchedule }]
`);
    expect(t.clusters[0].role).toBe('management'); // first cluster defaults to management
    const nodes = buildNodes(t.clusters[0]);
    expect(nodes.map((n) => n.metadata.name)).toEqual([
      'gpu-0',
      'gpu-1',
      'gpu-2',
      'gpu-3',
      'gpu-4',
      'gpu-5',
    ]);
    expect(nodes.map((n) => n.metadata.labels[LABELS.rack])).toEqual([
      'w-gpu-b0-r0',
      'w-gpu-b0-r0',
      'w-gpu-b0-r1',
      'w-gpu-b0-r1',
      'w-gpu-b1-r2',
      'w-gpu-b1-r2',
    ]);
    const n = nodes[0];
    expect(n.metadata.labels[LABELS.zone]).toBe('z1');
    expect(n.metadata.labels[LABELS.hostname]).toBe('gpu-0');
    expect(n.metadata.annotations[KWOK_NODE_ANNOTATION]).toBe('fake');
    expect(n.status.allocatable).toEqual({
      cpu: '8',
      memory: '64Gi',
      'nvidia.com/gpu': '4',
      pods: '110',
    });
    expect(n.status.capacity).toEqual(n.status.allocatable);
    expect(n.spec.taints).toEqual([{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]);
  });

  it('rejects invalid documents with a useful message', () => {
    expect(() => parseTopology('clusters: []')).toThrow(/non-empty/);
    expect(() => parseTopology('clusters: [{ name: Bad_Name }]')).toThrow(/DNS label/);
    expect(() => parseTopology('clusters: [{ name: a }, { name: a }]')).toThrow(
      /duplicate cluster/,
    );
    expect(() =>
      parseTopology(
        'clusters: [{ name: a, nodePools: [{ name: p, count: 0, resources: { cpu: 1, memory: 1Gi } }] }]',
      ),
    ).toThrow(/count must be a positive integer/);
    expect(() =>
      parseTopology(
        'clusters: [{ name: a, nodePools: [{ name: p, count: 1, resources: { cpu: 1 } }] }]',
      ),
    ).toThrow(/cpu and memory/);
  });
});

describe('cleanupStaleRuns', () => {
  it('removes runs whose owner died and keeps runs of live owners', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'testbed-stale-'));
    const mk = (name: string, ownerPid: number, detached: boolean) => {
      const runDir = path.join(base, name);
      fs.mkdirSync(runDir);
      fs.writeFileSync(
        path.join(runDir, 'state.json'),
        JSON.stringify({
          version: 1,
          runDir,
          ownerPid,
          detached,
          createdAt: '',
          kubeconfigPath: '',
          clusters: [],
        }),
      );
      return runDir;
    };
    const dead = mk('run-dead', 2 ** 22 + 12345, false); // above pid_max: never a live process
    const live = mk('run-live', process.pid, false);
    const detached = mk('run-detached', 2 ** 22 + 12346, true); // owner gone, no cluster alive -> stale
    try {
      const removed = await cleanupStaleRuns(base);
      expect(removed.sort()).toEqual([dead, detached].sort());
      expect(fs.existsSync(live)).toBe(true);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
