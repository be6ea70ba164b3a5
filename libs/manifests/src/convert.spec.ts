import { join } from 'node:path';
import { OnClusterLost, TopologyMode } from '@muster/api';
import { parse, stringify } from 'yaml';
import { ManifestError, SubmissionError } from './errors';
import {
  draftFromDocument,
  draftsFromDocuments,
  type JobDraft,
  type Submission,
  type SubmitOverrides,
} from './convert';
import { parseManifestText, readManifestFile } from './documents';

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

describe('eviction grace (muster.dev/eviction-grace-seconds)', () => {
  const ANNOTATION = 'muster.dev/eviction-grace-seconds';
  const AT = `metadata.annotations["${ANNOTATION}"]`;
  const workers = { name: 'workers', count: 2, template: podTemplate() };

  /** A Job with the annotation on line 6, read from text as `muster submit` reads a file. */
  function annotatedJob(value: string): Submission {
    const text = [
      'apiVersion: batch/v1',
      'kind: Job',
      'metadata:',
      '  name: train',
      '  annotations:',
      `    ${ANNOTATION}: ${JSON.stringify(value)}`,
      'spec: {template: {spec: {containers: [{name: c, image: i}]}}}',
      '',
    ].join('\n');
    return draftsFromDocuments(parseManifestText('job.yaml', text));
  }

  function refusedText(value: string): string {
    try {
      annotatedJob(value);
    } catch (err) {
      expect(err).toBeInstanceOf(ManifestError);
      return (err as ManifestError).message;
    }
    throw new Error('expected the manifest to be refused');
  }

  it('is sent from the annotation of a Job, and traced to its line', () => {
    const draft = annotatedJob('600').drafts[0]!;
    expect(draft.spec.evictionGraceSeconds).toBe(600);
    expect(draft.origins.locate('spec.eviction_grace_seconds')).toBe(`${AT}, line 6`);
    expect(annotatedJob('0').drafts[0]!.spec.evictionGraceSeconds).toBe(0);
    expect(annotatedJob('86400').drafts[0]!.spec.evictionGraceSeconds).toBe(86_400);
  });

  it('is left out when not written, so the hub default applies', () => {
    const spec = convert(batchJob()).spec;
    expect(spec.evictionGraceSeconds).toBeUndefined();
    expect(spec).not.toHaveProperty('evictionGraceSeconds');
    expect(convert(gang({ podSets: [workers] }), {}, 'gang.yaml').spec).not.toHaveProperty(
      'evictionGraceSeconds',
    );
  });

  it('is read from the annotation of a JobSet', () => {
    const draft = convert(
      jobSet([replicatedJob('workers', 2, {})], {
        name: 'pretrain',
        annotations: { [ANNOTATION]: '120' },
      }),
    );
    expect(draft.spec.evictionGraceSeconds).toBe(120);
  });

  it("is read from a Gang's spec.evictionGraceSeconds, or its annotation if they agree", () => {
    const draft = convert(gang({ evictionGraceSeconds: 300, podSets: [workers] }), {}, 'gang.yaml');
    expect(draft.spec.evictionGraceSeconds).toBe(300);
    expect(draft.origins.locate('spec.eviction_grace_seconds')).toBe('spec.evictionGraceSeconds');
    const annotations = { [ANNOTATION]: '300' };
    expect(
      convert(gang({ podSets: [workers] }, { name: 'g', annotations }), {}, 'gang.yaml').spec
        .evictionGraceSeconds,
    ).toBe(300);
    expect(
      convert(
        gang({ evictionGraceSeconds: 300, podSets: [workers] }, { name: 'g', annotations }),
        {},
        'gang.yaml',
      ).spec.evictionGraceSeconds,
    ).toBe(300);
  });

  it.each([
    ['a duration', '10m'],
    ['a negative number', '-1'],
    ['more than a day', '86401'],
    ['a fraction', '1.5'],
    ['an empty value', ''],
    ['a number in another notation', '6e2'],
  ])('refuses %s on a Job, naming the annotation and its line', (_what, value) => {
    expect(refusedText(value)).toBe(
      `job.yaml: line 6: ${AT}: must be a whole number of seconds from 0 to 86400, such as "600" (got ${JSON.stringify(value)})`,
    );
  });

  it.each([
    [
      'a string',
      gang({ evictionGraceSeconds: '600', podSets: [workers] }),
      'gang.yaml: spec.evictionGraceSeconds: must be a whole number of seconds from 0 to 86400 (got "600")',
    ],
    [
      'a negative number',
      gang({ evictionGraceSeconds: -5, podSets: [workers] }),
      'gang.yaml: spec.evictionGraceSeconds: must be a whole number of seconds from 0 to 86400 (got -5)',
    ],
    [
      'more than a day',
      gang({ evictionGraceSeconds: 90_000, podSets: [workers] }),
      'gang.yaml: spec.evictionGraceSeconds: must be a whole number of seconds from 0 to 86400 (got 90000)',
    ],
    [
      'the field and the annotation disagreeing',
      gang(
        { evictionGraceSeconds: 60, podSets: [workers] },
        { name: 'g', annotations: { [ANNOTATION]: '600' } },
      ),
      `gang.yaml: spec.evictionGraceSeconds: 60 contradicts ${AT} (600); keep one`,
    ],
  ])('refuses %s on a Gang, naming the field', (_what, body, expected) => {
    expect(failure(body, {}, 'gang.yaml')).toBe(expected);
  });
});

