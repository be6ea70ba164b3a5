// The kinds an operator normally runs (Kubeflow's, KubeRay's, LeaderWorkerSet), each converted
// from a manifest shaped like Kueue's sample for it (testdata/) into one gang.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnClusterLost, TopologyMode } from '@muster/api';
import { checkPodTemplate } from '@muster/k8s';
import { ManifestError } from './errors';
import { draftsFromDocuments, type JobDraft } from './convert';
import { parseManifestText } from './documents';

function sample(file: string): string {
  return readFileSync(join(__dirname, 'testdata', file), 'utf8');
}

/** The sample with one piece of text replaced; the piece must be there. */
function edited(file: string, from: string, to: string): string {
  const text = sample(file);
  expect(text).toContain(from);
  return text.replace(from, to);
}

function convert(file: string, text = sample(file)): { draft: JobDraft; warnings: string[] } {
  const { drafts, warnings } = draftsFromDocuments(parseManifestText(file, text));
  expect(drafts).toHaveLength(1);
  return { draft: drafts[0]!, warnings };
}

function refusal(file: string, text: string): string {
  try {
    convert(file, text);
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).message;
  }
  throw new Error('expected the manifest to be refused');
}

interface PodSetView {
  name: string;
  count: number;
  /** What one member requests, as the hub and the kube-scheduler count it. */
  requests: Record<string, string>;
  restartPolicy?: string;
}

function podTemplate(draft: JobDraft, name: string): Record<string, unknown> {
  const podSet = draft.spec.podSets.find((p) => p.name === name);
  expect(podSet).toBeDefined();
  return JSON.parse(podSet!.podTemplateJson) as Record<string, unknown>;
}

/** The whole spec, each pod template reduced to what one member requests and its restartPolicy. */
function view(draft: JobDraft) {
  const { podSets, ...rest } = draft.spec;
  return {
    ...rest,
    podSets: podSets.map((p): PodSetView => {
      const template = JSON.parse(p.podTemplateJson) as { spec?: { restartPolicy?: string } };
      const checked = checkPodTemplate(template);
      if (!checked.ok) throw new Error(`pod set ${p.name}: ${checked.violation.message}`);
      return {
        name: p.name,
        count: p.count,
        requests: checked.value.requests,
        ...(template.spec?.restartPolicy ? { restartPolicy: template.spec.restartPolicy } : {}),
      };
    }),
  };
}

/** What every converted spec of these kinds carries besides its name, queue and pod sets. */
const PLAIN = {
  namespace: 'default',
  priority: 0,
  onClusterLost: OnClusterLost.ON_CLUSTER_LOST_WAIT,
  labels: {},
  podSetGroups: [],
  maxRestarts: 0,
  resourceClaimTemplates: [],
  matchDeviceAttribute: '',
};

const TRAINING_OPERATOR =
  'kind: Muster runs the pod templates as they are, without the Training Operator: the pods get no MASTER_ADDR, WORLD_SIZE, RANK, TF_CONFIG or other rendezvous variables and no Services, so the program must find its peers itself';
const MPI_OPERATOR =
  'kind: Muster runs the pod templates as they are, without the MPI Operator: it writes no hostfile and makes no SSH keys and no Services for the workers, so mpirun in the launcher reaches the workers only if the templates set that up';
const KUBERAY =
  "kind: Muster runs the pod templates as they are, without KubeRay: it adds no `ray start` command and makes no head Service, so the containers' own commands must start Ray and reach the head";
const LWS_CONTROLLER =
  'kind: Muster runs the pod templates as they are, without the LeaderWorkerSet controller: the pods get no LWS_LEADER_ADDRESS, LWS_GROUP_SIZE or LWS_WORKER_INDEX and no headless Service, and nothing ties a worker to its own leader';

