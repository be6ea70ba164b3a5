import { OnClusterLost, TopologyMode } from '@muster/api';
import { parse, stringify } from 'yaml';
import { ManifestError } from '../errors';
import { draftFromDocument, type JobDraft, type SubmitOverrides } from './convert';

type Doc = Record<string, unknown>;

function container(extra: Doc = {}): Doc {
  return {
    name: 'main',
    image: 'registry.example/train:1',
    resources: { requests: { cpu: '2', 'nvidia.com/gpu': '1' } },
    ...extra,
  };
}

function podTemplate(annotations?: Record<string, string>): Doc {
  return {
    ...(annotations ? { metadata: { annotations } } : {}),
    spec: { restartPolicy: 'Never', containers: [container()] },
  };
}

function batchJob(spec: Doc = {}, metadata: Doc = { name: 'train' }): Doc {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: { parallelism: 4, template: podTemplate(), ...spec },
  };
}

function jobSet(replicatedJobs: unknown[], metadata: Doc = { name: 'pretrain' }): Doc {
  return {
    apiVersion: 'jobset.x-k8s.io/v1alpha2',
    kind: 'JobSet',
    metadata,
    spec: { replicatedJobs },
  };
}

function replicatedJob(name: string, replicas: number | undefined, jobSpec: Doc): Doc {
  return {
    name,
    ...(replicas === undefined ? {} : { replicas }),
    template: { spec: { template: podTemplate(), ...jobSpec } },
  };
}

function gang(spec: Doc, metadata: Doc = { name: 'finetune' }): Doc {
  return { apiVersion: 'muster.dev/v1', kind: 'Gang', metadata, spec };
}

function convert(body: unknown, overrides: SubmitOverrides = {}, source = 'job.yaml'): JobDraft {
  return draftFromDocument({ source, body }, overrides);
}

/** The message of the ManifestError thrown, so each case can assert file, path and fix. */
function failure(body: unknown, overrides: SubmitOverrides = {}, source = 'job.yaml'): string {
  try {
    convert(body, overrides, source);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).message;
  }
  throw new Error('expected the manifest to be refused');
}

