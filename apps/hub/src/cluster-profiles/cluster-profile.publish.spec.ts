import type { ClusterProfile } from '@muster/k8s';
import {
  PROPERTY,
  canonical,
  conditionsFor,
  foreignManager,
  objectDiffers,
  profileObjectFor,
  profileStatusFor,
  statusDifference,
  type ClusterRow,
} from './cluster-profile.publish';

const S = { namespace: 'muster-inventory', lostTimeoutMs: 60_000 };
const CREATED = new Date('2026-01-01T10:00:00.123Z');
const NOW = new Date('2026-01-01T12:00:00.000Z');

function row(overrides: Partial<ClusterRow> = {}): ClusterRow {
  return {
    name: 'gpu-east',
    displayName: 'GPU East',
    clusterManager: 'muster',
    clusterSet: 'training',
    labels: { region: 'east' },
    topologyLevels: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
    accessProviders: [
      {
        name: 'muster-token',
        cluster: {
          server: 'https://10.0.0.1:6443',
          certificateAuthorityData: Buffer.from('CA').toString('base64'),
          tlsServerName: '',
          proxyUrl: '',
          insecureSkipTlsVerify: false,
          extensions: [],
        },
      },
    ],
    conditions: [],
    properties: [],
    kubernetesVersion: '',
    capacity: null,
    agentState: 'NeverConnected',
    lastHeartbeatAt: null,
    cordoned: false,
    readOnly: false,
    createdAt: CREATED,
    ...overrides,
  };
}

/** A ClusterProfile as the API server would hold it after Muster's applies. */
function published(r: ClusterRow, generation = 1): ClusterProfile {
  const object = profileObjectFor(r, S);
  const observed: ClusterProfile = {
    ...object,
    metadata: { ...object.metadata, generation, resourceVersion: '7' },
  };
  return { ...observed, status: profileStatusFor(r, observed, S, NOW).apply.status };
}

const condition = (status: ClusterProfile['status'], type: string) =>
  status?.conditions?.find((c) => c.type === type);

describe('profileObjectFor', () => {
  it('labels the object with its manager and cluster set and keeps the cluster labels', () => {
    expect(profileObjectFor(row(), S)).toEqual({
      apiVersion: 'multicluster.x-k8s.io/v1alpha1',
      kind: 'ClusterProfile',
      metadata: {
        name: 'gpu-east',
        namespace: 'muster-inventory',
        labels: {
          region: 'east',
          'x-k8s.io/cluster-manager': 'muster',
          'multicluster.x-k8s.io/clusterset': 'training',
        },
      },
      spec: { displayName: 'GPU East', clusterManager: { name: 'muster' } },
    });
  });

  it('leaves the cluster set label out when there is none, and reserved labels are never copied', () => {
    const o = profileObjectFor(
      row({ clusterSet: '', labels: { 'x-k8s.io/cluster-manager': 'evil', a: 'b' } }),
      S,
    );
    expect(o.metadata.labels).toEqual({ a: 'b', 'x-k8s.io/cluster-manager': 'muster' });
  });
});