describe('priority class (kueue.x-k8s.io/priority-class, muster.dev/priority-class)', () => {
  const LABEL = 'kueue.x-k8s.io/priority-class';
  const ANNOTATION = 'muster.dev/priority-class';
  const AT_LABEL = `metadata.labels["${LABEL}"]`;
  const AT_ANNOTATION = `metadata.annotations["${ANNOTATION}"]`;
  const workers = { name: 'workers', count: 2, template: podTemplate() };

  /** A Job with the label on line 6 and, when given, the annotation on line 8. */
  function classedJob(label: string, annotation?: string): Submission {
    const text = [
      'apiVersion: batch/v1',
      'kind: Job',
      'metadata:',
      '  name: train',
      '  labels:',
      `    ${LABEL}: ${JSON.stringify(label)}`,
      ...(annotation === undefined
        ? []
        : ['  annotations:', `    ${ANNOTATION}: ${JSON.stringify(annotation)}`]),
      'spec: {template: {spec: {containers: [{name: c, image: i}]}}}',
      '',
    ].join('\n');
    return draftsFromDocuments(parseManifestText('job.yaml', text));
  }

  function refusedText(label: string, annotation?: string): string {
    try {
      classedJob(label, annotation);
    } catch (err) {
      expect(err).toBeInstanceOf(ManifestError);
      return (err as ManifestError).message;
    }
    throw new Error('expected the manifest to be refused');
  }

  it("is sent from Kueue's label on a Job, traced to its line, and leaves the priority to the hub", () => {
    const draft = classedJob('high').drafts[0]!;
    expect(draft.spec.priorityClass).toBe('high');
    expect(draft.spec.priority).toBe(0);
    expect(draft.spec.labels).toEqual({});
    expect(draft.origins.locate('spec.priority_class')).toBe(`${AT_LABEL}, line 6`);
  });

  it("is read from Muster's annotation, and from the label and annotation when they agree", () => {
    const draft = convert(batchJob({}, { name: 'a', annotations: { [ANNOTATION]: 'low' } }));
    expect(draft.spec.priorityClass).toBe('low');
    expect(draft.origins.locate('spec.priority_class')).toBe(AT_ANNOTATION);
    expect(classedJob('high', 'high').drafts[0]!.spec.priorityClass).toBe('high');
  });

  it('is read from the label of a JobSet', () => {
    const draft = convert(
      jobSet([replicatedJob('workers', 2, {})], { name: 'pretrain', labels: { [LABEL]: 'batch' } }),
    );
    expect(draft.spec.priorityClass).toBe('batch');
  });

  it("is read from a Gang's spec.priorityClass, or its label if they agree", () => {
    const draft = convert(gang({ priorityClass: 'high', podSets: [workers] }), {}, 'gang.yaml');
    expect(draft.spec.priorityClass).toBe('high');
    expect(draft.origins.locate('spec.priority_class')).toBe('spec.priorityClass');
    const labels = { [LABEL]: 'high' };
    expect(
      convert(
        gang({ priorityClass: 'high', podSets: [workers] }, { name: 'g', labels }),
        {},
        'gang.yaml',
      ).spec.priorityClass,
    ).toBe('high');
  });

  it('is sent with a priority as written: the hub checks that they agree', () => {
    const spec = convert(gang({ priority: 100, priorityClass: 'normal', podSets: [workers] })).spec;
    expect([spec.priority, spec.priorityClass]).toEqual([100, 'normal']);
  });

  it('is left out when not written', () => {
    expect(convert(batchJob()).spec).not.toHaveProperty('priorityClass');
    expect(convert(gang({ podSets: [workers] }), {}, 'gang.yaml').spec).not.toHaveProperty(
      'priorityClass',
    );
  });

  it('takes --priority-class over the manifest, and refuses a bad one naming the flag', () => {
    const draft = convert(batchJob({}, { name: 'a', labels: { [LABEL]: 'low' } }), {
      priorityClass: 'high',
    });
    expect(draft.spec.priorityClass).toBe('high');
    expect(draft.origins.locate('spec.priority_class')).toBe('--priority-class');
    expect(failure(batchJob(), { priorityClass: 'High' })).toBe(
      'job.yaml: --priority-class: must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (got "High")',
    );
  });

  it.each([
    ['capitals', 'High'],
    ['an underscore', 'very_high'],
  ])('refuses a label with %s, naming it and its line', (_what, value) => {
    expect(refusedText(value)).toBe(
      `job.yaml: line 6: ${AT_LABEL}: must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (got ${JSON.stringify(value)})`,
    );
  });

  it('refuses an empty label, naming it and its line', () => {
    expect(refusedText('')).toBe(`job.yaml: line 6: ${AT_LABEL}: must not be empty (got "")`);
  });

  it('refuses a bad annotation, and one contradicting the label, with its line', () => {
    expect(refusedText('high', 'low')).toBe(
      `job.yaml: line 8: ${AT_ANNOTATION}: "low" contradicts ${AT_LABEL} ("high"); keep one`,
    );
    expect(failure(batchJob({}, { name: 'a', annotations: { [ANNOTATION]: 'a b' } }))).toBe(
      `job.yaml: ${AT_ANNOTATION}: must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (got "a b")`,
    );
  });

  it.each([
    [
      'a number',
      gang({ priorityClass: 5, podSets: [workers] }),
      'gang.yaml: spec.priorityClass: must be a string (got 5); quote it',
    ],
    [
      'capitals',
      gang({ priorityClass: 'High', podSets: [workers] }),
      'gang.yaml: spec.priorityClass: must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (got "High")',
    ],
    [
      'the field and the label disagreeing',
      gang(
        { priorityClass: 'low', podSets: [workers] },
        { name: 'g', labels: { [LABEL]: 'high' } },
      ),
      `gang.yaml: spec.priorityClass: "low" contradicts ${AT_LABEL} ("high"); keep one`,
    ],
    [
      'a misspelt field',
      gang({ priorityclass: 'high', podSets: [workers] }),
      'gang.yaml: spec.priorityclass: unknown field; did you mean "priorityClass"?',
    ],
  ])('refuses %s on a Gang, naming the field', (_what, body, expected) => {
    expect(failure(body, {}, 'gang.yaml')).toContain(expected);
  });
});