describe('batch/v1 Job', () => {
  it('becomes one pod set "main" of parallelism members with the job name, namespace and queue label', () => {
    const draft = convert(
      batchJob(
        {},
        {
          name: 'resnet',
          namespace: 'ml',
          labels: { 'kueue.x-k8s.io/queue-name': 'research', team: 'vision' },
        },
      ),
    );
    expect(draft.kind).toBe('Job');
    expect(draft.spec).toMatchObject({
      name: 'resnet',
      queue: 'research',
      namespace: 'ml',
      priority: 0,
      onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
      labels: { team: 'vision' },
      podSetGroups: [],
    });
    expect(draft.spec.podSets).toHaveLength(1);
    expect(draft.spec.podSets[0]).toMatchObject({ name: 'main', count: 4, topology: undefined });
    expect(JSON.parse(draft.spec.podSets[0]!.podTemplateJson)).toEqual(podTemplate());
  });

  it('counts completions when parallelism is absent, and 1 when both are', () => {
    expect(
      convert(batchJob({ parallelism: undefined, completions: 3 })).spec.podSets[0]!.count,
    ).toBe(3);
    expect(convert(batchJob({ parallelism: undefined })).spec.podSets[0]!.count).toBe(1);
  });

  it('warns when completions differ from parallelism', () => {
    const draft = convert(batchJob({ parallelism: 2, completions: 8 }));
    expect(draft.spec.podSets[0]!.count).toBe(2);
    expect(draft.warnings).toEqual([
      'job.yaml: spec.completions: is 8 but parallelism is 2; Muster starts 2 members once each',
    ]);
  });

  it('defaults the queue to "default" and the name to generateName without its dash', () => {
    const draft = convert(batchJob({}, { generateName: 'sweep-' }));
    expect(draft.spec.name).toBe('sweep');
    expect(draft.spec.queue).toBe('default');
    expect(draft.spec.namespace).toBe('default');
  });

  it('lets flags win over the document', () => {
    const draft = convert(
      batchJob({}, { name: 'a', labels: { 'kueue.x-k8s.io/queue-name': 'research' } }),
      {
        queue: 'urgent',
        name: 'b',
        priority: 7,
        onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
      },
    );
    expect(draft.spec).toMatchObject({
      name: 'b',
      queue: 'urgent',
      priority: 7,
      onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
    });
  });

  it("reads Muster's priority and on-cluster-lost annotations", () => {
    const draft = convert(
      batchJob(
        {},
        {
          name: 'a',
          annotations: { 'muster.dev/priority': '-3', 'muster.dev/on-cluster-lost': 'Requeue' },
        },
      ),
    );
    expect(draft.spec.priority).toBe(-3);
    expect(draft.spec.onClusterLost).toBe(OnClusterLost.ON_CLUSTER_LOST_REQUEUE);
  });

  it.each([
    [
      'a word for parallelism',
      batchJob({ parallelism: 'four' }),
      'job.yaml: spec.parallelism: must be a positive integer (got "four")',
    ],
    [
      'zero parallelism',
      batchJob({ parallelism: 0 }),
      'job.yaml: spec.parallelism: must be a positive integer (got 0)',
    ],
    [
      'a fractional parallelism',
      batchJob({ parallelism: 1.5 }),
      'job.yaml: spec.parallelism: must be a positive integer (got 1.5)',
    ],
    [
      'negative completions',
      batchJob({ parallelism: undefined, completions: -1 }),
      'job.yaml: spec.completions: must be a positive integer (got -1)',
    ],
    [
      'no spec',
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'a' } },
      'job.yaml: spec: is required',
    ],
    ['no template', batchJob({ template: undefined }), 'job.yaml: spec.template: is required'],
    [
      'a template that is a list',
      batchJob({ template: [] }),
      'job.yaml: spec.template: must be a map (got a list)',
    ],
    ['no name', batchJob({}, {}), 'job.yaml: metadata.name: is required; set it or pass --name'],
    [
      'a name with capitals',
      batchJob({}, { name: 'Train_Job' }),
      'job.yaml: metadata.name: must be a DNS-1123 subdomain',
    ],
    [
      'a bad namespace',
      batchJob({}, { name: 'a', namespace: 'ML' }),
      'job.yaml: metadata.namespace: must be a DNS-1123 label',
    ],
    [
      'a bad queue label',
      batchJob({}, { name: 'a', labels: { 'kueue.x-k8s.io/queue-name': 'Research' } }),
      'job.yaml: metadata.labels["kueue.x-k8s.io/queue-name"]: must be a DNS-1123 label',
    ],
    [
      'a label value that is a number',
      batchJob({}, { name: 'a', labels: { tier: 1 } }),
      'job.yaml: metadata.labels.tier: must be a string (got 1); quote it, e.g. "1"',
    ],
    [
      'a bad label value',
      batchJob({}, { name: 'a', labels: { team: 'not ok!' } }),
      'job.yaml: metadata.labels.team: label value must consist of',
    ],
    [
      'a bad label key',
      batchJob({}, { name: 'a', labels: { 'bad key': 'x' } }),
      'job.yaml: metadata.labels["bad key"]: label key name part must consist of',
    ],
    [
      'a bad priority annotation',
      batchJob({}, { name: 'a', annotations: { 'muster.dev/priority': 'high' } }),
      'job.yaml: metadata.annotations["muster.dev/priority"]: must be an integer such as "10" (got "high")',
    ],
    [
      'a bad on-cluster-lost annotation',
      batchJob({}, { name: 'a', annotations: { 'muster.dev/on-cluster-lost': 'retry' } }),
      'job.yaml: metadata.annotations["muster.dev/on-cluster-lost"]: must be wait or requeue (got "retry")',
    ],
    [
      'a metadata that is a string',
      batchJob({}, 'train' as unknown as Doc),
      'job.yaml: metadata: must be a map (got "train")',
    ],
  ])('refuses %s, naming file and path', (_what, body, expected) => {
    expect(failure(body)).toContain(expected);
  });

  it('refuses a bad --name and --queue naming the flag', () => {
    expect(failure(batchJob(), { name: 'Bad Name' })).toContain(
      'job.yaml: --name: must be a DNS-1123 subdomain',
    );
    expect(failure(batchJob(), { queue: 'a.b' })).toContain(
      'job.yaml: --queue: must be a DNS-1123 label',
    );
  });
});