describe('PyTorchJob (kubeflow.org/v1)', () => {
  const FILE = 'sample-pytorchjob.yaml';

  it('becomes the pod sets master (1) and worker (replicas), queued by the Kueue label', () => {
    const { draft, warnings } = convert(FILE);
    expect(draft.kind).toBe('PyTorchJob');
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'pytorch-simple',
      queue: 'main',
      podSets: [
        {
          name: 'master',
          count: 1,
          requests: { cpu: '1', memory: '200Mi', pods: '1' },
          restartPolicy: 'OnFailure',
        },
        {
          name: 'worker',
          count: 2,
          requests: { cpu: '2', memory: '1Gi', pods: '1' },
          restartPolicy: 'OnFailure',
        },
      ],
    });
    expect(warnings).toEqual([`${FILE}: line 4: ${TRAINING_OPERATOR}`]);
    expect(draft.origins.locate('spec.pod_sets[1].count')).toBe(
      'spec.pytorchReplicaSpecs.Worker.replicas, line 30',
    );
  });

  it('takes replica types in any case, replicas default 1, and the default restartPolicy OnFailure', () => {
    const text = sample(FILE)
      .replace('    Worker:\n      replicas: 2\n      restartPolicy: OnFailure\n', '    worker:\n')
      .replace('      restartPolicy: OnFailure\n', '');
    const { draft } = convert(FILE, text);
    expect(draft.spec.podSets.map((p) => [p.name, p.count])).toEqual([
      ['master', 1],
      ['worker', 1],
    ]);
    expect(podTemplate(draft, 'master').spec).toMatchObject({ restartPolicy: 'OnFailure' });
  });

  it("puts the replica type's restartPolicy in the pod template over its own, with a warning", () => {
    const { draft, warnings } = convert(
      FILE,
      edited(FILE, '        spec:\n', '        spec:\n          restartPolicy: Never\n'),
    );
    expect(podTemplate(draft, 'master').spec).toMatchObject({ restartPolicy: 'OnFailure' });
    expect(warnings[1]).toBe(
      `${FILE}: line 17: spec.pytorchReplicaSpecs.Master.template.spec.restartPolicy: is replaced by OnFailure, the replica type's restartPolicy, as the Training Operator does`,
    );
  });

  it('takes runPolicy.backoffLimit as max restarts, warns about what it does not apply, ignores suspend', () => {
    const { draft, warnings } = convert(
      FILE,
      edited(
        FILE,
        'spec:\n',
        'spec:\n  runPolicy:\n    backoffLimit: 3\n    suspend: true\n    managedBy: kueue.x-k8s.io/multikueue\n    activeDeadlineSeconds: 3600\n    ttlSecondsAfterFinished: 60\n    schedulingPolicy: {minAvailable: 2}\n',
      ),
    );
    expect(draft.spec.maxRestarts).toBe(3);
    expect(draft.origins.locate('spec.max_restarts')).toBe('spec.runPolicy.backoffLimit, line 12');
    expect(warnings.slice(1)).toEqual([
      `${FILE}: line 16: spec.runPolicy.ttlSecondsAfterFinished: is not applied: Muster makes no job object to delete after it finishes`,
      `${FILE}: line 15: spec.runPolicy.activeDeadlineSeconds: is not applied: Muster sets no deadline on the job; spec.activeDeadlineSeconds in the pod templates bounds each pod`,
      `${FILE}: line 17: spec.runPolicy.schedulingPolicy: is not applied: Muster gangs every pod of the job itself; the queue and priority class come from the kueue.x-k8s.io/queue-name and kueue.x-k8s.io/priority-class labels`,
    ]);
  });

  it.each([
    [
      'a replica type PyTorchJob does not have',
      edited(FILE, '    Worker:', '    Launcher:'),
      `${FILE}: line 29: spec.pytorchReplicaSpecs.Launcher: not a PyTorchJob replica type; use Master or Worker`,
    ],
    [
      'two masters',
      edited(FILE, 'replicas: 1', 'replicas: 2'),
      `${FILE}: line 13: spec.pytorchReplicaSpecs.Master.replicas: must be 1: a PyTorchJob has one Master (got 2)`,
    ],
    [
      'no workers',
      edited(FILE, 'replicas: 2', 'replicas: 0'),
      `${FILE}: line 30: spec.pytorchReplicaSpecs.Worker.replicas: must be a positive integer (got 0)`,
    ],
    [
      'an elastic policy',
      edited(FILE, 'spec:\n', 'spec:\n  elasticPolicy:\n    minReplicas: 1\n    maxReplicas: 4\n'),
      `${FILE}: line 11: spec.elasticPolicy: a gang has a fixed size, so workers cannot come and go between minReplicas and maxReplicas; remove it and set spec.pytorchReplicaSpecs.Worker.replicas`,
    ],
    [
      'an unknown restartPolicy',
      edited(FILE, 'restartPolicy: OnFailure', 'restartPolicy: Sometimes'),
      `${FILE}: line 14: spec.pytorchReplicaSpecs.Master.restartPolicy: must be Always, OnFailure, Never or ExitCode (got "Sometimes")`,
    ],
    [
      'one replica type twice, in two cases',
      edited(FILE, '    Worker:', '    master: {template: {spec: {}}}\n    Worker:'),
      `${FILE}: line 29: spec.pytorchReplicaSpecs.master: is replica type Master again (also spec.pytorchReplicaSpecs.Master); keep one`,
    ],
    [
      'no replica specs',
      edited(FILE, '  pytorchReplicaSpecs:', '  pyTorchReplicaSpecs:'),
      `${FILE}: line 10: spec.pytorchReplicaSpecs: is required`,
    ],
    [
      'a worker template without an image',
      edited(
        FILE,
        '              image: docker.io/kubeflowkatib/pytorch-mnist:v1beta1-45c5727\n              imagePullPolicy: Always\n              command:\n                - python3\n                - /opt/pytorch-mnist/mnist.py\n                - --epochs=1\n              resources:\n                requests:\n                  cpu: 2',
        '              imagePullPolicy: Always\n              command:\n                - python3\n                - /opt/pytorch-mnist/mnist.py\n                - --epochs=1\n              resources:\n                requests:\n                  cpu: 2',
      ),
      `${FILE}: line 35: spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].image: is required`,
    ],
    [
      'a backoffLimit over Muster’s limit',
      edited(FILE, 'spec:\n', 'spec:\n  runPolicy:\n    backoffLimit: 101\n'),
      `${FILE}: line 12: spec.runPolicy.backoffLimit: must be at most 100: Muster starts a gang again at most 100 times (got 101)`,
    ],
    [
      'an older apiVersion',
      edited(FILE, 'apiVersion: kubeflow.org/v1', 'apiVersion: kubeflow.org/v1beta2'),
      `${FILE}: line 3: apiVersion: kubeflow.org/v1beta2 is not supported for kind PyTorchJob; use kubeflow.org/v1`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toBe(expected);
  });
});