describe('profileStatusFor', () => {
  it('publishes a registered cluster waiting for its agent', () => {
    const { apply, warnings } = profileStatusFor(row(), undefined, S, NOW);
    expect(warnings).toEqual([]);
    expect(apply.metadata).toEqual({ name: 'gpu-east', namespace: 'muster-inventory' });
    expect(apply.status.conditions).toEqual([
      {
        type: 'Joined',
        status: 'False',
        reason: 'AgentNeverConnected',
        message: 'no Muster agent has connected yet',
        lastTransitionTime: '2026-01-01T10:00:00Z',
        observedGeneration: 1,
      },
      {
        type: 'ControlPlaneHealthy',
        status: 'Unknown',
        reason: 'AgentNeverConnected',
        message: 'unknown until the Muster agent connects',
        lastTransitionTime: '2026-01-01T10:00:00Z',
        observedGeneration: 1,
      },
    ]);
    expect(apply.status.version).toEqual({});
    expect(apply.status.properties).toEqual([
      { name: PROPERTY.agentState, value: 'NeverConnected' },
      { name: PROPERTY.cordoned, value: 'false' },
      {
        name: PROPERTY.topologyLevels,
        value: 'topology.kubernetes.io/zone,kubernetes.io/hostname',
      },
    ]);
    const providers = [
      {
        name: 'muster-token',
        cluster: {
          server: 'https://10.0.0.1:6443',
          'certificate-authority-data': Buffer.from('CA').toString('base64'),
        },
      },
    ];
    expect(apply.status.accessProviders).toEqual(providers);
    expect(apply.status.credentialProviders).toEqual(providers);
  });

  it('reports a connected cluster healthy, with its version and capacity summaries', () => {
    const heartbeat = new Date(NOW.getTime() - 1000);
    const r = row({
      agentState: 'Connected',
      lastHeartbeatAt: heartbeat,
      kubernetesVersion: 'v1.34.1',
      conditions: [
        {
          type: 'ControlPlaneHealthy',
          status: 'True',
          reason: 'AgentHeartbeat',
          message: 'x',
          lastTransitionTime: '2026-01-01T11:00:00.500Z',
          observedGeneration: 0,
        },
      ],
      capacity: {
        nodeCount: 3,
        readyNodeCount: 2,
        allocatable: { cpu: '192', memory: '2Ti', 'nvidia.com/gpu': '16', 'amd.com/gpu': '4' },
        free: { cpu: '95500m', memory: '1Ti', 'nvidia.com/gpu': '9' },
        observedAt: '2026-01-01T11:59:59.750Z',
      },
    });
    const { apply } = profileStatusFor(r, undefined, S, NOW);
    expect(apply.status.version).toEqual({ kubernetes: 'v1.34.1' });
    expect(condition(apply.status, 'ControlPlaneHealthy')).toMatchObject({
      status: 'True',
      reason: 'AgentHeartbeat',
      lastTransitionTime: '2026-01-01T11:00:00Z',
    });
    expect(condition(apply.status, 'Joined')).toMatchObject({ status: 'True' });
    const props = Object.fromEntries(apply.status.properties.map((p) => [p.name, p]));
    expect(props[PROPERTY.nodeCount]).toEqual({
      name: PROPERTY.nodeCount,
      value: '3',
      lastObservedTime: '2026-01-01T11:59:59Z',
    });
    expect(props[PROPERTY.readyNodeCount]!.value).toBe('2');
    expect(props[PROPERTY.gpuAllocatable]!.value).toBe('20');
    expect(props[PROPERTY.gpuFree]!.value).toBe('9');
    expect(props[PROPERTY.cpuFree]!.value).toBe('95500m');
    expect(props[PROPERTY.memoryAllocatable]!.value).toBe('2Ti');
    expect(props[PROPERTY.agentState]!.value).toBe('Connected');
  });

  it('turns ControlPlaneHealthy False once the heartbeat is older than workerLostTimeout', () => {
    const heartbeat = new Date(NOW.getTime() - 61_000);
    const stale = conditionsFor(
      row({ agentState: 'Connected', lastHeartbeatAt: heartbeat }),
      undefined,
      S,
      NOW,
    );
    expect(stale.find((c) => c.type === 'ControlPlaneHealthy')).toMatchObject({
      status: 'False',
      reason: 'AgentSilent',
      lastTransitionTime: '2026-01-01T11:59:59Z',
    });
    const lost = conditionsFor(
      row({
        agentState: 'Lost',
        lastHeartbeatAt: heartbeat,
        conditions: [
          {
            type: 'ControlPlaneHealthy',
            status: 'False',
            reason: 'AgentSilent',
            message: '',
            lastTransitionTime: '2026-01-01T11:59:59.900Z',
            observedGeneration: 0,
          },
        ],
      }),
      undefined,
      S,
      NOW,
    );
    expect(lost.find((c) => c.type === 'ControlPlaneHealthy')).toMatchObject({
      status: 'False',
      reason: 'AgentSilent',
    });
    expect(lost.find((c) => c.type === 'Joined')).toMatchObject({ status: 'True' });
  });

  it('keeps a transition time while the status stays, and moves it when the status changes', () => {
    const connected = row({
      agentState: 'Connected',
      lastHeartbeatAt: new Date(NOW.getTime() - 10),
    });
    const before = published(connected);
    const editedTime = { ...before, status: { ...before.status } };
    editedTime.status.conditions = before.status!.conditions!.map((c) => ({
      ...c,
      lastTransitionTime: '2025-06-01T00:00:00Z',
    }));
    const again = profileStatusFor(connected, editedTime, S, NOW).apply.status;
    expect(condition(again, 'ControlPlaneHealthy')!.lastTransitionTime).toBe(
      '2025-06-01T00:00:00Z',
    );
    const lost = row({
      ...connected,
      agentState: 'Lost',
      lastHeartbeatAt: new Date(NOW.getTime() - 70_000),
    });
    const after = profileStatusFor(lost, editedTime, S, NOW).apply.status;
    expect(condition(after, 'ControlPlaneHealthy')!.lastTransitionTime).toBe(
      '2026-01-01T11:59:50Z',
    );
  });

  it('is deterministic: a published status compares equal to the next computation', () => {
    const r = row({
      agentState: 'Connected',
      lastHeartbeatAt: new Date(NOW.getTime() - 10),
      kubernetesVersion: 'v1.34.1',
    });
    const p = published(r);
    const next = profileStatusFor(r, p, S, new Date(NOW.getTime() + 5000)).apply.status;
    expect(canonical(next)).toBe(canonical(p.status));
    expect(statusDifference(next, p.status)).toBe('none');
  });

  it('leaves non-object extensions out, with a warning naming the field', () => {
    const r = row();
    r.accessProviders[0]!.cluster.extensions = [
      { name: 'client.authentication.k8s.io/exec', extension: { audience: 'x' } },
      { name: 'odd', extension: ['a'] },
    ];
    const { apply, warnings } = profileStatusFor(r, undefined, S, NOW);
    expect(apply.status.accessProviders![0]!.cluster.extensions).toEqual([
      { name: 'client.authentication.k8s.io/exec', extension: { audience: 'x' } },
    ]);
    expect(warnings).toEqual([
      {
        field: 'access_providers[0].cluster.extensions[1]',
        reason: expect.stringMatching(/object/),
      },
    ]);
  });
});

