import { Writable } from 'node:stream';
import type { ClusterProfile } from '@muster/k8s';
import { createLog } from '@muster/log';
import type { ClusterEntity } from '../inventory/cluster.entity';
import { IMPORTED_FROM_LABEL, type ImportedChanges } from './cluster-profile.import';
import {
  canonical,
  type ClusterProfileApply,
  type ClusterProfileStatusApply,
} from './cluster-profile.publish';
import type { ClusterProfileStore, ClusterRowStore, ProfileWatch } from './cluster-profile.store';
import { ClusterProfileSync, type SyncSettings } from './cluster-profile.sync';

/** ClusterProfiles in memory; the watch cache is the store itself. */
class FakeStore implements ClusterProfileStore {
  readonly objects = new Map<string, ClusterProfile>();
  readonly writes: string[] = [];
  problemText: string | undefined;
  /** Status fields the fake keeps despite an apply (like fields another manager owns). */
  stubbornVersion: string | undefined;
  /** Whether replaceStatus removes the stubborn field (a merge patch does on a real server). */
  replaceFixes = true;
  private rv = 1;

  private key(ns: string, name: string) {
    return `${ns}/${name}`;
  }

  async problem(): Promise<string | undefined> {
    return this.problemText;
  }

  async ensureNamespace(): Promise<void> {}

  watch(namespace: string): ProfileWatch {
    const inNs = () => [...this.objects.values()].filter((o) => o.metadata.namespace === namespace);
    return {
      synced: true,
      list: inNs,
      get: (name) => this.objects.get(this.key(namespace, name)),
      observe: () => undefined,
      stop: async () => undefined,
    };
  }

  put(p: ClusterProfile): void {
    p.metadata.resourceVersion = String(++this.rv);
    p.metadata.uid ??= `uid-${p.metadata.name}`;
    this.objects.set(this.key(p.metadata.namespace ?? '', p.metadata.name), p);
  }

  async apply(o: ClusterProfileApply): Promise<ClusterProfile> {
    this.writes.push(`apply ${o.metadata.name}`);
    const k = this.key(o.metadata.namespace, o.metadata.name);
    const old = this.objects.get(k);
    const next: ClusterProfile = {
      ...(old ?? {}),
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: { ...(old?.metadata ?? {}), ...o.metadata, generation: 1 },
      spec: o.spec,
    };
    if (!old || canonical(old) !== canonical(next)) this.put(next);
    return this.objects.get(k)!;
  }

  async applyStatus(s: ClusterProfileStatusApply): Promise<ClusterProfile> {
    this.writes.push(`status ${s.metadata.name}`);
    const k = this.key(s.metadata.namespace, s.metadata.name);
    const old = this.objects.get(k)!;
    const status = structuredClone(s.status);
    if (this.stubbornVersion) status.version = { kubernetes: this.stubbornVersion };
    if (canonical(old.status) !== canonical(status)) this.put({ ...old, status });
    return this.objects.get(k)!;
  }

  async replaceStatus(s: ClusterProfileStatusApply): Promise<ClusterProfile> {
    this.writes.push(`replace ${s.metadata.name}`);
    if (this.replaceFixes) this.stubbornVersion = undefined;
    return this.applyStatus(s).finally(() => this.writes.pop());
  }

  async delete(namespace: string, name: string): Promise<void> {
    this.writes.push(`delete ${name}`);
    this.objects.delete(this.key(namespace, name));
  }
}

class FakeRows implements ClusterRowStore {
  readonly rows = new Map<string, ClusterEntity>();
  registeredLate = new Set<string>();