describe('TFJob (kubeflow.org/v1)', () => {
  const FILE = 'sample-tfjob.yaml';

  it('becomes the pod sets chief, ps and worker in the namespace it names', () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'dist-mnist',
      queue: 'user-queue',
      namespace: 'ml',
      podSets: [
        {
          name: 'chief',
          count: 1,
          requests: { cpu: '1', memory: '1Gi', pods: '1' },
          restartPolicy: 'Never',
        },
        {
          name: 'ps',
          count: 1,
          requests: { cpu: '500m', memory: '512Mi', pods: '1' },
          restartPolicy: 'Never',
        },
        {
          name: 'worker',
          count: 3,
          requests: { cpu: '2', memory: '2Gi', pods: '1' },
          restartPolicy: 'OnFailure',
        },
      ],
    });
    expect(warnings).toEqual([`${FILE}: line 4: ${TRAINING_OPERATOR}`]);
  });

  it('leaves out a replica type of 0 replicas, adds an Evaluator, and warns about successPolicy', () => {
    const text = edited(
      FILE,
      '  tfReplicaSpecs:\n',
      '  successPolicy: AllWorkers\n  tfReplicaSpecs:\n    Evaluator:\n      template: {spec: {containers: [{name: tensorflow, image: kubeflow/tf-dist-mnist-test:latest}]}}\n',
    ).replace('    PS:\n      replicas: 1', '    PS:\n      replicas: 0');
    const { draft, warnings } = convert(FILE, text);
    expect(draft.spec.podSets.map((p) => [p.name, p.count])).toEqual([
      ['chief', 1],
      ['worker', 3],
      ['evaluator', 1],
    ]);
    expect(warnings[1]).toBe(
      `${FILE}: line 11: spec.successPolicy: is not applied: a Muster gang succeeds when every member has succeeded, parameter servers included`,
    );
  });

  it.each([
    [
      'the old Master replica type',
      edited(FILE, '    Chief:', '    Master:'),
      `${FILE}: line 12: spec.tfReplicaSpecs.Master: not a TFJob replica type; use Chief, PS, Worker or Evaluator (Master is the old name of Chief; write Chief)`,
    ],
    [
      'a job whose every replica type has 0 replicas',
      edited(FILE, 'replicas: 1', 'replicas: 0')
        .replace('replicas: 1', 'replicas: 0')
        .replace('replicas: 3', 'replicas: 0'),
      `${FILE}: line 11: spec.tfReplicaSpecs: has no pods: every replica type has replicas 0; give one at least 1`,
    ],
    [
      'negative replicas',
      edited(FILE, 'replicas: 3', 'replicas: -1'),
      `${FILE}: line 36: spec.tfReplicaSpecs.Worker.replicas: must be a whole number of 0 or more (got -1)`,
    ],
    [
      'a replica spec without a template',
      edited(
        FILE,
        '    PS:\n      replicas: 1\n      template:\n',
        '    PS:\n      replicas: 1\n      template: []\n      unused:\n',
      ),
      `${FILE}: line 26: spec.tfReplicaSpecs.PS.template: must be a map (got a list)`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toBe(expected);
  });
});