describe('statusDifference', () => {
  const r = row({
    agentState: 'Connected',
    lastHeartbeatAt: new Date(NOW.getTime() - 10),
    capacity: {
      nodeCount: 1,
      readyNodeCount: 1,
      allocatable: { cpu: '8' },
      free: { cpu: '8' },
      observedAt: '2026-01-01T11:00:00Z',
    },
  });
  const p = published(r);

  it('tells capacity-only changes from the rest', () => {
    const moreFree = row({
      ...r,
      capacity: { ...r.capacity!, free: { cpu: '4' }, observedAt: '2026-01-01T11:30:00Z' },
    });
    expect(statusDifference(profileStatusFor(moreFree, p, S, NOW).apply.status, p.status)).toBe(
      'capacity',
    );
    const cordoned = row({ ...r, cordoned: true });
    expect(statusDifference(profileStatusFor(cordoned, p, S, NOW).apply.status, p.status)).toBe(
      'other',
    );
  });

  it('sees a hand edit of the published status', () => {
    const desired = profileStatusFor(r, p, S, NOW).apply.status;
    expect(statusDifference(desired, { ...p.status, version: { kubernetes: 'hacked' } })).toBe(
      'other',
    );
    const healthy = p.status!.conditions!.map((c) => ({ ...c, status: 'False' as const }));
    expect(statusDifference(desired, { ...p.status, conditions: healthy })).toBe('other');
    expect(statusDifference(desired, undefined)).toBe('other');
  });
});

describe('objectDiffers and foreignManager', () => {
  it('notices changed spec and labels, and labels Muster applied but no longer wants', () => {
    const r = row();
    const p = published(r);
    expect(objectDiffers(profileObjectFor(r, S), p)).toBe(false);
    expect(objectDiffers(profileObjectFor(row({ displayName: 'New' }), S), p)).toBe(true);
    p.metadata.managedFields = [
      {
        manager: 'muster-hub',
        operation: 'Apply',
        fieldsV1: {
          'f:metadata': {
            'f:labels': { 'f:region': {}, 'f:multicluster.x-k8s.io/clusterset': {} },
          },
        },
      },
    ];
    expect(objectDiffers(profileObjectFor(row({ clusterSet: '' }), S), p)).toBe(true);
    // A label someone else added is theirs: no difference.
    p.metadata.labels = { ...p.metadata.labels, 'argocd.argoproj.io/x': 'y' };
    expect(objectDiffers(profileObjectFor(r, S), p)).toBe(false);
  });

  it("names the manager of an object that is not Muster's", () => {
    expect(foreignManager(undefined)).toBeUndefined();
    expect(foreignManager(published(row()))).toBeUndefined();
    const other = published(row());
    other.spec.clusterManager.name = 'ocm';
    expect(foreignManager(other)).toBe('ocm');
  });
});