describe('documents that are no supported kind', () => {
  it.each([
    [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } },
      'train.yaml: kind Deployment is not supported; use a batch/v1 Job, a JobSet (jobset.x-k8s.io/v1alpha2), a muster.dev/v1 Gang, a kubeflow.org/v1 PyTorchJob, TFJob, JAXJob, PaddleJob or XGBoostJob, a kubeflow.org/v2beta1 MPIJob, a ray.io/v1 RayCluster or RayJob, or a LeaderWorkerSet (leaderworkerset.x-k8s.io/v1), with resource.k8s.io/v1 ResourceClaimTemplates for their devices',
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
    [
      { apiVersion: 'kubeflow.org/v1', kind: 'MXJob', metadata: { name: 'a' } },
      'train.yaml: kind MXJob is not supported; use a batch/v1 Job',
    ],
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

describe('DRA claim templates (resource.k8s.io/v1)', () => {
  // Lines 1-11; the Job below starts on line 13, its template name is on line 23.
  const TEMPLATE = `apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata:
  name: one-gpu
spec:
  spec:
    devices:
      requests:
        - name: gpu
          exactly:
            deviceClassName: gpu.example.com
`;
  const JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: infer
spec:
  parallelism: 2
  template:
    spec:
      resourceClaims:
        - name: gpu
          resourceClaimTemplateName: one-gpu
      containers:
        - name: main
          image: i
          resources:
            claims:
              - name: gpu
`;
  const FILE = `${TEMPLATE}---\n${JOB}`;
  const GPU_SPEC = {
    devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.example.com' } }] },
  };

  function submit(text: string, overrides: SubmitOverrides = {}): Submission {
    return draftsFromDocuments(parseManifestText('dra.yaml', text), overrides);
  }

  function refused(run: () => unknown): string {
    try {
      run();
    } catch (err) {
      expect(err).toBeInstanceOf(ManifestError);
      return (err as ManifestError).message;
    }
    throw new Error('expected the manifests to be refused');
  }

  /** FILE with one piece of text replaced (the first occurrence: the template comes first). */
  function edited(from: string, to: string, text = FILE): string {
    expect(text).toContain(from);
    return text.replace(from, to);
  }

  function claimTemplate(name: string, spec: unknown = GPU_SPEC, metadata: Doc = {}): Doc {
    return {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaimTemplate',
      metadata: { name, ...metadata },
      spec: { spec },
    };
  }

  function claimingTemplate(claims: Record<string, string>): Doc {
    return {
      spec: {
        resourceClaims: Object.entries(claims).map(([name, template]) => ({
          name,
          resourceClaimTemplateName: template,
        })),
        containers: [
          container({
            resources: { claims: Object.keys(claims).map((name) => ({ name })) },
          }),
        ],
      },
    };
  }

  function documents(...bodies: unknown[]) {
    return bodies.map((body, i) => ({ source: `all.yaml (document ${i + 1})`, body }));
  }

  it('sends the template a Job names with the job, its spec.spec as JSON', () => {
    const { drafts, warnings } = submit(FILE);
    expect(drafts).toHaveLength(1);
    expect(warnings).toEqual([]);
    const spec = drafts[0]!.spec;
    expect(spec.resourceClaimTemplates).toEqual([
      { name: 'one-gpu', specJson: JSON.stringify(GPU_SPEC) },
    ]);
    // The pod template keeps its claims as written; the agent makes one claim per member.
    expect(JSON.parse(spec.podSets[0]!.podTemplateJson).spec.resourceClaims).toEqual([
      { name: 'gpu', resourceClaimTemplateName: 'one-gpu' },
    ]);
  });

  it('accepts the template after the job, and sends it with every job that names it', () => {
    const second = JOB.replace('name: infer', 'name: infer-2');
    const { drafts } = submit(`${JOB}---\n${TEMPLATE}---\n${second}`);
    expect(drafts.map((d) => d.spec.name)).toEqual(['infer', 'infer-2']);
    for (const d of drafts)
      expect(d.spec.resourceClaimTemplates.map((t) => t.name)).toEqual(['one-gpu']);
  });

  it('converts apps/cli/examples/dra-job.yaml', () => {
    const file = join(__dirname, '../../../apps/cli/examples/dra-job.yaml');
    const { drafts, warnings } = draftsFromDocuments(readManifestFile(file));
    expect(warnings).toEqual([]);
    expect(drafts).toHaveLength(1);
    const spec = drafts[0]!.spec;
    expect(spec).toMatchObject({ name: 'llm-eval', queue: 'default' });
    expect(spec.podSets[0]).toMatchObject({ name: 'main', count: 2 });
    expect(spec.resourceClaimTemplates).toHaveLength(1);
    expect(spec.resourceClaimTemplates[0]!.name).toBe('one-a100');
    expect(JSON.parse(spec.resourceClaimTemplates[0]!.specJson)).toEqual({
      devices: {
        requests: [
          {
            name: 'gpu',
            exactly: {
              deviceClassName: 'gpu.example.com',
              count: 1,
              selectors: [
                { cel: { expression: 'device.attributes["gpu.example.com"].model == "A100"' } },
              ],
            },
          },
        ],
      },
    });
  });

  it('accepts firstAvailable, allocationMode All, constraints and config as written', () => {
    const spec = {
      devices: {
        requests: [
          {
            name: 'gpu',
            firstAvailable: [
              { name: 'big', deviceClassName: 'gpu.example.com', count: 2 },
              { name: 'small', deviceClassName: 'gpu.example.com', count: 4 },
            ],
          },
          { name: 'nic', exactly: { deviceClassName: 'nic.example.com', allocationMode: 'All' } },
        ],
        constraints: [{ requests: ['gpu/big', 'nic'], matchAttribute: 'dra.example.com/pcieRoot' }],
        config: [{ requests: ['gpu'], opaque: { driver: 'gpu.example.com', parameters: {} } }],
      },
    };
    const { drafts } = draftsFromDocuments(
      documents(
        claimTemplate('node-gpus', spec),
        batchJob({ template: claimingTemplate({ g: 'node-gpus' }) }),
      ),
    );
    expect(JSON.parse(drafts[0]!.spec.resourceClaimTemplates[0]!.specJson)).toEqual(spec);
  });

  it('takes each replicated job of a JobSet on its own', () => {
    const { drafts } = draftsFromDocuments(
      documents(
        claimTemplate('one-gpu'),
        claimTemplate('nic'),
        jobSet([
          { name: 'driver', template: { spec: { template: podTemplate() } } },
          {
            name: 'workers',
            template: { spec: { template: claimingTemplate({ gpu: 'one-gpu', net: 'nic' }) } },
          },
        ]),
      ),
    );
    expect(drafts[0]!.spec.resourceClaimTemplates.map((t) => t.name)).toEqual(['one-gpu', 'nic']);
    expect(
      refused(() =>
        draftsFromDocuments(
          documents(
            claimTemplate('one-gpu'),
            jobSet([
              { name: 'a', template: { spec: { template: claimingTemplate({ gpu: 'one-gpu' }) } } },
              { name: 'b', template: { spec: { template: claimingTemplate({ gpu: 'two-gpu' }) } } },
            ]),
          ),
        ),
      ),
    ).toBe(
      'all.yaml (document 2): spec.replicatedJobs[1].template.spec.template.spec.resourceClaims[0].resourceClaimTemplateName: no ResourceClaimTemplate named "two-gpu" in the manifests (templates: one-gpu); add a resource.k8s.io/v1 ResourceClaimTemplate document of that name to the manifests',
    );
  });

  describe('a Gang', () => {
    const workers = (claims: Record<string, string>) => ({
      name: 'workers',
      count: 4,
      template: claimingTemplate(claims),
    });

    it('carries its own spec.resourceClaimTemplates, and may use documents too', () => {
      const { drafts } = draftsFromDocuments(
        documents(
          claimTemplate('nic'),
          gang({
            podSets: [workers({ gpu: 'one-gpu', net: 'nic' })],
            resourceClaimTemplates: [{ name: 'one-gpu', spec: GPU_SPEC }],
          }),
        ),
      );
      expect(drafts[0]!.spec.resourceClaimTemplates).toEqual([
        { name: 'one-gpu', specJson: JSON.stringify(GPU_SPEC) },
        { name: 'nic', specJson: JSON.stringify(GPU_SPEC) },
      ]);
      expect(drafts[0]!.origins.locate('spec.resource_claim_templates[0].spec_json.devices')).toBe(
        'spec.resourceClaimTemplates[0].spec.devices',
      );
      expect(drafts[0]!.origins.locate('spec.resource_claim_templates[1].name')).toBe(
        'metadata.name in all.yaml (document 1)',
      );
    });

    it.each([
      [
        'a template no pod set names',
        gang({
          podSets: [workers({ gpu: 'one-gpu' })],
          resourceClaimTemplates: [
            { name: 'one-gpu', spec: GPU_SPEC },
            { name: 'spare', spec: GPU_SPEC },
          ],
        }),
        'gang.yaml: spec.resourceClaimTemplates[1].name: template "spare" is not used: no pod set of this gang names it in spec.resourceClaims[].resourceClaimTemplateName; claim it from a pod template or remove it (Muster sends templates with the jobs that claim them and creates nothing on its own)',
      ],
      [
        'a name not in the gang',
        gang({ podSets: [workers({ gpu: 'two-gpu' })] }),
        'gang.yaml: spec.podSets[0].template.spec.resourceClaims[0].resourceClaimTemplateName: no ResourceClaimTemplate named "two-gpu" in the manifests (there are none); add it to spec.resourceClaimTemplates, or add a resource.k8s.io/v1 ResourceClaimTemplate document',
      ],
      [
        'a misspelt field of a template',
        gang({
          podSets: [workers({ gpu: 'one-gpu' })],
          resourceClaimTemplates: [{ name: 'one-gpu', specs: GPU_SPEC }],
        }),
        'gang.yaml: spec.resourceClaimTemplates[0].specs: unknown field; did you mean "spec"? (known: name, spec)',
      ],
      [
        'a template without a name',
        gang({
          podSets: [workers({ gpu: 'one-gpu' })],
          resourceClaimTemplates: [{ spec: GPU_SPEC }],
        }),
        'gang.yaml: spec.resourceClaimTemplates[0].name: is required',
      ],
      [
        'two templates of one name',
        gang({
          podSets: [workers({ gpu: 'one-gpu' })],
          resourceClaimTemplates: [
            { name: 'one-gpu', spec: GPU_SPEC },
            { name: 'one-gpu', spec: GPU_SPEC },
          ],
        }),
        'gang.yaml: spec.resourceClaimTemplates[1].name: duplicate template name "one-gpu" (also at spec.resourceClaimTemplates[0].name)',
      ],
      [
        'a template without requests',
        gang({
          podSets: [workers({ gpu: 'one-gpu' })],
          resourceClaimTemplates: [{ name: 'one-gpu', spec: { devices: { requests: [] } } }],
        }),
        'gang.yaml: spec.resourceClaimTemplates[0].spec.devices.requests: must list at least one item',
      ],
    ])('refuses %s', (_what, body, expected) => {
      expect(refused(() => draftsFromDocuments([{ source: 'gang.yaml', body }]))).toBe(expected);
    });

    it('refuses a template both in the gang and as a document', () => {
      expect(
        refused(() =>
          draftsFromDocuments(
            documents(
              claimTemplate('one-gpu'),
              gang({
                podSets: [workers({ gpu: 'one-gpu' })],
                resourceClaimTemplates: [{ name: 'one-gpu', spec: GPU_SPEC }],
              }),
            ),
          ),
        ),
      ).toBe(
        'all.yaml (document 2): spec.resourceClaimTemplates[0].name: template "one-gpu" is also a ResourceClaimTemplate document in all.yaml (document 1); keep one',
      );
    });
  });

  describe('one device attribute shared by the whole gang (muster.dev/match-device-attribute)', () => {
    const ANNOTATION = 'muster.dev/match-device-attribute';
    const AT = `metadata.annotations["${ANNOTATION}"]`;
    const NVLINK = 'gpu.example.com/interconnect';

    /** FILE with the annotation on the Job, on line 18. */
    function annotated(value: string): string {
      return edited(
        '  name: infer\n',
        `  name: infer\n  annotations:\n    ${ANNOTATION}: ${JSON.stringify(value)}\n`,
      );
    }

    it('is sent from the annotation of a Job whose pods claim devices, and traced to it', () => {
      const { drafts, warnings } = submit(annotated(NVLINK));
      expect(warnings).toEqual([]);
      expect(drafts[0]!.spec.matchDeviceAttribute).toBe(NVLINK);
      expect(drafts[0]!.origins.locate('spec.match_device_attribute')).toBe(`${AT}, line 18`);
    });

    it('is empty when not written', () => {
      expect(submit(FILE).drafts[0]!.spec.matchDeviceAttribute).toBe('');
      expect(convert(batchJob()).spec.matchDeviceAttribute).toBe('');
    });

    it('is read from the annotation of a JobSet', () => {
      const { drafts } = draftsFromDocuments(
        documents(
          claimTemplate('one-gpu'),
          jobSet(
            [
              { name: 'driver', template: { spec: { template: podTemplate() } } },
              {
                name: 'workers',
                template: { spec: { template: claimingTemplate({ gpu: 'one-gpu' }) } },
              },
            ],
            { name: 'pretrain', annotations: { [ANNOTATION]: NVLINK } },
          ),
        ),
      );
      expect(drafts[0]!.spec.matchDeviceAttribute).toBe(NVLINK);
    });

    describe('on a Gang', () => {
      const workers = { name: 'workers', count: 2, template: claimingTemplate({ gpus: 'eight' }) };
      const eight = {
        name: 'eight',
        spec: {
          devices: {
            requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.example.com', count: 8 } }],
          },
        },
      };
      const gangOf = (spec: Doc, metadata: Doc = { name: 'nvl' }) =>
        draftsFromDocuments([
          {
            source: 'gang.yaml',
            body: gang({ podSets: [workers], resourceClaimTemplates: [eight], ...spec }, metadata),
          },
        ]);

      it('is read from spec.matchDeviceAttribute', () => {
        const draft = gangOf({ matchDeviceAttribute: NVLINK }).drafts[0]!;
        expect(draft.spec.matchDeviceAttribute).toBe(NVLINK);
        expect(draft.origins.locate('spec.match_device_attribute')).toBe(
          'spec.matchDeviceAttribute',
        );
      });

      it('is read from the annotation too, and may be written in both places if they agree', () => {
        const annotations = { [ANNOTATION]: NVLINK };
        expect(gangOf({}, { name: 'nvl', annotations }).drafts[0]!.spec.matchDeviceAttribute).toBe(
          NVLINK,
        );
        expect(
          gangOf({ matchDeviceAttribute: NVLINK }, { name: 'nvl', annotations }).drafts[0]!.spec
            .matchDeviceAttribute,
        ).toBe(NVLINK);
      });

      it.each([
        [
          'the annotation and the field disagreeing',
          () =>
            gangOf(
              { matchDeviceAttribute: NVLINK },
              { name: 'nvl', annotations: { [ANNOTATION]: 'gpu.example.com/clique' } },
            ),
          `gang.yaml: spec.matchDeviceAttribute: "${NVLINK}" contradicts ${AT} ("gpu.example.com/clique"); keep one`,
        ],
        [
          'a name that is not a string',
          () => gangOf({ matchDeviceAttribute: 3 }),
          'gang.yaml: spec.matchDeviceAttribute: must be a string (got 3); quote it',
        ],
        [
          'a bad name',
          () => gangOf({ matchDeviceAttribute: 'interconnect' }),
          'gang.yaml: spec.matchDeviceAttribute: must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect (got "interconnect")',
        ],
        [
          'a gang none of whose pod sets claims devices',
          () =>
            draftsFromDocuments([
              {
                source: 'gang.yaml',
                body: gang({
                  matchDeviceAttribute: NVLINK,
                  podSets: [{ name: 'workers', count: 2, template: podTemplate() }],
                }),
              },
            ]),
          'gang.yaml: spec.matchDeviceAttribute: no pod set claims devices; remove it or add resourceClaims',
        ],
      ])('refuses %s', (_what, run, expected) => {
        expect(refused(run)).toBe(expected);
      });
    });

    it('refuses it on a job none of whose pod sets claims devices, with the line', () => {
      const text = [
        'apiVersion: batch/v1',
        'kind: Job',
        'metadata:',
        '  name: cpu-only',
        '  annotations:',
        `    ${ANNOTATION}: ${NVLINK}`,
        'spec: {template: {spec: {containers: [{name: c, image: i}]}}}',
        '',
      ].join('\n');
      expect(refused(() => submit(text))).toBe(
        `dra.yaml: line 6: ${AT}: no pod set claims devices; remove it or add resourceClaims`,
      );
    });

    it.each([
      [
        'a name without a domain',
        'interconnect',
        'must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect (got "interconnect")',
      ],
      [
        'two slashes',
        'gpu.example.com/nvlink/domain',
        'must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect (got "gpu.example.com/nvlink/domain")',
      ],
      [
        'an empty value',
        '',
        'must not be empty: name a device attribute such as gpu.example.com/interconnect, or remove it (got "")',
      ],
      [
        'an empty domain',
        '/interconnect',
        'must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect: the domain before "/" is empty (got "/interconnect")',
      ],
      [
        'an empty name',
        'gpu.example.com/',
        'must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect: the name after "/" is empty (got "gpu.example.com/")',
      ],
      [
        'a domain with capitals',
        'GPU.example.com/interconnect',
        'domain "GPU.example.com" must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (got "GPU.example.com/interconnect")',
      ],
      [
        'a domain longer than 63 characters',
        `${'a'.repeat(60)}.com/interconnect`,
        `domain must be at most 63 characters (it has 64) (got "${'a'.repeat(60)}.com/interconnect")`,
      ],
      [
        'a name with a dash',
        'gpu.example.com/nvlink-domain',
        'name "nvlink-domain" must be a C identifier: letters, digits and "_", not starting with a digit (got "gpu.example.com/nvlink-domain")',
      ],
      [
        'a name starting with a digit',
        'gpu.example.com/1domain',
        'name "1domain" must be a C identifier: letters, digits and "_", not starting with a digit (got "gpu.example.com/1domain")',
      ],
      [
        'a name longer than 32 characters',
        `gpu.example.com/${'x'.repeat(33)}`,
        `name must be at most 32 characters (it has 33) (got "gpu.example.com/${'x'.repeat(33)}")`,
      ],
    ])('refuses %s, naming the annotation and its line', (_what, value, expected) => {
      expect(refused(() => submit(annotated(value)))).toBe(
        `dra.yaml (document 2): line 18: ${AT}: ${expected}`,
      );
    });

    it('accepts the longest name Kubernetes does, and underscores and capitals in the name', () => {
      const longest = `${'a'.repeat(59)}.com/${'X_'.repeat(16)}`;
      expect(submit(annotated(longest)).drafts[0]!.spec.matchDeviceAttribute).toBe(longest);
      expect(
        submit(annotated('dra.example.com/pcieRoot_2')).drafts[0]!.spec.matchDeviceAttribute,
      ).toBe('dra.example.com/pcieRoot_2');
    });
  });

  it('warns about a claim no container lists, and about template metadata it drops', () => {
    const { warnings } = submit(
      edited(
        '  spec:\n    devices:',
        '  metadata: {labels: {a: b}}\n  spec:\n    devices:',
      ).replace('            claims:\n              - name: gpu\n', '            claims: []\n'),
    );
    expect(warnings).toEqual([
      'dra.yaml (document 1): line 6: spec.metadata: is not sent: only spec.spec travels with the job, so labels and annotations for the claims are dropped',
      'dra.yaml (document 2): line 23: spec.template.spec.resourceClaims[0].name: no container lists claim "gpu" in resources.claims, so no container sees its devices (they are allocated all the same)',
    ]);
  });

  it('counts jobs, not templates, for --name', () => {
    expect(submit(FILE, { name: 'renamed' }).drafts[0]!.spec.name).toBe('renamed');
    expect(() => submit(`${FILE}---\n${JOB}`, { name: 'renamed' })).toThrow(SubmissionError);
  });

  it('traces a hub refusal inside a template to the template document and line', () => {
    const draft = submit(FILE).drafts[0]!;
    expect(
      draft.origins.locate(
        'spec.resource_claim_templates[0].spec_json.devices.requests[0].exactly.deviceClassName',
      ),
    ).toBe(
      'spec.spec.devices.requests[0].exactly.deviceClassName in dra.yaml (document 1), line 11',
    );
    expect(draft.origins.locate('spec.pod_sets[0].pod_template_json.spec.resourceClaims[0]')).toBe(
      'spec.template.spec.resourceClaims[0], line 22',
    );
  });

  it.each([
    [
      'a job naming a template not in the file',
      edited('resourceClaimTemplateName: one-gpu', 'resourceClaimTemplateName: two-gpu'),
      'dra.yaml (document 2): line 23: spec.template.spec.resourceClaims[0].resourceClaimTemplateName: no ResourceClaimTemplate named "two-gpu" in the manifests (templates: one-gpu); add a resource.k8s.io/v1 ResourceClaimTemplate document of that name to the manifests',
    ],
    [
      'a template no job names',
      `${TEMPLATE}---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n`,
      'dra.yaml (document 1): line 4: metadata.name: template "one-gpu" is not used: no job in the manifests names it (in namespace default) in spec.resourceClaims[].resourceClaimTemplateName; claim it from a pod template or remove it (Muster sends templates with the jobs that claim them and creates nothing on its own)',
    ],
    [
      'a file of templates alone',
      TEMPLATE,
      'dra.yaml: line 4: metadata.name: template "one-gpu" is not used: no job in the manifests names it',
    ],
    [
      'a template in another namespace',
      edited('  name: one-gpu\n', '  name: one-gpu\n  namespace: ml\n'),
      'dra.yaml (document 2): line 24: spec.template.spec.resourceClaims[0].resourceClaimTemplateName: the ResourceClaimTemplate "one-gpu" in dra.yaml (document 1) is in namespace ml, but this job runs in namespace default; set the same metadata.namespace on both',
    ],
    [
      'a pre-made ResourceClaim',
      edited('resourceClaimTemplateName: one-gpu', 'resourceClaimName: shared-gpu'),
      'dra.yaml (document 2): line 23: spec.template.spec.resourceClaims[0].resourceClaimName: a pre-made ResourceClaim is not supported: a shared claim lives in one cluster and cannot follow the gang to the cluster Muster chooses; use resourceClaimTemplateName, so each member gets its own claim where it runs',
    ],
    [
      'a ResourceClaim document',
      edited('kind: ResourceClaimTemplate', 'kind: ResourceClaim'),
      'dra.yaml (document 1): line 2: kind: a ResourceClaim is not supported: a shared claim lives in one cluster and cannot follow a gang to the cluster Muster chooses; write a ResourceClaimTemplate and name it in spec.resourceClaims[].resourceClaimTemplateName',
    ],
    [
      'a pod claim without a template name',
      edited('          resourceClaimTemplateName: one-gpu\n', ''),
      'dra.yaml (document 2): line 22: spec.template.spec.resourceClaims[0].resourceClaimTemplateName: is required: the name of a ResourceClaimTemplate',
    ],
    [
      'two pod claims of one name',
      edited(
        '          resourceClaimTemplateName: one-gpu\n',
        '          resourceClaimTemplateName: one-gpu\n        - {name: gpu, resourceClaimTemplateName: one-gpu}\n',
      ),
      'dra.yaml (document 2): line 24: spec.template.spec.resourceClaims[1].name: duplicate claim name "gpu"',
    ],
    [
      'a container claim naming no pod claim',
      edited('              - name: gpu', '              - name: gpus'),
      'dra.yaml (document 2): line 29: spec.template.spec.containers[0].resources.claims[0].name: no claim named "gpus" in the pod\'s spec.resourceClaims (claims: gpu)',
    ],
    [
      'a container claim naming an unknown request',
      edited('              - name: gpu', '              - {name: gpu, request: big}'),
      'dra.yaml (document 2): line 29: spec.template.spec.containers[0].resources.claims[0].request: template "one-gpu" has no request named "big" (requests: gpu)',
    ],
    [
      'a template name that is no DNS-1123 subdomain',
      edited('  name: one-gpu\n', '  name: One_GPU\n'),
      'dra.yaml (document 1): line 4: metadata.name: template name must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit (got "One_GPU")',
    ],
    [
      'a template without a name',
      edited('  name: one-gpu\n', '  generateName: one-gpu-\n'),
      'dra.yaml (document 1): line 3: metadata.name: is required: pod templates name the template by it in spec.resourceClaims[].resourceClaimTemplateName',
    ],
    [
      'two templates of one name',
      `${TEMPLATE}---\n${FILE}`,
      'dra.yaml (document 2): line 16: metadata.name: duplicate ResourceClaimTemplate "one-gpu" in namespace default (also in dra.yaml (document 1))',
    ],
    [
      'an older API version',
      edited('apiVersion: resource.k8s.io/v1\n', 'apiVersion: resource.k8s.io/v1beta1\n'),
      'dra.yaml (document 1): line 1: apiVersion: resource.k8s.io/v1beta1 is not supported for kind ResourceClaimTemplate; use resource.k8s.io/v1',
    ],
    [
      'a template without spec.spec',
      edited('  spec:\n    devices:', '  specs:\n    devices:'),
      'dra.yaml (document 1): line 5: spec.spec: is required',
    ],
    [
      'a claim without requests',
      edited(
        '      requests:\n        - name: gpu\n          exactly:\n            deviceClassName: gpu.example.com\n',
        '      requests: []\n',
      ),
      'dra.yaml (document 1): line 8: spec.spec.devices.requests: must list at least one item',
    ],
    [
      'a request without a name',
      edited('        - name: gpu\n          exactly:', '        - exactly:'),
      'dra.yaml (document 1): line 9: spec.spec.devices.requests[0].name: is required; containers name the request by it',
    ],
    [
      'a request with neither exactly nor firstAvailable',
      edited(
        '          exactly:\n            deviceClassName: gpu.example.com',
        '          count: 1',
      ),
      'dra.yaml (document 1): line 9: spec.spec.devices.requests[0]: needs exactly one of exactly (one kind of device) or firstAvailable (alternatives in order of preference)',
    ],
    [
      'a request with both',
      edited(
        '          exactly:',
        '          firstAvailable: [{name: a, deviceClassName: x}]\n          exactly:',
      ),
      'dra.yaml (document 1): line 9: spec.spec.devices.requests[0]: sets both exactly and firstAvailable; keep one',
    ],
    [
      'the device class where resource.k8s.io/v1beta1 had it',
      edited('          exactly:\n            deviceClassName', '          deviceClassName'),
      'dra.yaml (document 1): line 10: spec.spec.devices.requests[0].deviceClassName: belongs under exactly in resource.k8s.io/v1 (exactly: {deviceClassName: ..., count: ...})',
    ],
    [
      'a request without a device class',
      edited('            deviceClassName: gpu.example.com', '            count: 1'),
      'dra.yaml (document 1): line 10: spec.spec.devices.requests[0].exactly.deviceClassName: is required: the DeviceClass to allocate from, e.g. gpu.example.com',
    ],
    [
      'an alternative without a device class',
      edited(
        '          exactly:\n            deviceClassName: gpu.example.com',
        '          firstAvailable:\n            - name: big',
      ),
      'dra.yaml (document 1): line 11: spec.spec.devices.requests[0].firstAvailable[0].deviceClassName: is required: the DeviceClass to allocate from, e.g. gpu.example.com',
    ],
    [
      'a count of 0',
      edited('gpu.example.com\n', 'gpu.example.com\n            count: 0\n'),
      'dra.yaml (document 1): line 12: spec.spec.devices.requests[0].exactly.count: must be a positive integer (got 0)',
    ],
    [
      'an unknown allocation mode',
      edited('gpu.example.com\n', 'gpu.example.com\n            allocationMode: Some\n'),
      'dra.yaml (document 1): line 12: spec.spec.devices.requests[0].exactly.allocationMode: must be ExactCount or All (got "Some")',
    ],
    [
      'a count with allocationMode All',
      edited(
        'gpu.example.com\n',
        'gpu.example.com\n            allocationMode: All\n            count: 2\n',
      ),
      'dra.yaml (document 1): line 13: spec.spec.devices.requests[0].exactly.count: must not be set with allocationMode All (which takes every matching device)',
    ],
    [
      'a selector without an expression',
      edited('gpu.example.com\n', 'gpu.example.com\n            selectors: [{cel: {}}]\n'),
      'dra.yaml (document 1): line 12: spec.spec.devices.requests[0].exactly.selectors[0].cel.expression: is required: a CEL expression such as device.attributes["gpu.example.com"].model == "A100"',
    ],
    [
      'a constraint naming an unknown request',
      edited(
        'gpu.example.com\n',
        'gpu.example.com\n      constraints:\n        - {requests: [gpu, nic], matchAttribute: dra.example.com/numa}\n',
      ),
      'dra.yaml (document 1): line 13: spec.spec.devices.constraints[0].requests[1]: no request named "nic" (requests: gpu)',
    ],
    [
      'a constraint without an attribute',
      edited(
        'gpu.example.com\n',
        'gpu.example.com\n      constraints:\n        - requests: [gpu]\n',
      ),
      'dra.yaml (document 1): line 13: spec.spec.devices.constraints[0]: needs matchAttribute (an attribute all the devices share, e.g. gpu.example.com/numa)',
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refused(() => submit(text))).toContain(expected);
  });
});
