import {
  decisionDiffers,
  decisionName,
  decisionObjectFor,
  planPass,
  writeMark,
  type PassInput,
  type PlacedGang,
  type PlacementDecision,
  type PlacementDecisionApply,
} from './placement-decision.publish';

const NS = 'muster-inventory';
const JOB = '0b0c4a8e-1111-4222-8333-444455556666';
const OTHER_JOB = '9f9f9f9f-aaaa-4bbb-8ccc-dddddddddddd';
const settings = { namespace: NS };
const OWN = new Set(['worker-a', 'worker-b']);

function gang(overrides: Partial<PlacedGang> = {}): PlacedGang {
  return {
    jobId: JOB,
    name: 'train',
    queue: 'research',
    cluster: 'worker-b',
    reason: 'placed on worker-b in zone-a/rack-1',
    clusterReadOnly: false,
    importedFrom: undefined,
    ...overrides,
  };
}

function desired(g: PlacedGang = gang()): PlacementDecisionApply {
  const d = decisionObjectFor(g, settings, OWN);
  if ('missing' in d) throw new Error(d.missing);
  return d;
}

let rv = 10;
/** The object as the API server would hold it after an apply of `d`. */
function published(d: PlacementDecisionApply, extra: Partial<PlacementDecision> = {}) {
  const obj: PlacementDecision = {
    ...structuredClone(d),
    ...extra,
    metadata: {
      ...structuredClone(d.metadata),
      uid: `uid-${d.metadata.name}`,
      resourceVersion: String(++rv),
      ...extra.metadata,
    },
  };
  return obj;
}

function plan(overrides: Partial<PassInput> = {}) {
  return planPass({
    gangs: [gang()],
    observed: [],
    ownProfiles: OWN,
    lastWrite: new Map(),
    settings,
    ...overrides,
  });
}

describe('decisionObjectFor', () => {
  it('names the gang, its queue and Muster, and refers to the ClusterProfile of its cluster with the reason', () => {
    expect(desired()).toEqual({
      apiVersion: 'multicluster.x-k8s.io/v1alpha1',
      kind: 'PlacementDecision',
      metadata: {
        name: `muster-${JOB}`,
        namespace: NS,
        labels: {
          'multicluster.x-k8s.io/placement-key': JOB,
          'x-k8s.io/cluster-manager': 'muster',
          'muster.dev/queue': 'research',
        },
        annotations: { 'muster.dev/job-name': 'train' },
      },
      schedulerName: 'muster',
      decisions: [
        {
          clusterProfileRef: { namespace: NS, name: 'worker-b' },
          reason: 'placed on worker-b in zone-a/rack-1',
        },
      ],
    });
    expect(decisionName(JOB)).toBe(`muster-${JOB}`);
  });

  it('leaves out the annotation of a nameless job and an empty reason', () => {
    const d = desired(gang({ name: '', reason: '' }));
    expect(d.metadata.annotations).toBeUndefined();
    expect(d.decisions).toEqual([{ clusterProfileRef: { namespace: NS, name: 'worker-b' } }]);
  });

  it('refers an imported cluster to the ClusterProfile it was imported from', () => {
    const d = desired(gang({ cluster: 'partner-1', clusterReadOnly: true, importedFrom: 'fleet' }));
    expect(d.decisions[0]!.clusterProfileRef).toEqual({ namespace: 'fleet', name: 'partner-1' });
  });

  it('names no cluster whose ClusterProfile Muster does not publish', () => {
    expect(decisionObjectFor(gang({ cluster: 'worker-z' }), settings, OWN)).toEqual({
      missing: expect.stringContaining("no ClusterProfile of Muster's named worker-z"),
    });
    expect(decisionObjectFor(gang({ clusterReadOnly: undefined }), settings, OWN)).toEqual({
      missing: 'cluster worker-b is not in the inventory',
    });
    expect(
      decisionObjectFor(gang({ clusterReadOnly: true, importedFrom: undefined }), settings, OWN),
    ).toEqual({ missing: expect.stringContaining('names no ClusterProfile namespace') });
  });
});

describe('decisionDiffers', () => {
  it('is false for the object as applied, with labels of others and an implicit namespace', () => {
    const d = desired();
    const obj = published(d);
    obj.metadata.labels = { ...obj.metadata.labels, team: 'ml' };
    obj.decisions = [
      { clusterProfileRef: { name: 'worker-b' }, reason: 'placed on worker-b in zone-a/rack-1' },
    ];
    expect(decisionDiffers(d, obj)).toBe(false);
  });

  it.each<[string, (o: PlacementDecision) => void]>([
    ['the cluster', (o) => (o.decisions![0]!.clusterProfileRef.name = 'worker-a')],
    ['the reason', (o) => (o.decisions![0]!.reason = 'by hand')],
    ['a second decision', (o) => o.decisions!.push({ clusterProfileRef: { name: 'worker-a' } })],
    ['no decisions', (o) => (o.decisions = [])],
    ['the scheduler', (o) => (o.schedulerName = 'other')],
    ['a label of Muster', (o) => (o.metadata.labels!['muster.dev/queue'] = 'prod')],
    ['a missing label', (o) => delete o.metadata.labels!['x-k8s.io/cluster-manager']],
    ['the job name', (o) => (o.metadata.annotations = {})],
  ])('is true when %s differs', (_, edit) => {
    const d = desired();
    const obj = published(d);
    edit(obj);
    expect(decisionDiffers(d, obj)).toBe(true);
  });
});