  async list(): Promise<ClusterEntity[]> {
    return [...this.rows.values()].map((r) => structuredClone(r));
  }
  async isRegistered(name: string): Promise<boolean> {
    return this.registeredLate.has(name) || this.rows.get(name)?.readOnly === false;
  }
  async insertImported(row: ClusterEntity): Promise<boolean> {
    if (this.rows.has(row.name)) return false;
    this.rows.set(row.name, structuredClone(row));
    return true;
  }
  async updateImported(name: string, changes: ImportedChanges): Promise<boolean> {
    const r = this.rows.get(name);
    if (!r?.readOnly) return false;
    Object.assign(r, structuredClone(changes));
    return true;
  }
  async deleteImported(name: string, namespace: string): Promise<boolean> {
    const r = this.rows.get(name);
    if (!r?.readOnly || r.agentState !== 'NeverConnected') return false;
    if (r.labels[IMPORTED_FROM_LABEL] !== namespace) return false;
    return this.rows.delete(name);
  }
}

const T0 = new Date('2026-01-01T12:00:00Z');

function cluster(name: string, overrides: Partial<ClusterEntity> = {}): ClusterEntity {
  return {
    name,
    displayName: name,
    clusterManager: 'muster',
    clusterSet: '',
    labels: {},
    topologyLevels: ['kubernetes.io/hostname'],
    accessProviders: [],
    conditions: [],
    properties: [],
    kubernetesVersion: '',
    capacity: null,
    agentState: 'NeverConnected',
    agentVersion: '',
    lastHeartbeatAt: null,
    cordoned: false,
    readOnly: false,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function foreignProfile(
  ns: string,
  name: string,
  server = 'https://10.9.9.9:6443',
): ClusterProfile {
  return {
    apiVersion: 'multicluster.x-k8s.io/v1alpha1',
    kind: 'ClusterProfile',
    metadata: { name, namespace: ns, labels: { 'x-k8s.io/cluster-manager': 'ocm' } },
    spec: { clusterManager: { name: 'ocm' } },
    status: { accessProviders: [{ name: 'ocm', cluster: { server } }] },
  };
}

function setup(settings: Partial<SyncSettings> = {}) {
  const store = new FakeStore();
  const rows = new FakeRows();
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  let now = T0;
  const sync = new ClusterProfileSync(
    store,
    rows,
    {
      namespace: 'inv',
      importNamespaces: [],
      lostTimeoutMs: 5000,
      pollMs: 60_000,
      capacityIntervalMs: 10_000,
      ...settings,
    },
    createLog({ level: 'debug', destination: out }).child({ component: 'cluster-profiles' }),
    () => now,
  );
  const pass = async () => {
    sync.request(false);
    await sync.idle();
  };
  return {
    store,
    rows,
    lines,
    sync,
    pass,
    advance: (ms: number) => (now = new Date(now.getTime() + ms)),
  };
}

describe('ClusterProfileSync producer', () => {
  it('publishes every Muster cluster once and then writes nothing while nothing changes', async () => {
    const t = setup();
    t.rows.rows.set('a', cluster('a'));
    t.rows.rows.set('b', cluster('b'));
    t.rows.rows.set('imported', cluster('imported', { readOnly: true, clusterManager: 'ocm' }));
    await t.pass();
    expect(t.store.writes.sort()).toEqual(['apply a', 'apply b', 'status a', 'status b']);
    expect([...t.store.objects.keys()].sort()).toEqual(['inv/a', 'inv/b']);
    t.store.writes.length = 0;
    await t.pass();
    await t.pass();
    expect(t.store.writes).toEqual([]);
    await t.sync.stop();
  });

  it('reverts a hand edit and rewrites on a state change', async () => {
    const t = setup();
    t.rows.rows.set('a', cluster('a'));
    await t.pass();
    const obj = t.store.objects.get('inv/a')!;
    t.store.put({ ...obj, status: { ...obj.status, conditions: [] } });
    t.store.writes.length = 0;
    await t.pass();
    expect(t.store.writes).toEqual(['status a']);
    expect(t.store.objects.get('inv/a')!.status!.conditions).toHaveLength(2);

    t.rows.rows.get('a')!.agentState = 'Connected';
    t.rows.rows.get('a')!.lastHeartbeatAt = T0;
    t.store.writes.length = 0;
    await t.pass();
    expect(t.store.writes).toEqual(['status a']);
    const healthy = t.store.objects
      .get('inv/a')!
      .status!.conditions!.find((c) => c.type === 'ControlPlaneHealthy');
    expect(healthy!.status).toBe('True');
  });

  it('rate-limits capacity-only changes per cluster', async () => {
    const t = setup();
    const capacity = (free: string) => ({
      nodeCount: 1,
      readyNodeCount: 1,
      allocatable: { cpu: '8' },
      free: { cpu: free },
      observedAt: T0.toISOString(),
    });
    t.rows.rows.set('a', cluster('a', { capacity: capacity('8') }));
    await t.pass();
    t.store.writes.length = 0;
    t.rows.rows.get('a')!.capacity = capacity('4');
    t.advance(1000);
    await t.pass();
    expect(t.store.writes).toEqual([]);
    t.advance(10_000);
    await t.pass();
    expect(t.store.writes).toEqual(['status a']);
  });

  it('replaces the status once when an apply cannot remove a field, and does not loop', async () => {
    const t = setup();
    t.rows.rows.set('a', cluster('a'));
    t.store.stubbornVersion = 'v0-hand-written';
    await t.pass();
    expect(t.store.writes).toEqual(['apply a', 'status a', 'replace a']);
    expect(t.store.objects.get('inv/a')!.status!.version).toEqual({});
  });

  it('does not resend the same status to an unchanged object that still differs', async () => {
    const t = setup();
    t.rows.rows.set('a', cluster('a'));
    t.store.stubbornVersion = 'v0-hand-written';
    t.store.replaceFixes = false;
    await t.pass();
    expect(t.store.writes).toEqual(['apply a', 'status a', 'replace a']);
    t.store.writes.length = 0;
    await t.pass();
    await t.pass();
    expect(t.store.writes).toEqual([]);
    // A new edit (new resourceVersion) is answered again.
    const obj = t.store.objects.get('inv/a')!;
    t.store.put({ ...obj, status: { ...obj.status, conditions: [] } });
    await t.pass();
    expect(t.store.writes).toEqual(['status a', 'replace a']);
  });

  it('deletes the ClusterProfile of a deregistered cluster, unless it was registered meanwhile', async () => {
    const t = setup();
    t.rows.rows.set('a', cluster('a'));
    t.rows.rows.set('b', cluster('b'));
    await t.pass();
    t.rows.rows.delete('a');
    t.rows.rows.delete('b');
    t.rows.registeredLate.add('b');
    t.store.writes.length = 0;
    await t.pass();
    expect(t.store.writes).toEqual(['delete a']);
    expect(t.store.objects.has('inv/b')).toBe(true);
    expect(
      t.lines.some(
        (l) => l.msg === 'ClusterProfile deleted: cluster deregistered' && l.cluster === 'a',
      ),
    ).toBe(true);
  });

  it("never touches an object of another cluster manager that has a Muster cluster's name", async () => {
    const t = setup();
    t.store.put(foreignProfile('inv', 'a'));
    t.rows.rows.set('a', cluster('a'));
    await t.pass();
    await t.pass();
    expect(t.store.writes).toEqual([]);
    const warned = t.lines.filter(
      (l) => l.msg === 'ClusterProfile name taken by another cluster manager; not publishing',
    );
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ cluster: 'a', clusterManager: 'ocm' });
  });

  it('waits, logging once, while the CRD is missing', async () => {
    const t = setup();
    t.store.problemText = 'the ClusterProfile CRD is not installed';
    t.rows.rows.set('a', cluster('a'));
    await t.pass();
    await t.pass();
    expect(t.store.writes).toEqual([]);
    expect(t.lines.filter((l) => l.msg === 'ClusterProfiles unavailable; retrying')).toHaveLength(
      1,
    );
    t.store.problemText = undefined;
    await t.pass();
    expect(t.store.writes).toEqual(['apply a', 'status a']);
  });
});