describe('JAXJob (kubeflow.org/v1)', () => {
  const FILE = 'sample-jaxjob.yaml';

  it('becomes the pod set worker', () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'jaxjob-simple',
      queue: 'user-queue',
      podSets: [
        {
          name: 'worker',
          count: 2,
          requests: { cpu: '1', memory: '200Mi', pods: '1' },
          restartPolicy: 'OnFailure',
        },
      ],
    });
    expect(warnings).toEqual([`${FILE}: line 3: ${TRAINING_OPERATOR}`]);
  });

  it('runs its pods with Never when the replica type names no restartPolicy', () => {
    const { draft } = convert(FILE, edited(FILE, '      restartPolicy: OnFailure\n', ''));
    expect(podTemplate(draft, 'worker').spec).toMatchObject({ restartPolicy: 'Never' });
  });

  it.each([
    [
      'a Master',
      edited(FILE, '    Worker:', '    Master:'),
      `${FILE}: line 10: spec.jaxReplicaSpecs.Master: not a JAXJob replica type; use Worker`,
    ],
    [
      'replica specs that are a list',
      edited(FILE, '  jaxReplicaSpecs:\n', '  jaxReplicaSpecs: []\n  unused:\n'),
      `${FILE}: line 9: spec.jaxReplicaSpecs: must be a map (got a list)`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toBe(expected);
  });
});

describe('PaddleJob (kubeflow.org/v1)', () => {
  const FILE = 'sample-paddlejob.yaml';

  it('becomes the pod set worker', () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'paddle-simple-cpu',
      queue: 'user-queue',
      podSets: [
        {
          name: 'worker',
          count: 2,
          requests: { cpu: '1', memory: '256Mi', pods: '1' },
          restartPolicy: 'OnFailure',
        },
      ],
    });
    expect(warnings).toEqual([`${FILE}: line 3: ${TRAINING_OPERATOR}`]);
  });

  it.each([
    [
      'an elastic policy',
      edited(FILE, 'spec:\n', 'spec:\n  elasticPolicy: {minReplicas: 1, maxReplicas: 2}\n'),
      `${FILE}: line 10: spec.elasticPolicy: a gang has a fixed size, so workers cannot come and go between minReplicas and maxReplicas; remove it and set spec.paddleReplicaSpecs.Worker.replicas`,
    ],
    [
      'a PS',
      edited(FILE, '    Worker:', '    PS:'),
      `${FILE}: line 11: spec.paddleReplicaSpecs.PS: not a PaddleJob replica type; use Master or Worker`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toBe(expected);
  });
});

describe('XGBoostJob (kubeflow.org/v1)', () => {
  const FILE = 'sample-xgboostjob.yaml';

  it('becomes the pod sets master and worker; ExitCode runs as Never, with a warning', () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'xgboost-dist-iris-test-train',
      queue: 'user-queue',
      podSets: [
        {
          name: 'master',
          count: 1,
          requests: { cpu: '500m', memory: '256Mi', pods: '1' },
          restartPolicy: 'Never',
        },
        {
          name: 'worker',
          count: 2,
          requests: { cpu: '500m', memory: '256Mi', pods: '1' },
          restartPolicy: 'Never',
        },
      ],
    });
    expect(warnings).toEqual([
      `${FILE}: line 4: ${TRAINING_OPERATOR}`,
      `${FILE}: line 29: spec.xgbReplicaSpecs.Worker.restartPolicy: ExitCode is not applied: Muster runs these pods with restartPolicy Never and retries no exit code itself; a member that fails fails the gang, or starts it again up to its max restarts`,
    ]);
  });

  it.each([
    [
      'a Master of 0 replicas',
      edited(FILE, 'replicas: 1', 'replicas: 0'),
      `${FILE}: line 13: spec.xgbReplicaSpecs.Master.replicas: must be 1: an XGBoostJob has one Master (got 0)`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toBe(expected);
  });

  it('refuses a job without a Master, naming where it belongs', () => {
    const text = sample(FILE);
    const withoutMaster =
      text.slice(0, text.indexOf('    Master:')) + text.slice(text.indexOf('    Worker:'));
    expect(refusal(FILE, withoutMaster)).toBe(
      `${FILE}: line 11: spec.xgbReplicaSpecs.Master: is required: an XGBoostJob has a Master`,
    );
  });
});

