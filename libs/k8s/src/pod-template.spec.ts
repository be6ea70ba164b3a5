import { checkPodTemplate, requiredNodeAffinityOf } from './pod-template';

const template = (spec: Record<string, unknown>) => ({
  spec: { containers: [{ name: 'main', image: 'busybox' }], ...spec },
});
const container = (resources: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: `c${Math.random().toString(36).slice(2, 8)}`,
  image: 'busybox',
  resources,
  ...extra,
});

function requests(spec: Record<string, unknown>): Record<string, string> {
  const r = checkPodTemplate(template(spec));
  if (!r.ok) throw new Error(`${r.violation.field}: ${r.violation.message}`);
  return r.value.requests;
}

function violation(spec: Record<string, unknown>): { field: string; message: string } {
  const r = checkPodTemplate(template(spec));
  if (r.ok) throw new Error('expected a violation');
  return r.violation;
}

describe('checkPodTemplate requests (as the kube-scheduler counts them)', () => {
  it('gives every member one pod slot, even without requests', () => {
    expect(requests({})).toEqual({ pods: '1' });
    expect(requests({ containers: [container({ requests: { cpu: '100m' } })] })).toEqual({
      cpu: '100m',
      pods: '1',
    });
  });

  it('counts sidecars beside the main containers and pod-level requests over containers', () => {
    expect(
      requests({
        containers: [container({ requests: { cpu: '1' } })],
        initContainers: [
          container({ requests: { cpu: '1' } }, { restartPolicy: 'Always' }),
          container({ requests: { cpu: '2' } }),
        ],
      }),
    ).toEqual({ cpu: '3', pods: '1' });
    expect(
      requests({
        containers: [container({ requests: { cpu: '1', memory: '1Gi' } })],
        resources: { requests: { cpu: '4' } },
        overhead: { cpu: '100m' },
      }),
    ).toEqual({ cpu: '4100m', memory: '1Gi', pods: '1' });
  });

  it('refuses what the worker would refuse, naming the field, so stored requests always parse', () => {
    expect(
      violation({ containers: [container({ requests: { 'nvidia.com/gpu': '500m' } })] }),
    ).toEqual({
      field: 'spec.containers[0].resources.requests.nvidia.com/gpu',
      message: 'extended resource nvidia.com/gpu must be a whole number, got "500m"',
    });
    expect(violation({ containers: [container({ limits: { pods: '2' } })] })).toEqual({
      field: 'spec.containers[0].resources.limits.pods',
      message: 'is not a container resource; every member takes one pod slot',
    });
    expect(violation({ resources: { requests: { 'nvidia.com/gpu': '1' } } })).toEqual({
      field: 'spec.resources.requests.nvidia.com/gpu',
      message: 'pod-level resources may set only cpu and memory',
    });
  });
});

describe('required node affinity', () => {
  const affinity = (required: unknown) => ({
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required } },
  });

  it('is read for placement', () => {
    const required = {
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
    };
    expect(checkPodTemplate(template(affinity(required))).ok).toBe(true);
    expect(requiredNodeAffinityOf(template(affinity(required)).spec)).toEqual(required);
    expect(requiredNodeAffinityOf(template({}).spec)).toBeUndefined();
  });

  it.each([
    [{}, '.nodeSelectorTerms', 'node affinity needs a list of terms'],
    [
      { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Near' }] }] },
      '.nodeSelectorTerms[0].matchExpressions[0].operator',
      'unknown operator Near',
    ],
    [
      { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In' }] }] },
      '.nodeSelectorTerms[0].matchExpressions[0].values',
      'In needs at least one value',
    ],
    [
      { nodeSelectorTerms: [{ matchExpressions: [{ key: 'n', operator: 'Gt', values: ['x'] }] }] },
      '.nodeSelectorTerms[0].matchExpressions[0].values',
      'Gt needs exactly one integer value',
    ],
    [
      {
        nodeSelectorTerms: [
          { matchFields: [{ key: 'metadata.labels', operator: 'In', values: ['a'] }] },
        ],
      },
      '.nodeSelectorTerms[0].matchFields[0]',
      'matchFields supports only metadata.name with In or NotIn',
    ],
  ])('refuses %j, naming the field', (required, field, message) => {
    expect(violation(affinity(required))).toEqual({
      field: `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution${field}`,
      message,
    });
  });
});