describe('pod templates are checked as the hub checks them, with paths into the file', () => {
  it.each([
    [
      'no containers',
      { spec: { containers: [] } },
      'spec.template.spec.containers: must list at least one container',
    ],
    [
      'a container without image',
      { spec: { containers: [{ name: 'main' }] } },
      'spec.template.spec.containers[0].image: is required',
    ],
    [
      'a pinned node',
      { spec: { nodeName: 'n1', containers: [container()] } },
      'spec.template.spec.nodeName: must not be set; Muster chooses the node',
    ],
    [
      'a request above its limit',
      {
        spec: {
          containers: [container({ resources: { requests: { cpu: '4' }, limits: { cpu: '2' } } })],
        },
      },
      'spec.template.spec.containers[0].resources.requests.cpu: must not exceed the limit',
    ],
    [
      'an unparsable quantity',
      { spec: { containers: [container({ resources: { requests: { memory: '12 GB' } } })] } },
      'spec.template.spec.containers[0].resources.requests.memory:',
    ],
    ['no pod spec', { metadata: {} }, 'spec.template.spec: is required'],
  ])('refuses %s', (_what, template, expected) => {
    expect(failure(batchJob({ template }))).toContain(`job.yaml: ${expected}`);
  });
});

describe('Kueue topology annotations', () => {
  it('turns podset-required-topology into a required constraint', () => {
    const draft = convert(
      batchJob({
        template: podTemplate({
          'kueue.x-k8s.io/podset-required-topology': 'cloud.provider.com/topology-rack',
        }),
      }),
    );
    expect(draft.spec.podSets[0]!.topology).toEqual({
      mode: TopologyMode.TOPOLOGY_MODE_REQUIRED,
      level: 'cloud.provider.com/topology-rack',
    });
  });

  it('turns podset-preferred-topology into a preferred constraint', () => {
    const draft = convert(
      batchJob({
        template: podTemplate({
          'kueue.x-k8s.io/podset-preferred-topology': 'cloud.provider.com/topology-block',
        }),
      }),
    );
    expect(draft.spec.podSets[0]!.topology).toEqual({
      mode: TopologyMode.TOPOLOGY_MODE_PREFERRED,
      level: 'cloud.provider.com/topology-block',
    });
  });

  it('refuses both at once, and a level that is not a label key', () => {
    expect(
      failure(
        batchJob({
          template: podTemplate({
            'kueue.x-k8s.io/podset-required-topology': 'cloud.provider.com/topology-rack',
            'kueue.x-k8s.io/podset-preferred-topology': 'cloud.provider.com/topology-block',
          }),
        }),
      ),
    ).toBe(
      'job.yaml: spec.template.metadata.annotations: set only one of kueue.x-k8s.io/podset-required-topology and kueue.x-k8s.io/podset-preferred-topology',
    );
    expect(
      failure(
        batchJob({
          template: podTemplate({ 'kueue.x-k8s.io/podset-required-topology': 'a rack!' }),
        }),
      ),
    ).toContain(
      'job.yaml: spec.template.metadata.annotations["kueue.x-k8s.io/podset-required-topology"]: name part must consist of',
    );
  });
});