describe('MPIJob (kubeflow.org/v2beta1)', () => {
  const FILE = 'sample-mpijob.yaml';

  it('becomes the pod sets launcher (1) and worker; backoffLimit becomes max restarts', () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'pi',
      queue: 'user-queue',
      maxRestarts: 2,
      podSets: [
        {
          name: 'launcher',
          count: 1,
          requests: { cpu: '100m', memory: '128Mi', pods: '1' },
          restartPolicy: 'OnFailure',
        },
        {
          name: 'worker',
          count: 2,
          requests: { cpu: '1', memory: '1Gi', pods: '1' },
          restartPolicy: 'Never',
        },
      ],
    });
    expect(warnings).toEqual([
      `${FILE}: line 4: ${MPI_OPERATOR}`,
      `${FILE}: line 12: spec.runPolicy.cleanPodPolicy: is not applied: Muster cleans up no pods by this policy`,
    ]);
  });

  it('runs no workers when Worker names no replicas, as the MPI Operator does, and says so', () => {
    const { draft, warnings } = convert(
      FILE,
      edited(FILE, '    Worker:\n      replicas: 2\n', '    Worker:\n'),
    );
    expect(draft.spec.podSets.map((p) => [p.name, p.count])).toEqual([['launcher', 1]]);
    expect(warnings).toEqual([
      `${FILE}: line 4: ${MPI_OPERATOR}`,
      `${FILE}: line 35: spec.mpiReplicaSpecs.Worker.replicas: is not set, so no worker runs (the MPI Operator's default is 0); set the number of workers`,
      `${FILE}: line 12: spec.runPolicy.cleanPodPolicy: is not applied: Muster cleans up no pods by this policy`,
    ]);
  });

  it('counts the launcher once with runLauncherAsWorker, and warns about it', () => {
    const { draft, warnings } = convert(
      FILE,
      edited(
        FILE,
        '  slotsPerWorker: 1\n',
        '  slotsPerWorker: 1\n  runLauncherAsWorker: true\n  mpiImplementation: Intel\n',
      ),
    );
    expect(draft.spec.podSets.map((p) => [p.name, p.count])).toEqual([
      ['launcher', 1],
      ['worker', 2],
    ]);
    expect(warnings[1]).toBe(
      `${FILE}: line 11: spec.runLauncherAsWorker: changes no member count: the launcher is one pod either way, and Muster writes no hostfile that lists it as a worker`,
    );
  });

  it.each([
    [
      'two launchers',
      edited(FILE, 'replicas: 1', 'replicas: 2'),
      `${FILE}: line 17: spec.mpiReplicaSpecs.Launcher.replicas: must be 1: an MPIJob has one Launcher (got 2)`,
    ],
    [
      'a launcher spelled in lower case',
      edited(FILE, '    Launcher:', '    launcher:'),
      `${FILE}: line 16: spec.mpiReplicaSpecs.launcher: not an MPIJob replica type; use Launcher or Worker`,
    ],
    [
      'a restartPolicy the MPI Operator does not take',
      edited(FILE, '      replicas: 2\n', '      replicas: 2\n      restartPolicy: ExitCode\n'),
      `${FILE}: line 37: spec.mpiReplicaSpecs.Worker.restartPolicy: must be Never or OnFailure (got "ExitCode")`,
    ],
    [
      'no workers written as 0',
      edited(FILE, 'replicas: 2', 'replicas: 0'),
      `${FILE}: line 36: spec.mpiReplicaSpecs.Worker.replicas: must be a positive integer (got 0)`,
    ],
    [
      'an unknown MPI implementation',
      edited(FILE, '  slotsPerWorker: 1\n', '  slotsPerWorker: 1\n  mpiImplementation: LAM\n'),
      `${FILE}: line 11: spec.mpiImplementation: must be OpenMPI, Intel or MPICH (got "LAM")`,
    ],
    [
      'the Training Operator’s v1 MPIJob',
      edited(FILE, 'apiVersion: kubeflow.org/v2beta1', 'apiVersion: kubeflow.org/v1'),
      `${FILE}: line 3: apiVersion: kubeflow.org/v1 is not supported for kind MPIJob; use kubeflow.org/v2beta1`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toBe(expected);
  });
});

