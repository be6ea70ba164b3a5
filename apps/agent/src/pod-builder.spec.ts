import { OnClusterLost, type Dispatch } from '@muster/api';
import { planGang } from './pod-builder';

const GANG = '3f2a9c1e-7b4d-4e8f-9a01-23456789abcd';

function template(extra: Record<string, unknown> = {}, metadata?: Record<string, unknown>): string {
  return JSON.stringify({
    ...(metadata ? { metadata } : {}),
    spec: {
      containers: [{ name: 'main', image: 'train:1', resources: { requests: { cpu: '1' } } }],
      ...extra,
    },
  });
}

function dispatch(over: Partial<Dispatch> = {}): Dispatch {
  return {
    gangId: GANG,
    jobId: 'job-1',
    fencingToken: 4,
    namespace: 'ml',
    onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
    labels: { 'muster.dev/queue': 'research' },
    resourceClaimTemplates: [],
    podSets: [
      {
        name: 'workers',
        podTemplateJson: template(),
        members: [
          { index: 0, nodeName: 'n1' },
          { index: 1, nodeName: 'n2' },
        ],
        domainLevel: '',
        domainValue: '',
      },
      {
        name: 'launcher',
        podTemplateJson: template(),
        members: [{ index: 0, nodeName: '' }],
        domainLevel: 'cloud.provider.com/topology-rack',
        domainValue: 'rack-7',
      },
    ],
    ...over,
  };
}

function plan(d: Dispatch) {
  const r = planGang(d);
  if (!r.ok) throw new Error(r.error.message);
  return r.plan;
}