describe('JobSet', () => {
  it('makes one pod set per replicated job of replicas × parallelism members', () => {
    const draft = convert(
      jobSet(
        [
          replicatedJob('driver', undefined, {}),
          replicatedJob('workers', 2, { parallelism: 4, completions: 4 }),
          replicatedJob('evaluators', 3, { completions: 2 }),
        ],
        { name: 'pretrain', labels: { 'kueue.x-k8s.io/queue-name': 'research' } },
      ),
      {},
      'jobset.yaml',
    );
    expect(draft.kind).toBe('JobSet');
    expect(draft.spec.queue).toBe('research');
    expect(draft.spec.podSets.map((p) => [p.name, p.count])).toEqual([
      ['driver', 1],
      ['workers', 8],
      ['evaluators', 6],
    ]);
  });

  it('honours topology annotations on a replicated job pod template', () => {
    const rj = replicatedJob('workers', 2, { parallelism: 2 });
    (rj.template as { spec: Doc }).spec.template = podTemplate({
      'kueue.x-k8s.io/podset-required-topology': 'cloud.provider.com/topology-rack',
    });
    expect(convert(jobSet([rj])).spec.podSets[0]!.topology?.mode).toBe(
      TopologyMode.TOPOLOGY_MODE_REQUIRED,
    );
  });

  it.each([
    [
      'no replicated jobs',
      jobSet([]),
      'jobset.yaml: spec.replicatedJobs: must list at least one item',
    ],
    [
      'a replicated job without name',
      jobSet([{ replicas: 1, template: { spec: { template: podTemplate() } } }]),
      'jobset.yaml: spec.replicatedJobs[0].name: is required',
    ],
    [
      'duplicate names',
      jobSet([replicatedJob('w', 1, {}), replicatedJob('w', 1, {})]),
      'jobset.yaml: spec.replicatedJobs[1].name: duplicate replicated job name "w"',
    ],
    [
      'a name that is no DNS label',
      jobSet([replicatedJob('Workers', 1, {})]),
      'jobset.yaml: spec.replicatedJobs[0].name: pod set name must be a DNS-1123 label',
    ],
    [
      'zero replicas',
      jobSet([replicatedJob('w', 0, {})]),
      'jobset.yaml: spec.replicatedJobs[0].replicas: must be a positive integer (got 0)',
    ],
    [
      'a bad parallelism',
      jobSet([replicatedJob('w', 1, { parallelism: 'x' })]),
      'jobset.yaml: spec.replicatedJobs[0].template.spec.parallelism: must be a positive integer (got "x")',
    ],
    [
      'no job template',
      jobSet([{ name: 'w' }]),
      'jobset.yaml: spec.replicatedJobs[0].template: is required',
    ],
    [
      'no pod template',
      jobSet([{ name: 'w', template: { spec: {} } }]),
      'jobset.yaml: spec.replicatedJobs[0].template.spec.template: is required',
    ],
    [
      'a replicated job that is a string',
      jobSet(['w']),
      'jobset.yaml: spec.replicatedJobs[0]: must be a map with name, replicas and template (got "w")',
    ],
    [
      'a container without image',
      jobSet([
        { name: 'w', template: { spec: { template: { spec: { containers: [{ name: 'c' }] } } } } },
      ]),
      'jobset.yaml: spec.replicatedJobs[0].template.spec.template.spec.containers[0].image: is required',
    ],
    [
      'an older apiVersion',
      { ...jobSet([replicatedJob('w', 1, {})]), apiVersion: 'jobset.x-k8s.io/v1alpha1' },
      'jobset.yaml: apiVersion: jobset.x-k8s.io/v1alpha1 is not supported for kind JobSet; use jobset.x-k8s.io/v1alpha2',
    ],
  ])('refuses %s', (_what, body, expected) => {
    expect(failure(body, {}, 'jobset.yaml')).toContain(expected);
  });
});