describe('RayCluster (ray.io/v1)', () => {
  const FILE = 'sample-raycluster.yaml';

  it('becomes the pod set head (1) and one per worker group of replicas × numOfHosts', () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'raycluster-complete',
      queue: 'user-queue',
      podSets: [
        { name: 'head', count: 1, requests: { cpu: '1', memory: '1953125Ki', pods: '1' } },
        { name: 'small-group', count: 1, requests: { cpu: '1', memory: '1000000000', pods: '1' } },
        { name: 'slices', count: 4, requests: { cpu: '4', memory: '7812500Ki', pods: '1' } },
      ],
    });
    expect(warnings).toEqual([`${FILE}: line 4: ${KUBERAY}`]);
    expect(draft.origins.locate('spec.pod_sets[2].name')).toBe(
      'spec.workerGroupSpecs[1].groupName, line 54',
    );
  });

  it('counts minReplicas when replicas is absent, keeps replicas within maxReplicas, and leaves out a group of no pods', () => {
    const text = edited(FILE, '    - replicas: 1\n      minReplicas: 1\n', '    - minReplicas: 3\n')
      .replace('    - replicas: 2\n', '    - replicas: 9\n')
      .replace(
        '  workerGroupSpecs:\n',
        '  workerGroupSpecs:\n    - {groupName: idle, template: {spec: {containers: [{name: w, image: rayproject/ray:2.9.0}]}}}\n',
      );
    const { draft, warnings } = convert(FILE, text);
    expect(draft.spec.podSets.map((p) => [p.name, p.count])).toEqual([
      ['head', 1],
      ['small-group', 3],
      ['slices', 8],
    ]);
    expect(warnings.slice(1)).toEqual([
      `${FILE}: line 33: spec.workerGroupSpecs[0].replicas: gives the group no pods (KubeRay runs replicas, else minReplicas, else none), so Muster leaves it out; set replicas to run it`,
      `${FILE}: line 50: spec.workerGroupSpecs[2].replicas: is 9, more than maxReplicas; KubeRay runs 4, as does Muster`,
    ]);
  });

  it.each([
    [
      'the autoscaler',
      edited(
        FILE,
        "  rayVersion: '2.9.0'\n",
        "  rayVersion: '2.9.0'\n  enableInTreeAutoscaling: true\n",
      ),
      `${FILE}: line 11: spec.enableInTreeAutoscaling: a gang has a fixed size, so the Ray autoscaler cannot add or remove workers; remove it and set each worker group's replicas`,
    ],
    [
      'two worker groups of one name',
      edited(FILE, 'groupName: slices', 'groupName: small-group'),
      `${FILE}: line 54: spec.workerGroupSpecs[1].groupName: duplicate worker group name "small-group" (also at spec.workerGroupSpecs[0].groupName)`,
    ],
    [
      'a group name that is no DNS label',
      edited(FILE, 'groupName: small-group', 'groupName: Small_Group'),
      `${FILE}: line 36: spec.workerGroupSpecs[0].groupName: pod set name must be a DNS-1123 label`,
    ],
    [
      'a group named head',
      edited(FILE, 'groupName: small-group', 'groupName: head'),
      `${FILE}: line 36: spec.workerGroupSpecs[0].groupName: "head" names Muster's pod set of the head; rename the group`,
    ],
    [
      'a group without a name',
      edited(FILE, '      groupName: small-group\n', ''),
      `${FILE}: line 33: spec.workerGroupSpecs[0].groupName: is required`,
    ],
    [
      'minReplicas over maxReplicas',
      edited(FILE, 'minReplicas: 0', 'minReplicas: 5'),
      `${FILE}: line 52: spec.workerGroupSpecs[1].minReplicas: is 5, more than maxReplicas (4)`,
    ],
    [
      'numOfHosts 0',
      edited(FILE, 'numOfHosts: 2', 'numOfHosts: 0'),
      `${FILE}: line 51: spec.workerGroupSpecs[1].numOfHosts: must be a positive integer (got 0)`,
    ],
    [
      'no head',
      edited(FILE, '  headGroupSpec:', '  head:'),
      `${FILE}: line 9: spec.headGroupSpec: is required`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toContain(expected);
  });
});