describe('planPass', () => {
  it('creates the decision of a placed gang', () => {
    const p = plan();
    expect(p.applies).toEqual([{ object: desired(), jobId: JOB, created: true }]);
    expect(p.deletes).toEqual([]);
  });

  it('writes nothing for an unchanged decision', () => {
    const p = plan({ observed: [published(desired())] });
    expect(p.applies).toEqual([]);
    expect(p.deletes).toEqual([]);
  });

  it('rewrites the decision of a gang that moved to another cluster', () => {
    const before = published(desired(gang({ cluster: 'worker-a', reason: 'placed on worker-a' })));
    const p = plan({ observed: [before] });
    expect(p.applies).toEqual([{ object: desired(), jobId: JOB, created: false }]);
    expect(p.applies[0]!.object.decisions[0]!.clusterProfileRef.name).toBe('worker-b');
  });

  it('deletes the decision of Muster whose gang is no longer placed, and only that', () => {
    const stale = published(desired(gang({ jobId: OTHER_JOB })));
    const p = plan({ observed: [published(desired()), stale] });
    expect(p.applies).toEqual([]);
    expect(p.deletes).toEqual([
      { name: `muster-${OTHER_JOB}`, uid: `uid-muster-${OTHER_JOB}`, jobId: OTHER_JOB },
    ]);
  });

  it('deletes the decision of a gang whose cluster lost its ClusterProfile', () => {
    const obj = published(desired());
    const p = plan({ observed: [obj], ownProfiles: new Set(['worker-a']) });
    expect(p.applies).toEqual([]);
    expect(p.deletes.map((d) => d.name)).toEqual([`muster-${JOB}`]);
    expect([...p.skipped.entries()]).toEqual([
      ['worker-b', { reason: expect.stringContaining('worker-b'), jobIds: [JOB] }],
    ]);
  });

  it('never touches the decisions of other schedulers', () => {
    const foreign: PlacementDecision = {
      metadata: { name: 'ocm-placement-1', namespace: NS, uid: 'u1', labels: { app: 'x' } },
      schedulerName: 'ocm',
      decisions: [{ clusterProfileRef: { name: 'worker-a' } }],
    };
    const p = plan({ gangs: [], observed: [foreign] });
    expect(p).toMatchObject({ applies: [], deletes: [], taken: [] });
  });

  it('does not overwrite the object of another scheduler under the name of the gang', () => {
    const squatter: PlacementDecision = {
      metadata: { name: `muster-${JOB}`, namespace: NS, uid: 'u2', resourceVersion: '3' },
      schedulerName: 'ocm',
      decisions: [],
    };
    const p = plan({ observed: [squatter] });
    expect(p.applies).toEqual([]);
    expect(p.deletes).toEqual([]);
    expect(p.taken).toEqual([{ name: `muster-${JOB}`, jobId: JOB, schedulerName: 'ocm' }]);
  });

  it('takes back its own object whose label was removed by hand (schedulerName still muster)', () => {
    const obj = published(desired());
    delete obj.metadata.labels!['x-k8s.io/cluster-manager'];
    const p = plan({ observed: [obj] });
    expect(p.applies.map((a) => a.created)).toEqual([false]);
  });

  it('does not resend a write the same object version already got', () => {
    const d = desired();
    const obj = published(d, { schedulerName: 'mutated-by-a-webhook' });
    expect(plan({ observed: [obj] }).applies).toHaveLength(1);
    const lastWrite = new Map([[d.metadata.name, writeMark(obj, d)]]);
    expect(plan({ observed: [obj], lastWrite }).applies).toEqual([]);
    // A newer version (someone edited it) is written again.
    const edited = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
    expect(plan({ observed: [edited], lastWrite }).applies).toHaveLength(1);
  });

  it('leaves objects being deleted alone', () => {
    const going = published(desired(gang({ jobId: OTHER_JOB })), {
      metadata: { name: '', deletionTimestamp: '2026-01-01T00:00:00Z' },
    });
    going.metadata.name = `muster-${OTHER_JOB}`;
    const mine = published(desired(), {
      metadata: { name: '', deletionTimestamp: '2026-01-01T00:00:00Z' },
    });
    mine.metadata.name = `muster-${JOB}`;
    const p = plan({ observed: [going, mine] });
    expect(p.applies).toEqual([]);
    expect(p.deletes).toEqual([]);
  });
});