describe('muster.dev/v1 Gang', () => {
  const workers = {
    name: 'workers',
    count: 16,
    topology: { required: 'cloud.provider.com/topology-rack' },
    template: podTemplate(),
  };
  const launcher = { name: 'launcher', template: podTemplate() };

  it('carries every field through', () => {
    const draft = convert(
      gang({
        queue: 'research',
        priority: 10,
        onClusterLost: 'requeue',
        namespace: 'ml',
        labels: { team: 'nlp' },
        podSets: [launcher, workers],
        podSetGroups: [
          { podSets: ['launcher', 'workers'], level: 'cloud.provider.com/topology-block' },
        ],
      }),
      {},
      'gang.yaml',
    );
    expect(draft.spec).toMatchObject({
      name: 'finetune',
      queue: 'research',
      priority: 10,
      onClusterLost: OnClusterLost.ON_CLUSTER_LOST_REQUEUE,
      namespace: 'ml',
      labels: { team: 'nlp' },
      podSetGroups: [
        { podSets: ['launcher', 'workers'], level: 'cloud.provider.com/topology-block' },
      ],
    });
    expect(draft.spec.podSets.map((p) => [p.name, p.count, p.topology])).toEqual([
      ['launcher', 1, undefined],
      [
        'workers',
        16,
        { mode: TopologyMode.TOPOLOGY_MODE_REQUIRED, level: 'cloud.provider.com/topology-rack' },
      ],
    ]);
  });

  it('accepts a preferred topology and the same constraint written twice (field and Kueue annotation)', () => {
    const both = {
      name: 'w',
      count: 2,
      topology: { preferred: 'cloud.provider.com/topology-rack' },
      template: podTemplate({
        'kueue.x-k8s.io/podset-preferred-topology': 'cloud.provider.com/topology-rack',
      }),
    };
    expect(convert(gang({ podSets: [both] })).spec.podSets[0]!.topology).toEqual({
      mode: TopologyMode.TOPOLOGY_MODE_PREFERRED,
      level: 'cloud.provider.com/topology-rack',
    });
  });

  it.each([
    [
      'a misspelt spec field',
      gang({ podsets: [workers] }),
      'gang.yaml: spec.podsets: unknown field; did you mean "podSets"?',
    ],
    [
      'a misspelt pod set field',
      gang({ podSets: [{ ...workers, cout: 2 }] }),
      'gang.yaml: spec.podSets[0].cout: unknown field; did you mean "count"?',
    ],
    [
      'no pod sets',
      gang({ queue: 'q' }),
      'gang.yaml: spec.podSets: is required and must list at least one item',
    ],
    [
      'a pod set without name',
      gang({ podSets: [{ count: 1, template: podTemplate() }] }),
      'gang.yaml: spec.podSets[0].name: is required',
    ],
    [
      'a zero count',
      gang({ podSets: [{ ...workers, count: 0 }] }),
      'gang.yaml: spec.podSets[0].count: must be a positive integer (got 0)',
    ],
    [
      'duplicate pod set names',
      gang({ podSets: [launcher, { ...launcher }] }),
      'gang.yaml: spec.podSets[1].name: duplicate pod set name "launcher" (also at spec.podSets[0].name)',
    ],
    [
      'a bad onClusterLost',
      gang({ onClusterLost: 'later', podSets: [workers] }),
      'gang.yaml: spec.onClusterLost: must be wait or requeue (got "later")',
    ],
    [
      'a priority that is not an integer',
      gang({ priority: 'high', podSets: [workers] }),
      'gang.yaml: spec.priority: must be an integer between',
    ],
    [
      'a topology with both modes',
      gang({ podSets: [{ ...workers, topology: { required: 'a/b', preferred: 'a/c' } }] }),
      'gang.yaml: spec.podSets[0].topology: set only one of required and preferred',
    ],
    [
      'an empty topology',
      gang({ podSets: [{ ...workers, topology: {} }] }),
      'gang.yaml: spec.podSets[0].topology: must set required or preferred to a topology level',
    ],
    [
      'a topology level that is a number',
      gang({ podSets: [{ ...workers, topology: { required: 3 } }] }),
      'gang.yaml: spec.podSets[0].topology.required: must be a node label key such as cloud.provider.com/topology-rack (got 3)',
    ],
    [
      'a topology contradicting the annotation',
      gang({
        podSets: [
          {
            ...workers,
            template: podTemplate({
              'kueue.x-k8s.io/podset-required-topology': 'cloud.provider.com/topology-block',
            }),
          },
        ],
      }),
      'gang.yaml: spec.podSets[0].topology.required: required cloud.provider.com/topology-rack contradicts spec.podSets[0].template.metadata.annotations["kueue.x-k8s.io/podset-required-topology"]',
    ],
    [
      'a group naming an unknown pod set',
      gang({
        podSets: [launcher, workers],
        podSetGroups: [{ podSets: ['launcher', 'ps'], level: 'a/b' }],
      }),
      'gang.yaml: spec.podSetGroups[0].podSets[1]: no pod set named "ps" (pod sets: launcher, workers)',
    ],
    [
      'a group of one',
      gang({
        podSets: [launcher, workers],
        podSetGroups: [{ podSets: ['launcher'], level: 'a/b' }],
      }),
      'gang.yaml: spec.podSetGroups[0].podSets: must name at least two pod sets',
    ],
    [
      'a group without level',
      gang({ podSets: [launcher, workers], podSetGroups: [{ podSets: ['launcher', 'workers'] }] }),
      'gang.yaml: spec.podSetGroups[0].level: is required',
    ],
    [
      'a spec queue contradicting the label',
      gang(
        { queue: 'a', podSets: [workers] },
        { name: 'g', labels: { 'kueue.x-k8s.io/queue-name': 'b' } },
      ),
      'gang.yaml: spec.queue: "a" contradicts metadata.labels["kueue.x-k8s.io/queue-name"] ("b"); keep one',
    ],
    [
      'a label contradicting metadata',
      gang({ labels: { team: 'a' }, podSets: [workers] }, { name: 'g', labels: { team: 'b' } }),
      'gang.yaml: spec.labels.team: "a" contradicts metadata.labels ("b")',
    ],
    [
      'an unknown top-level field',
      { ...gang({ podSets: [workers] }), status: {} },
      'gang.yaml: status: unknown field',
    ],
  ])('refuses %s', (_what, body, expected) => {
    expect(failure(body, {}, 'gang.yaml')).toContain(expected);
  });
});