describe('RayJob (ray.io/v1)', () => {
  const FILE = 'sample-rayjob.yaml';

  it("becomes the cluster's pod sets and a submitter of KubeRay's default shape", () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'rayjob-sample',
      queue: 'user-queue',
      podSets: [
        { name: 'head', count: 1, requests: { cpu: '1', memory: '2Gi', pods: '1' } },
        { name: 'small-group', count: 1, requests: { cpu: '200m', pods: '1' } },
        {
          name: 'submitter',
          count: 1,
          requests: { cpu: '500m', memory: '200Mi', pods: '1' },
          restartPolicy: 'Never',
        },
      ],
    });
    expect(podTemplate(draft, 'submitter')).toEqual({
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'ray-job-submitter',
            image: 'rayproject/ray:2.52.0',
            resources: {
              limits: { cpu: '1', memory: '1Gi' },
              requests: { cpu: '500m', memory: '200Mi' },
            },
          },
        ],
      },
    });
    expect(warnings).toEqual([
      `${FILE}: line 4: ${KUBERAY}`,
      `${FILE}: line 11: spec.entrypoint: is not run: Muster submits nothing to the Ray cluster, and the submitter pod runs its container's own command`,
      `${FILE}: line 10: spec.shutdownAfterJobFinishes: is not applied: Muster does not see the Ray job end, and the gang runs until every member has ended, which Ray heads and workers do not do by themselves; cancel the job (muster cancel) when it is done`,
    ]);
  });

  it('runs no submitter in HTTPMode or InteractiveMode, and takes a submitterPodTemplate when given', () => {
    for (const mode of ['HTTPMode', 'InteractiveMode', 'SidecarMode']) {
      const { draft } = convert(
        FILE,
        edited(FILE, 'spec:\n', `spec:\n  submissionMode: ${mode}\n`),
      );
      expect(draft.spec.podSets.map((p) => p.name)).toEqual(['head', 'small-group']);
    }
    const own = edited(
      FILE,
      'spec:\n',
      'spec:\n  backoffLimit: 2\n  submitterPodTemplate:\n    spec:\n      restartPolicy: Never\n      containers: [{name: submit, image: registry.example/submit:1, resources: {requests: {cpu: 100m}}}]\n',
    );
    const { draft } = convert(FILE, own);
    expect(view(draft).podSets[2]).toEqual({
      name: 'submitter',
      count: 1,
      requests: { cpu: '100m', pods: '1' },
      restartPolicy: 'Never',
    });
    expect(draft.spec.maxRestarts).toBe(2);
  });

  it.each([
    [
      'a job for a cluster that exists',
      edited(FILE, 'spec:\n', 'spec:\n  clusterSelector:\n    ray.io/cluster: shared\n'),
      `${FILE}: line 10: spec.clusterSelector: runs the job on a RayCluster that already exists, but Muster creates the cluster with the job, where it places the gang; remove it and give spec.rayClusterSpec`,
    ],
    [
      'an unknown submission mode',
      edited(FILE, 'spec:\n', 'spec:\n  submissionMode: Batch\n'),
      `${FILE}: line 10: spec.submissionMode: must be K8sJobMode, HTTPMode, InteractiveMode or SidecarMode (got "Batch")`,
    ],
    [
      'no cluster spec',
      edited(FILE, '  rayClusterSpec:', '  rayCluster:'),
      `${FILE}: line 9: spec.rayClusterSpec: is required`,
    ],
    [
      'a worker group named submitter',
      edited(FILE, 'groupName: small-group', 'groupName: submitter'),
      `${FILE}: line 43: spec.rayClusterSpec.workerGroupSpecs[0].groupName: "submitter" names Muster's pod set of the submitter; rename the group`,
    ],
    [
      'the autoscaler',
      edited(
        FILE,
        "    rayVersion: '2.52.0'\n",
        "    rayVersion: '2.52.0'\n    enableInTreeAutoscaling: true\n",
      ),
      `${FILE}: line 19: spec.rayClusterSpec.enableInTreeAutoscaling: a gang has a fixed size`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toContain(expected);
  });
});

