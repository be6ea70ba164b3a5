import { DEFAULT_TOPOLOGY_LEVELS } from '../inventory/cluster.domain';
import {
  IMPORTED_FROM_LABEL,
  importedChanges,
  importedClusterOf,
  importedRow,
  type ImportedCluster,
} from './cluster-profile.import';
import { PROPERTY, profileObjectFor, profileStatusFor } from './cluster-profile.publish';

const S = { namespace: 'muster-inventory', lostTimeoutMs: 60_000 };
const NOW = new Date('2026-01-01T12:00:00.000Z');

function foreign(
  overrides: Record<string, unknown> = {},
  status: Record<string, unknown> = {},
): unknown {
  return {
    apiVersion: 'multicluster.x-k8s.io/v1alpha1',
    kind: 'ClusterProfile',
    metadata: {
      name: 'ocm-west',
      namespace: 'fleet',
      labels: {
        'x-k8s.io/cluster-manager': 'ocm',
        'multicluster.x-k8s.io/clusterset': 'prod',
        tier: 'gold',
      },
    },
    spec: { displayName: 'OCM West', clusterManager: { name: 'ocm' } },
    status: {
      version: { kubernetes: 'v1.33.2' },
      conditions: [
        {
          type: 'ControlPlaneHealthy',
          status: 'True',
          reason: 'Healthy',
          message: '',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
      properties: [
        {
          name: PROPERTY.topologyLevels,
          value: 'topology.kubernetes.io/zone,kubernetes.io/hostname',
        },
      ],
      credentialProviders: [{ name: 'ocm', cluster: { server: 'https://old.example:6443' } }],
      accessProviders: [
        {
          name: 'ocm',
          cluster: { server: 'https://west.example:6443', 'certificate-authority-data': 'Q0E=' },
        },
        {
          name: 'gke',
          cluster: { server: 'https://gke.example', 'proxy-url': 'http://proxy:3128' },
        },
      ],
      ...status,
    },
    ...overrides,
  };
}

describe('importedClusterOf', () => {
  it("ignores Muster's own objects", () => {
    const c = (importedClusterOf(foreign(), 'fleet') as { cluster: ImportedCluster }).cluster;
    // The ClusterProfile Muster would publish for a cluster row (here, that of the import).
    const r = importedRow(c, NOW);
    const own = {
      ...profileObjectFor(r, S),
      status: profileStatusFor(r, undefined, S, NOW).apply.status,
    };
    expect(importedClusterOf(own, 'fleet')).toEqual({ kind: 'own' });
  });

  it("turns another manager's ClusterProfile into read-only cluster fields", () => {
    const out = importedClusterOf(foreign(), 'fleet');
    expect(out.kind).toBe('import');
    const c = (out as { cluster: ImportedCluster }).cluster;
    expect(c).toMatchObject({
      name: 'ocm-west',
      namespace: 'fleet',
      clusterManager: 'ocm',
      displayName: 'OCM West',
      clusterSet: 'prod',
      labels: { tier: 'gold', [IMPORTED_FROM_LABEL]: 'fleet' },
      topologyLevels: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
      kubernetesVersion: 'v1.33.2',
    });
    // accessProviders win over the deprecated credentialProviders of the same name.
    expect(c.accessProviders.map((p) => [p.name, p.cluster.server])).toEqual([
      ['ocm', 'https://west.example:6443'],
      ['gke', 'https://gke.example'],
    ]);
    expect(c.accessProviders[0]!.cluster.certificateAuthorityData).toBe('Q0E=');
    expect(c.accessProviders[1]!.cluster.proxyUrl).toBe('http://proxy:3128');
    expect(c.conditions[0]).toMatchObject({ type: 'ControlPlaneHealthy', status: 'True' });

    const row = importedRow(c, NOW);
    expect(row).toMatchObject({
      readOnly: true,
      clusterManager: 'ocm',
      agentState: 'NeverConnected',
      capacity: null,
      cordoned: false,
    });
  });

  it('uses the default topology when none is published', () => {
    const out = importedClusterOf(foreign({}, { properties: [] }), 'fleet');
    expect((out as { cluster: ImportedCluster }).cluster.topologyLevels).toEqual(
      DEFAULT_TOPOLOGY_LEVELS,
    );
  });

  it.each([
    [
      'a name that is no DNS-1123 label',
      foreign({ metadata: { name: 'gpu.west' } }),
      'metadata.name',
    ],
    ['a missing cluster manager', foreign({ spec: {} }), 'spec.clusterManager.name'],
    [
      'a display name with control characters',
      foreign({ spec: { displayName: 'bad\u0007name', clusterManager: { name: 'ocm' } } }),
      'spec.displayName',
    ],
    [
      'a cluster set label Muster cannot use',
      foreign({
        metadata: { name: 'ocm-west', labels: { 'multicluster.x-k8s.io/clusterset': 'Team_A' } },
      }),
      'metadata.labels["multicluster.x-k8s.io/clusterset"]',
    ],
    [
      'an access provider without a URL',
      foreign({}, { accessProviders: [{ name: 'ocm', cluster: { server: 'not a url' } }] }),
      'status.accessProviders[0].cluster.server',
    ],
    [
      'an access provider without a cluster',
      foreign({}, { credentialProviders: [], accessProviders: [{ name: 'ocm' }] }),
      'status.accessProviders[0].cluster',
    ],
    [
      'a condition with an unknown status',
      foreign({}, { conditions: [{ type: 'Ready', status: 'Maybe' }] }),
      'status.conditions[0].status',
    ],
    [
      'a bad topology property',
      foreign({}, { properties: [{ name: PROPERTY.topologyLevels, value: 'not a/label/key' }] }),
      'status.properties[muster.dev/topology-levels][0]',
    ],
  ])('skips %s, naming the field', (_what, obj, field) => {
    const out = importedClusterOf(obj, 'fleet');
    expect(out).toMatchObject({ kind: 'skip', field });
    expect((out as { reason: string }).reason).not.toBe('');
  });
});

describe('importedChanges', () => {
  const c = (importedClusterOf(foreign(), 'fleet') as { cluster: ImportedCluster }).cluster;

  it('is undefined for a row that matches its ClusterProfile', () => {
    expect(importedChanges(importedRow(c, NOW), c)).toBeUndefined();
  });

  it('follows the profile, but leaves health and version to a connected agent', () => {
    const changed: ImportedCluster = {
      ...c,
      displayName: 'Renamed',
      kubernetesVersion: 'v1.34.0',
      conditions: [],
    };
    expect(importedChanges(importedRow(c, NOW), changed)).toEqual({
      displayName: 'Renamed',
      kubernetesVersion: 'v1.34.0',
      conditions: [],
    });
    const connected = { ...importedRow(c, NOW), agentState: 'Connected' as const };
    expect(importedChanges(connected, changed)).toEqual({ displayName: 'Renamed' });
  });
});