describe('documents that are no supported kind', () => {
  it.each([
    [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } },
      'train.yaml: kind Deployment is not supported; use a batch/v1 Job, a JobSet (jobset.x-k8s.io/v1alpha2) or a muster.dev/v1 Gang',
    ],
    [
      { apiVersion: 'batch/v1', metadata: { name: 'a' } },
      'train.yaml: kind: is required; use a batch/v1 Job',
    ],
    [
      { kind: 'Job', metadata: { name: 'a' } },
      'train.yaml: apiVersion: is required for kind Job; use batch/v1',
    ],
    [
      { apiVersion: 'batch/v1beta1', kind: 'Job' },
      'train.yaml: apiVersion: batch/v1beta1 is not supported for kind Job; use batch/v1',
    ],
    [
      ['a', 'list'],
      'train.yaml: must be a Kubernetes-style object with apiVersion and kind (got a list)',
    ],
    [
      'just text',
      'train.yaml: must be a Kubernetes-style object with apiVersion and kind (got "just text")',
    ],
    [{ apiVersion: 'batch/v1', kind: 42 }, 'train.yaml: kind: must be a string (got 42); quote it'],
    [{ apiVersion: 'v1', kind: 'toString' }, 'train.yaml: kind toString is not supported'],
  ])('refuses %j', (body, expected) => {
    expect(failure(body, {}, 'train.yaml')).toContain(expected);
  });
});

describe('hub fields are traced back to the file', () => {
  it('maps pod set, template and metadata fields of a Job', () => {
    const draft = convert(
      batchJob({}, { name: 'a', labels: { 'kueue.x-k8s.io/queue-name': 'q', team: 'x' } }),
    );
    expect(draft.origins.locate('spec.pod_sets[0].count')).toBe('spec.parallelism');
    expect(
      draft.origins.locate('spec.pod_sets[0].pod_template_json.spec.containers[0].image'),
    ).toBe('spec.template.spec.containers[0].image');
    expect(draft.origins.locate('spec.name')).toBe('metadata.name');
    expect(draft.origins.locate('spec.queue')).toBe('metadata.labels["kueue.x-k8s.io/queue-name"]');
    expect(draft.origins.locate('spec.labels["team"]')).toBe('metadata.labels["team"]');
    expect(draft.origins.locate('spec.pod_sets_other')).toBeUndefined();
  });

  it('maps a JobSet count to replicas and a flag to the flag', () => {
    const draft = convert(
      jobSet([replicatedJob('a', 1, {}), replicatedJob('b', 2, { parallelism: 2 })]),
      { queue: 'q' },
    );
    expect(draft.origins.locate('spec.pod_sets[1].count')).toBe('spec.replicatedJobs[1].replicas');
    expect(draft.origins.locate('spec.queue')).toBe('--queue');
  });

  it('says when the queue was the default', () => {
    expect(convert(batchJob()).origins.locate('spec.queue')).toBe(
      'the default queue "default" (choose one with --queue)',
    );
  });
});

describe('round trip through YAML text', () => {
  it('accepts the YAML a user writes, quantities as numbers included', () => {
    const text = stringify(
      batchJob({
        template: {
          spec: { containers: [{ name: 'c', image: 'i', resources: { requests: { cpu: 2 } } }] },
        },
      }),
    );
    const draft = draftFromDocument({ source: 'job.yaml', body: parse(text) as unknown });
    expect(draft.spec.podSets[0]!.count).toBe(4);
  });
});