describe('ClusterProfileSync import', () => {
  it('imports valid profiles of other managers, skips malformed ones once, and removes vanished ones', async () => {
    const t = setup({ importNamespaces: ['fleet'] });
    t.store.put(foreignProfile('fleet', 'ocm-a'));
    t.store.put(foreignProfile('fleet', 'bad.name'));
    t.store.put(foreignProfile('fleet', 'ocm-b', 'not a url'));
    t.store.put(foreignProfile('fleet', 'ocm-c'));
    await t.pass();
    await t.pass();
    expect([...t.rows.rows.keys()].sort()).toEqual(['ocm-a', 'ocm-c']);
    expect(t.rows.rows.get('ocm-a')).toMatchObject({
      readOnly: true,
      clusterManager: 'ocm',
      agentState: 'NeverConnected',
      labels: { [IMPORTED_FROM_LABEL]: 'fleet' },
    });
    const skipped = t.lines.filter((l) => l.msg === 'skipping malformed ClusterProfile');
    expect(skipped.map((l) => [l.clusterProfile, l.field])).toEqual([
      ['fleet/bad.name', 'metadata.name'],
      ['fleet/ocm-b', 'status.accessProviders[0].cluster.server'],
    ]);
    // Imported clusters are not published back.
    expect(t.store.writes).toEqual([]);

    t.rows.rows.get('ocm-c')!.agentState = 'Connected';
    t.store.objects.delete('fleet/ocm-a');
    t.store.objects.delete('fleet/ocm-c');
    await t.pass();
    expect([...t.rows.rows.keys()]).toEqual(['ocm-c']);
    expect(
      t.lines.some(
        (l) =>
          l.msg === 'removed imported cluster: its ClusterProfile is gone' && l.cluster === 'ocm-a',
      ),
    ).toBe(true);
  });

  it('removes a never-connected imported row whose ClusterProfile turns malformed', async () => {
    const t = setup({ importNamespaces: ['fleet'] });
    t.store.put(foreignProfile('fleet', 'ocm-a'));
    await t.pass();
    expect(t.rows.rows.has('ocm-a')).toBe(true);
    t.store.put(foreignProfile('fleet', 'ocm-a', 'not a url'));
    await t.pass();
    expect(t.rows.rows.has('ocm-a')).toBe(false);
    expect(
      t.lines.some((l) => l.msg === 'removed imported cluster: its ClusterProfile is malformed'),
    ).toBe(true);
    t.store.put(foreignProfile('fleet', 'ocm-a'));
    await t.pass();
    expect(t.rows.rows.has('ocm-a')).toBe(true);
  });

  it('does not import over a cluster registered in Muster', async () => {
    const t = setup({ importNamespaces: ['fleet'] });
    t.rows.rows.set('gpu', cluster('gpu'));
    t.store.put(foreignProfile('fleet', 'gpu'));
    await t.pass();
    expect(t.rows.rows.get('gpu')!.readOnly).toBe(false);
    expect(t.lines.find((l) => l.msg === 'skipping ClusterProfile')).toMatchObject({
      clusterProfile: 'fleet/gpu',
      field: 'metadata.name',
      skipped: 'name conflict',
    });
  });

  it('updates an imported row when its profile changes', async () => {
    const t = setup({ importNamespaces: ['fleet'] });
    t.store.put(foreignProfile('fleet', 'ocm-a'));
    await t.pass();
    t.store.put(foreignProfile('fleet', 'ocm-a', 'https://moved.example:6443'));
    await t.pass();
    expect(t.rows.rows.get('ocm-a')!.accessProviders[0]!.cluster.server).toBe(
      'https://moved.example:6443',
    );
  });
});