describe('LeaderWorkerSet (leaderworkerset.x-k8s.io/v1)', () => {
  const FILE = 'sample-leaderworkerset.yaml';

  it('becomes the pod sets leader (replicas) and worker (replicas × (size − 1))', () => {
    const { draft, warnings } = convert(FILE);
    expect(view(draft)).toEqual({
      ...PLAIN,
      name: 'nginx-leaderworkerset',
      queue: 'user-queue',
      labels: { app: 'nginx' },
      podSets: [
        { name: 'leader', count: 2, requests: { cpu: '100m', pods: '1' } },
        { name: 'worker', count: 4, requests: { cpu: '200m', pods: '1' } },
      ],
    });
    expect(warnings).toEqual([`${FILE}: line 4: ${LWS_CONTROLLER}`]);
    expect(draft.origins.locate('spec.pod_sets[1].count')).toBe(
      'spec.leaderWorkerTemplate.size, line 23',
    );
  });

  it('runs the worker template for leaders without their own, and only leaders for size 1', () => {
    const text = sample(FILE);
    const noLeader =
      text.slice(0, text.indexOf('    leaderTemplate:')) + text.slice(text.indexOf('    size: 3'));
    expect(view(convert(FILE, noLeader).draft).podSets).toEqual([
      { name: 'leader', count: 2, requests: { cpu: '200m', pods: '1' } },
      { name: 'worker', count: 4, requests: { cpu: '200m', pods: '1' } },
    ]);
    const { draft } = convert(
      FILE,
      edited(FILE, 'size: 3', 'size: 1').replace('replicas: 2', 'replicas: 3'),
    );
    expect(draft.spec.podSets.map((p) => [p.name, p.count])).toEqual([['leader', 3]]);
  });

  it("warns about Kueue's pod set group, the restart and subgroup policies and LeaderReady", () => {
    const text = edited(
      FILE,
      '    workerTemplate:\n',
      '    restartPolicy: RecreateGroupOnPodRestart\n    subGroupPolicy: {subGroupSize: 2}\n    workerTemplate:\n      metadata:\n        annotations:\n          kueue.x-k8s.io/podset-required-topology: cloud.provider.com/topology-rack\n          kueue.x-k8s.io/podset-group-name: lws-group\n',
    ).replace('  replicas: 2\n', '  replicas: 2\n  startupPolicy: LeaderReady\n');
    const { draft, warnings } = convert(FILE, text);
    expect(draft.spec.podSets[1]!.topology).toEqual({
      mode: TopologyMode.TOPOLOGY_MODE_REQUIRED,
      level: 'cloud.provider.com/topology-rack',
    });
    expect(draft.spec.podSetGroups).toEqual([]);
    expect(warnings.slice(1)).toEqual([
      `${FILE}: line 25: spec.leaderWorkerTemplate.restartPolicy: is not applied: Muster recreates no group when one of its pods restarts; a member that fails fails the whole gang, or starts it again up to its max restarts`,
      `${FILE}: line 26: spec.leaderWorkerTemplate.subGroupPolicy: is not applied: Muster places the leaders and the workers as two pod sets, without subgroups`,
      `${FILE}: line 12: spec.startupPolicy: is not applied: Muster starts the workers together with the leaders, not once they are ready`,
      `${FILE}: line 31: spec.leaderWorkerTemplate.workerTemplate.metadata.annotations["kueue.x-k8s.io/podset-group-name"]: is not applied: Muster cannot keep each leader with its own workers in one domain; a topology annotation holds for all the set's leaders, or all its workers, together`,
    ]);
  });

  it.each([
    [
      'a size of 0',
      edited(FILE, 'size: 3', 'size: 0'),
      `${FILE}: line 23: spec.leaderWorkerTemplate.size: must be a positive integer (got 0)`,
    ],
    [
      'no groups',
      edited(FILE, 'replicas: 2', 'replicas: 0'),
      `${FILE}: line 11: spec.replicas: must be a positive integer (got 0)`,
    ],
    [
      'volume claim templates',
      edited(
        FILE,
        '    size: 3\n',
        '    size: 3\n    volumeClaimTemplates:\n      - metadata: {name: cache}\n',
      ),
      `${FILE}: line 24: spec.leaderWorkerTemplate.volumeClaimTemplates: Muster makes no PersistentVolumeClaims for the pods; remove it and give the templates their volumes (an ephemeral volume makes one claim per pod)`,
    ],
    [
      'no worker template',
      edited(FILE, '    workerTemplate:', '    workersTemplate:'),
      `${FILE}: line 12: spec.leaderWorkerTemplate.workerTemplate: is required`,
    ],
  ])('refuses %s, naming the field and line', (_what, text, expected) => {
    expect(refusal(FILE, text)).toBe(expected);
  });
});

describe('TrainJob (trainer.kubeflow.org/v1alpha1)', () => {
  const FILE = 'sample-trainjob.yaml';

  it('is refused at spec.runtimeRef, saying what to submit instead', () => {
    expect(refusal(FILE, sample(FILE))).toBe(
      `${FILE}: line 9: spec.runtimeRef: a TrainJob's pods come from the runtime it names "torch-distributed", a TrainingRuntime or ClusterTrainingRuntime the CLI cannot see; submit what the runtime renders instead: a JobSet (jobset.x-k8s.io/v1alpha2) with its replicated jobs, or a PyTorchJob (kubeflow.org/v1)`,
    );
  });

  it('is refused the same way without a runtimeRef', () => {
    expect(refusal(FILE, edited(FILE, '  runtimeRef:\n    name: torch-distributed\n', ''))).toBe(
      `${FILE}: line 8: spec.runtimeRef: a TrainJob's pods come from the runtime it names, a TrainingRuntime or ClusterTrainingRuntime the CLI cannot see; submit what the runtime renders instead: a JobSet (jobset.x-k8s.io/v1alpha2) with its replicated jobs, or a PyTorchJob (kubeflow.org/v1)`,
    );
  });
});
