import { Writable } from 'node:stream';
import { createLog } from '@muster/log';
import { canonical } from './cluster-profile.publish';
import type {
  PlacedGang,
  PlacementDecision,
  PlacementDecisionApply,
} from './placement-decision.publish';
import type {
  DecisionWatch,
  OwnProfiles,
  PlacedGangStore,
  PlacementDecisionStore,
} from './placement-decision.store';
import { PlacementDecisionSync } from './placement-decision.sync';

const NS = 'muster-inventory';
const A = '0b0c4a8e-1111-4222-8333-444455556666';
const B = '9f9f9f9f-aaaa-4bbb-8ccc-dddddddddddd';

/** PlacementDecisions in memory; the watch cache is the store itself. */
class FakeStore implements PlacementDecisionStore {
  readonly objects = new Map<string, PlacementDecision>();
  readonly writes: string[] = [];
  problemText: string | undefined;
  /** Status code every apply fails with, when set. */
  failApply: number | undefined;
  watches = 0;
  private rv = 1;

  async problem(): Promise<string | undefined> {
    return this.problemText;
  }

  async ensureNamespace(): Promise<void> {}

  watch(): DecisionWatch {
    this.watches++;
    return {
      synced: true,
      list: () => [...this.objects.values()].map((o) => structuredClone(o)),
      get: (name) => this.objects.get(name),
      observe: () => undefined,
      forget: () => undefined,
      stop: async () => undefined,
    };
  }

  put(o: PlacementDecision): void {
    o.metadata.resourceVersion = String(++this.rv);
    o.metadata.uid ??= `uid-${o.metadata.name}`;
    this.objects.set(o.metadata.name, o);
  }

  async apply(d: PlacementDecisionApply): Promise<PlacementDecision> {
    this.writes.push(`apply ${d.metadata.name}`);
    if (this.failApply !== undefined)
      throw Object.assign(new Error(`HTTP ${this.failApply}`), { code: this.failApply });
    const old = this.objects.get(d.metadata.name);
    const next: PlacementDecision = {
      ...structuredClone(d),
      metadata: {
        ...(old?.metadata ?? {}),
        ...structuredClone(d.metadata),
        labels: { ...old?.metadata.labels, ...d.metadata.labels },
      },
    };
    if (!old || canonical(old) !== canonical({ ...next, metadata: { ...next.metadata } }))
      this.put(next);
    return structuredClone(this.objects.get(d.metadata.name)!);
  }

  async delete(_ns: string, name: string, uid: string | undefined): Promise<void> {
    this.writes.push(`delete ${name}`);
    if (uid && this.objects.get(name)?.metadata.uid !== uid) return;
    this.objects.delete(name);
  }
}

class FakeGangs implements PlacedGangStore {
  gangs: PlacedGang[] = [];
  /** Gangs that byIds() finds though list() did not (placed meanwhile by another replica). */
  late: PlacedGang[] = [];
  async list(): Promise<PlacedGang[]> {
    return structuredClone(this.gangs);
  }
  async byIds(ids: readonly string[]): Promise<PlacedGang[]> {
    return [...this.gangs, ...this.late].filter((g) => ids.includes(g.jobId));
  }
}

class FakeProfiles implements OwnProfiles {
  own = new Set(['worker-a', 'worker-b']);
  problem: string | undefined;
  synced = true;
  async open(): Promise<string | undefined> {
    return this.problem;
  }
  names(): ReadonlySet<string> {
    return this.own;
  }
  async stop(): Promise<void> {}
}

function gang(jobId: string, cluster = 'worker-a', name = 'train'): PlacedGang {
  return {
    jobId,
    name,
    queue: 'research',
    cluster,
    reason: `placed on ${cluster}`,
    clusterReadOnly: false,
    importedFrom: undefined,
  };
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, log: createLog({ level: 'debug', destination: stream }) };
}

let store: FakeStore;
let gangs: FakeGangs;
let profiles: FakeProfiles;
let logs: Record<string, unknown>[];
let sync: PlacementDecisionSync;