describe('planGang', () => {
  it('builds one gated, labelled, pinned pod per member', () => {
    const p = plan(dispatch());
    expect(p).toMatchObject({ gangId: GANG, token: 4, namespace: 'ml', onClusterLost: 'requeue' });
    expect(p.members.map((m) => m.name)).toEqual([
      'm-3f2a9c1e7b4d-4-workers-0',
      'm-3f2a9c1e7b4d-4-workers-1',
      'm-3f2a9c1e7b4d-4-launcher-0',
    ]);
    const w1 = p.members[1]!.body;
    expect(w1.metadata).toEqual({
      name: 'm-3f2a9c1e7b4d-4-workers-1',
      namespace: 'ml',
      labels: {
        'muster.dev/queue': 'research',
        'muster.dev/gang-id': GANG,
        'muster.dev/job-id': 'job-1',
        'muster.dev/fencing-token': '4',
        'muster.dev/pod-set': 'workers',
        'muster.dev/member-index': '1',
      },
      annotations: { 'muster.dev/on-cluster-lost': 'requeue', 'muster.dev/gang-size': '3' },
    });
    expect(w1.spec.schedulingGates).toEqual([{ name: 'muster.dev/gang' }]);
    expect(w1.spec.nodeName).toBeUndefined();
    expect(w1.spec.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] },
          ],
        },
      },
    });
    const launcher = p.members[2]!.body;
    expect(launcher.spec.nodeSelector).toEqual({ 'cloud.provider.com/topology-rack': 'rack-7' });
    expect(launcher.spec.affinity).toBeUndefined();
  });

  it('records the fence terms the hub told on every member, and only those', () => {
    const sneaky = dispatch({
      podSets: [
        {
          name: 'w',
          podTemplateJson: JSON.stringify({
            metadata: { annotations: { 'muster.dev/self-fence-timeout-ms': '999999999' } },
            spec: { containers: [{ name: 'c', image: 'i' }] },
          }),
          members: [{ index: 0, nodeName: 'n1' }],
          domainLevel: '',
          domainValue: '',
        },
      ],
    });
    const told = planGang(sneaky, {
      fenceTerms: { selfFenceTimeoutMs: 40_000, deleteGraceSeconds: 10 },
    });
    if (!told.ok) throw new Error(told.error.message);
    expect(told.plan.members[0]!.body.metadata.annotations).toMatchObject({
      'muster.dev/self-fence-timeout-ms': '40000',
      'muster.dev/fence-delete-grace-s': '10',
    });
    const none = plan(sneaky).members[0]!.body.metadata.annotations;
    expect(none['muster.dev/self-fence-timeout-ms']).toBeUndefined();
    expect(none['muster.dev/fence-delete-grace-s']).toBeUndefined();
  });

  it('keeps the template, ANDs the node pin into its own affinity terms and drops nodeName', () => {
    const p = plan(
      dispatch({
        podSets: [
          {
            name: 'w',
            podTemplateJson: template(
              {
                nodeName: 'sneaky',
                nodeSelector: { pool: 'a100' },
                schedulingGates: [{ name: 'other.io/gate' }, { name: 'muster.dev/gang' }],
                affinity: {
                  podAntiAffinity: { x: 1 },
                  nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                      nodeSelectorTerms: [
                        { matchExpressions: [{ key: 'a', operator: 'Exists' }] },
                        { matchExpressions: [{ key: 'b', operator: 'Exists' }] },
                      ],
                    },
                  },
                },
              },
              {
                name: 'ignored',
                labels: { team: 'x', 'muster.dev/gang-id': 'forged' },
                annotations: { note: 'y' },
              },
            ),
            members: [{ index: 0, nodeName: 'n9' }],
            domainLevel: 'topology.kubernetes.io/zone',
            domainValue: 'z1',
          },
        ],
      }),
    );
    const body = p.members[0]!.body;
    expect(body.metadata.name).toBe('m-3f2a9c1e7b4d-4-w-0');
    expect(body.metadata.labels.team).toBe('x');
    expect(body.metadata.labels['muster.dev/gang-id']).toBe(GANG);
    expect(body.metadata.annotations.note).toBe('y');
    expect(body.spec.nodeName).toBeUndefined();
    expect(body.spec.nodeSelector).toEqual({ pool: 'a100', 'topology.kubernetes.io/zone': 'z1' });
    expect(body.spec.schedulingGates).toEqual([
      { name: 'other.io/gate' },
      { name: 'muster.dev/gang' },
    ]);
    const pin = { key: 'metadata.name', operator: 'In', values: ['n9'] };
    expect(body.spec.affinity).toEqual({
      podAntiAffinity: { x: 1 },
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'a', operator: 'Exists' }], matchFields: [pin] },
            { matchExpressions: [{ key: 'b', operator: 'Exists' }], matchFields: [pin] },
          ],
        },
      },
    });
  });

  it('gives every member its own copy of the template', () => {
    const p = plan(dispatch());
    expect(p.members[0]!.body.spec).not.toBe(p.members[1]!.body.spec);
    expect(p.members[0]!.body.spec.containers).not.toBe(p.members[1]!.body.spec.containers);
  });

  it('defaults the namespace and the policy', () => {
    const p = plan(
      dispatch({ namespace: '', onClusterLost: OnClusterLost.ON_CLUSTER_LOST_UNSPECIFIED }),
    );
    expect(p.namespace).toBe('default');
    expect(p.onClusterLost).toBe('wait');
    expect(p.members[0]!.body.metadata.annotations['muster.dev/on-cluster-lost']).toBe('wait');
  });

  it('leaves API-server validation to the API server', () => {
    const d = dispatch();
    d.podSets[0]!.podTemplateJson = template({ containers: [{ name: 'Bad_Name', image: '' }] });
    expect(planGang(d).ok).toBe(true);
  });

  it.each<[string, (d: Dispatch) => void, string, string]>([
    ['no gang id', (d) => (d.gangId = ''), 'InvalidDispatch', 'gang_id'],
    [
      'a gang id unfit for a label',
      (d) => (d.gangId = 'x'.repeat(64)),
      'InvalidDispatch',
      'gang_id',
    ],
    ['a negative token', (d) => (d.fencingToken = -1), 'InvalidDispatch', 'fencing_token'],
    ['a bad namespace', (d) => (d.namespace = 'ML'), 'InvalidDispatch', 'namespace'],
    ['a bad label key', (d) => (d.labels = { 'bad key': 'v' }), 'InvalidDispatch', 'labels'],
    ['no pod sets', (d) => (d.podSets = []), 'InvalidDispatch', 'pod_sets'],
    ['duplicate pod sets', (d) => (d.podSets[1]!.name = 'workers'), 'InvalidDispatch', 'duplicate'],
    ['no members', (d) => (d.podSets[0]!.members = []), 'InvalidDispatch', 'members'],
    [
      'duplicate indexes',
      (d) => (d.podSets[0]!.members[1]!.index = 0),
      'InvalidDispatch',
      'duplicate index',
    ],
    ['half a domain', (d) => (d.podSets[1]!.domainValue = ''), 'InvalidDispatch', 'domain'],
    [
      'template not JSON',
      (d) => (d.podSets[1]!.podTemplateJson = '{'),
      'InvalidTemplate',
      'pod_sets[1]',
    ],
    [
      'template without spec',
      (d) => (d.podSets[0]!.podTemplateJson = '{}'),
      'InvalidTemplate',
      'spec',
    ],
    [
      'a claim template name unfit for a name',
      (d) => (d.resourceClaimTemplates = [{ name: 'GPU', specJson: '{}' }]),
      'InvalidDispatch',
      'resource_claim_templates[0].name',
    ],
    [
      'duplicate claim templates',
      (d) =>
        (d.resourceClaimTemplates = [
          { name: 'gpu', specJson: '{}' },
          { name: 'gpu', specJson: '{}' },
        ]),
      'InvalidDispatch',
      'duplicate claim template "gpu"',
    ],
    [
      'a claim template spec that is not JSON',
      (d) => (d.resourceClaimTemplates = [{ name: 'gpu', specJson: '{' }]),
      'InvalidTemplate',
      'resource_claim_templates[0].spec_json: not JSON',
    ],
  ])('refuses %s', (_, change, reason, message) => {
    const d = dispatch();
    change(d);
    const r = planGang(d);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.reason).toBe(reason);
      expect(r.error.message).toContain(message);
    }
  });

  describe('ResourceClaimTemplates', () => {
    const SPEC = { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu' } }] } };
    const claimTemplate = (resourceClaims: unknown[]) =>
      template({ resourceClaims }, { labels: { app: 'train' } });

    it("copies the dispatch's templates per gang and token and renames them in every member", () => {
      const d = dispatch({
        resourceClaimTemplates: [
          { name: 'gpu', specJson: JSON.stringify(SPEC) },
          { name: 'unused', specJson: '{}' },
        ],
      });
      d.podSets[0]!.podTemplateJson = claimTemplate([
        { name: 'g', resourceClaimTemplateName: 'gpu' },
        { name: 'shared', resourceClaimName: 'someone-elses-claim' },
      ]);
      const p = plan(d);
      expect(p.claimTemplates.map((t) => t.metadata.name)).toEqual([
        'm-3f2a9c1e7b4d-4-gpu',
        'm-3f2a9c1e7b4d-4-unused',
      ]);
      expect(p.claimTemplates[0]).toEqual({
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceClaimTemplate',
        metadata: {
          name: 'm-3f2a9c1e7b4d-4-gpu',
          namespace: 'ml',
          labels: {
            'muster.dev/queue': 'research',
            'muster.dev/gang-id': GANG,
            'muster.dev/job-id': 'job-1',
            'muster.dev/fencing-token': '4',
          },
          annotations: { 'muster.dev/claim-template': 'gpu' },
        },
        spec: {
          metadata: {
            labels: {
              'muster.dev/queue': 'research',
              'muster.dev/gang-id': GANG,
              'muster.dev/job-id': 'job-1',
              'muster.dev/fencing-token': '4',
            },
          },
          spec: SPEC,
        },
      });
      for (const m of p.members.filter((x) => x.podSet === 'workers')) {
        expect(m.body.spec.resourceClaims).toEqual([
          { name: 'g', resourceClaimTemplateName: 'm-3f2a9c1e7b4d-4-gpu' },
          { name: 'shared', resourceClaimName: 'someone-elses-claim' },
        ]);
      }
      // The dispatch itself is left alone (a retried dispatch plans the same again).
      expect(d.podSets[0]!.podTemplateJson).toContain('"resourceClaimTemplateName":"gpu"');
    });

    it('refuses a template name the dispatch does not carry, building nothing', () => {
      const d = dispatch({ resourceClaimTemplates: [{ name: 'gpu', specJson: '{}' }] });
      d.podSets[1]!.podTemplateJson = claimTemplate([
        { name: 'g', resourceClaimTemplateName: 'tpu' },
      ]);
      expect(planGang(d)).toEqual({
        ok: false,
        error: {
          reason: 'InvalidTemplate',
          message:
            'pod_sets[1].pod_template_json: spec.resourceClaims[0].resourceClaimTemplateName "tpu" ' +
            'names no resource_claim_templates entry of the dispatch (it carries "gpu")',
        },
      });
      d.resourceClaimTemplates = [];
      const r = planGang(d);
      expect(!r.ok && r.error.message).toContain('(it carries none)');
    });

    it('has no templates when the dispatch carries none', () => {
      expect(plan(dispatch()).claimTemplates).toEqual([]);
    });
  });
});