function newSync(): PlacementDecisionSync {
  const c = capture();
  logs = c.lines;
  return new PlacementDecisionSync(
    store,
    gangs,
    profiles,
    { namespace: NS, pollMs: 3_600_000 },
    c.log,
  );
}

async function pass(s = sync): Promise<string[]> {
  const before = store.writes.length;
  s.request();
  await s.idle();
  return store.writes.slice(before);
}

beforeEach(() => {
  store = new FakeStore();
  gangs = new FakeGangs();
  profiles = new FakeProfiles();
  sync = newSync();
});

afterEach(async () => {
  await sync.stop();
});

describe('PlacementDecisionSync', () => {
  it('publishes a placed gang once, then writes nothing while nothing changes', async () => {
    gangs.gangs = [gang(A)];
    expect(await pass()).toEqual([`apply muster-${A}`]);
    expect(store.objects.get(`muster-${A}`)).toMatchObject({
      schedulerName: 'muster',
      decisions: [
        { clusterProfileRef: { namespace: NS, name: 'worker-a' }, reason: 'placed on worker-a' },
      ],
    });
    expect(await pass()).toEqual([]);
    expect(await pass()).toEqual([]);
    expect(logs.filter((l) => l.msg === 'PlacementDecision created')).toHaveLength(1);
  });

  it('reverts a hand edit, rewrites a moved gang and deletes an ended one', async () => {
    gangs.gangs = [gang(A), gang(B)];
    await pass();
    const edited = structuredClone(store.objects.get(`muster-${A}`)!);
    edited.decisions = [{ clusterProfileRef: { name: 'somewhere-else' }, reason: 'by hand' }];
    store.put(edited);
    expect(await pass()).toEqual([`apply muster-${A}`]);
    expect(
      logs.filter((l) => l.msg === 'PlacementDecision reverted to what Muster decided'),
    ).toHaveLength(1);
    expect(store.objects.get(`muster-${A}`)!.decisions).toEqual([
      { clusterProfileRef: { namespace: NS, name: 'worker-a' }, reason: 'placed on worker-a' },
    ]);

    gangs.gangs = [gang(A, 'worker-b')];
    expect((await pass()).sort()).toEqual([`apply muster-${A}`, `delete muster-${B}`]);
    expect(store.objects.get(`muster-${A}`)!.decisions![0]!.clusterProfileRef.name).toBe(
      'worker-b',
    );
    expect(store.objects.has(`muster-${B}`)).toBe(false);
    expect(logs.find((l) => l.msg === 'PlacementDecision moved')).toMatchObject({
      jobId: A,
      cluster: 'worker-b',
      from: 'worker-a',
    });

    gangs.gangs = [];
    expect(await pass()).toEqual([`delete muster-${A}`]);
    expect(store.objects.size).toBe(0);
  });

  it('never touches decisions of other schedulers, nor one squatting on a gang name', async () => {
    const foreign: PlacementDecision = {
      metadata: { name: 'ocm-1', namespace: NS, labels: { 'x-k8s.io/cluster-manager': 'ocm' } },
      schedulerName: 'ocm',
      decisions: [{ clusterProfileRef: { name: 'worker-a' } }],
    };
    const squatter: PlacementDecision = {
      metadata: { name: `muster-${A}`, namespace: NS },
      schedulerName: 'ocm',
      decisions: [],
    };
    store.put(foreign);
    store.put(squatter);
    gangs.gangs = [gang(A)];
    expect(await pass()).toEqual([]);
    expect(await pass()).toEqual([]);
    expect(store.objects.get('ocm-1')).toEqual(foreign);
    expect(store.objects.get(`muster-${A}`)).toEqual(squatter);
    expect(
      logs.filter(
        (l) => l.msg === 'PlacementDecision name taken by another scheduler; not publishing',
      ),
    ).toHaveLength(1);
  });

  it('keeps a decision whose gang another replica placed after this pass read the gangs', async () => {
    gangs.gangs = [gang(A)];
    const other = newSync();
    await pass(other);
    gangs.gangs = [];
    gangs.late = [gang(A)];
    expect(await pass()).toEqual([]);
    expect(store.objects.has(`muster-${A}`)).toBe(true);
    await other.stop();
  });

  it('two replicas publish the same object and do not write it again', async () => {
    gangs.gangs = [gang(A), gang(B, 'worker-b', '')];
    const other = newSync();
    await pass(other);
    const version = store.objects.get(`muster-${A}`)!.metadata.resourceVersion;
    expect(await pass()).toEqual([]);
    expect(await pass(other)).toEqual([]);
    expect(store.objects.get(`muster-${A}`)!.metadata.resourceVersion).toBe(version);
    await other.stop();
  });

  it('logs one warning naming the CRD and its file while it is missing, then publishes', async () => {
    store.problemText =
      'the PlacementDecision CRD (placementdecisions.multicluster.x-k8s.io/v1alpha1) is not installed';
    gangs.gangs = [gang(A)];
    expect(await pass()).toEqual([]);
    expect(await pass()).toEqual([]);
    const warnings = logs.filter((l) => l.msg === 'PlacementDecisions unavailable; retrying');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: 'warn',
      crd: 'placementdecisions.multicluster.x-k8s.io',
      file: 'infra/crds/placementdecisions.multicluster.x-k8s.io.yaml',
    });
    store.problemText = undefined;
    expect(await pass()).toEqual([`apply muster-${A}`]);
  });

  it('sets up again when the resource type goes away while running', async () => {
    gangs.gangs = [gang(A)];
    await pass();
    expect(store.watches).toBe(1);
    store.objects.clear();
    store.failApply = 404;
    expect(await pass()).toEqual([`apply muster-${A}`]);
    store.problemText = 'the PlacementDecision CRD is not installed';
    expect(await pass()).toEqual([]);
    expect(logs.some((l) => l.msg === 'PlacementDecisions unavailable; retrying')).toBe(true);
    store.problemText = undefined;
    store.failApply = undefined;
    expect(await pass()).toEqual([`apply muster-${A}`]);
    expect(store.watches).toBe(2);
  });

  it('writes and deletes nothing until the ClusterProfiles are known', async () => {
    store.put({
      metadata: {
        name: `muster-${B}`,
        namespace: NS,
        labels: { 'x-k8s.io/cluster-manager': 'muster' },
      },
      schedulerName: 'muster',
      decisions: [],
    });
    gangs.gangs = [gang(A)];
    profiles.problem = 'the ClusterProfile CRD is not installed';
    expect(await pass()).toEqual([]);
    profiles.problem = undefined;
    profiles.synced = false;
    expect(await pass()).toEqual([]);
    profiles.synced = true;
    expect((await pass()).sort()).toEqual([`apply muster-${A}`, `delete muster-${B}`]);
  });

  it('names no cluster without a ClusterProfile of Muster and says so once per cluster', async () => {
    gangs.gangs = [gang(A, 'worker-z'), gang(B, 'worker-z')];
    expect(await pass()).toEqual([]);
    expect(await pass()).toEqual([]);
    const w = logs.filter(
      (l) => l.msg === 'no PlacementDecision for gangs on a cluster without a ClusterProfile',
    );
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ cluster: 'worker-z', gangs: 2 });
    profiles.own.add('worker-z');
    expect((await pass()).sort()).toEqual([`apply muster-${A}`, `apply muster-${B}`]);
  });

  it('goes on after a failed write and retries it next pass', async () => {
    gangs.gangs = [gang(A)];
    store.failApply = 500;
    expect(await pass()).toEqual([`apply muster-${A}`]);
    expect(await pass()).toEqual([`apply muster-${A}`]);
    expect(logs.filter((l) => l.msg === 'PlacementDecision write failed; retrying')).toHaveLength(
      1,
    );
    store.failApply = undefined;
    expect(await pass()).toEqual([`apply muster-${A}`]);
    expect(await pass()).toEqual([]);
  });
});
