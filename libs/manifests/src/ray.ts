// KubeRay's RayCluster and RayJob (ray.io/v1). The head is the pod set "head" of one pod; each
// worker group is a pod set named after its groupName, of replicas × numOfHosts pods. A RayJob
// adds the pod set "submitter" when KubeRay would run a submitter Job (K8sJobMode, the default).
import type { DocumentReader, YamlMap } from './document-reader';
import { isMap } from './document-reader';
import type { KindConversion } from './job-settings';
import { kubernetesSettings, readObjectMeta } from './object-meta';
import {
  flag,
  maxRestartsFrom,
  memberProduct,
  nonNegativeInt,
  orList,
  warnIfSet,
} from './operator-fields';
import { childPath, describeValue } from './paths';
import type { PodSetSource } from './pod-sets';

export const RAY_API_VERSION = 'ray.io/v1';

const HEAD = 'head';
const SUBMITTER = 'submitter';
const SUBMISSION_MODES = ['K8sJobMode', 'HTTPMode', 'InteractiveMode', 'SidecarMode'];

const NO_OPERATOR =
  "Muster runs the pod templates as they are, without KubeRay: it adds no `ray start` command and makes no head Service, so the containers' own commands must start Ray and reach the head";

export function convertRayCluster(reader: DocumentReader, doc: YamlMap): KindConversion {
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  reader.warn('kind', NO_OPERATOR);
  const podSets = rayClusterPodSets(reader, spec, 'spec', [HEAD]);
  return { kind: 'RayCluster', settings, podSets, groups: [] };
}

export function convertRayJob(reader: DocumentReader, doc: YamlMap): KindConversion {
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  reader.warn('kind', NO_OPERATOR);
  const selector = spec.clusterSelector;
  if (selector !== undefined && selector !== null && !(isMap(selector) && isEmpty(selector))) {
    reader.fail(
      'spec.clusterSelector',
      'runs the job on a RayCluster that already exists, but Muster creates the cluster with the job, where it places the gang; remove it and give spec.rayClusterSpec',
    );
  }
  const mode = reader.string(spec, 'spec', 'submissionMode') ?? 'K8sJobMode';
  if (!SUBMISSION_MODES.includes(mode)) {
    reader.fail(
      'spec.submissionMode',
      `must be ${orList(SUBMISSION_MODES)} (got ${JSON.stringify(mode)})`,
    );
  }
  const submits = mode === 'K8sJobMode';
  const clusterPath = 'spec.rayClusterSpec';
  const cluster = reader.map(spec, 'spec', 'rayClusterSpec', true);
  const podSets = rayClusterPodSets(
    reader,
    cluster,
    clusterPath,
    submits ? [HEAD, SUBMITTER] : [HEAD],
  );
  if (submits) podSets.push(submitterPodSet(reader, spec, cluster, clusterPath));

  if (reader.string(spec, 'spec', 'entrypoint') !== undefined) {
    reader.warn(
      'spec.entrypoint',
      submits
        ? "is not run: Muster submits nothing to the Ray cluster, and the submitter pod runs its container's own command"
        : 'is not run: Muster submits nothing to the Ray cluster',
    );
  }
  // Each of KubeRay's retries makes a new cluster: a restart of the whole gang.
  const restarts = maxRestartsFrom(reader, spec, 'spec', 'backoffLimit');
  if (restarts) settings.maxRestarts = restarts;
  if (flag(reader, spec, 'spec', 'shutdownAfterJobFinishes')) {
    reader.warn(
      'spec.shutdownAfterJobFinishes',
      'is not applied: Muster does not see the Ray job end, and the gang runs until every member has ended, which Ray heads and workers do not do by themselves; cancel the job (muster cancel) when it is done',
    );
  }
  warnIfSet(
    reader,
    spec,
    'spec',
    'deletionStrategy',
    'is not applied: Muster deletes nothing when the Ray job ends',
  );
  for (const key of ['activeDeadlineSeconds', 'preRunningDeadlineSeconds'])
    warnIfSet(reader, spec, 'spec', key, 'is not applied: Muster sets no deadline on the job');
  warnIfSet(
    reader,
    spec,
    'spec',
    'submitterConfig',
    'is not applied: the submitter is one member of the gang, started once with it',
  );
  return { kind: 'RayJob', settings, podSets, groups: [] };
}

function rayClusterPodSets(
  reader: DocumentReader,
  cluster: YamlMap,
  path: string,
  reserved: readonly string[],
): PodSetSource[] {
  if (flag(reader, cluster, path, 'enableInTreeAutoscaling')) {
    reader.fail(
      childPath(path, 'enableInTreeAutoscaling'),
      "a gang has a fixed size, so the Ray autoscaler cannot add or remove workers; remove it and set each worker group's replicas",
    );
  }
  const headPath = childPath(path, 'headGroupSpec');
  const head = reader.map(cluster, path, 'headGroupSpec', true);
  const podSets: PodSetSource[] = [
    {
      name: HEAD,
      namePath: headPath,
      count: 1,
      countPath: headPath,
      template: reader.map(head, headPath, 'template', true),
      templatePath: childPath(headPath, 'template'),
    },
  ];
  const groupsPath = childPath(path, 'workerGroupSpecs');
  const seen = new Map<string, string>();
  reader.list(cluster, path, 'workerGroupSpecs').forEach((entry, i) => {
    const groupPath = childPath(groupsPath, i);
    if (!isMap(entry)) {
      reader.fail(
        groupPath,
        `must be a map with groupName, replicas and template (got ${describeValue(entry)})`,
      );
    }
    const namePath = childPath(groupPath, 'groupName');
    const name = reader.string(entry, groupPath, 'groupName');
    if (name === undefined) reader.fail(namePath, 'is required');
    if (reserved.includes(name))
      reader.fail(namePath, `"${name}" names Muster's pod set of the ${name}; rename the group`);
    const earlier = seen.get(name);
    if (earlier !== undefined)
      reader.fail(namePath, `duplicate worker group name "${name}" (also at ${earlier})`);
    seen.set(name, namePath);
    const { count, countPath } = workerGroupCount(reader, entry, groupPath);
    const template = reader.map(entry, groupPath, 'template', true);
    if (count === 0) {
      reader.warn(
        countPath,
        'gives the group no pods (KubeRay runs replicas, else minReplicas, else none), so Muster leaves it out; set replicas to run it',
      );
      return;
    }
    podSets.push({
      name,
      namePath,
      count,
      countPath,
      template,
      templatePath: childPath(groupPath, 'template'),
    });
  });
  return podSets;
}

/** replicas (else minReplicas, else 0) within [minReplicas, maxReplicas], as KubeRay counts it, × numOfHosts. */
function workerGroupCount(
  reader: DocumentReader,
  group: YamlMap,
  groupPath: string,
): { count: number; countPath: string } {
  const min = nonNegativeInt(reader, group, groupPath, 'minReplicas');
  const max = nonNegativeInt(reader, group, groupPath, 'maxReplicas');
  const minPath = childPath(groupPath, 'minReplicas');
  const replicasPath = childPath(groupPath, 'replicas');
  if (min !== undefined && max !== undefined && min > max)
    reader.fail(minPath, `is ${min}, more than maxReplicas (${max})`);
  const replicas = nonNegativeInt(reader, group, groupPath, 'replicas');
  let pods = replicas ?? min ?? 0;
  if (replicas !== undefined && min !== undefined && replicas < min) {
    reader.warn(
      replicasPath,
      `is ${replicas}, less than minReplicas; KubeRay runs ${min}, as does Muster`,
    );
    pods = min;
  }
  if (replicas !== undefined && max !== undefined && replicas > max) {
    reader.warn(
      replicasPath,
      `is ${replicas}, more than maxReplicas; KubeRay runs ${max}, as does Muster`,
    );
    pods = max;
  }
  const hosts = reader.positiveInt(group, groupPath, 'numOfHosts') ?? 1;
  const countPath = replicas === undefined && min !== undefined ? minPath : replicasPath;
  return {
    count: memberProduct(reader, countPath, 'replicas × numOfHosts', pods, hosts),
    countPath,
  };
}

/** spec.submitterPodTemplate, else the submitter pod KubeRay makes by default. */
function submitterPodSet(
  reader: DocumentReader,
  spec: YamlMap,
  cluster: YamlMap,
  clusterPath: string,
): PodSetSource {
  const own = reader.map(spec, 'spec', 'submitterPodTemplate');
  if (own) {
    const path = 'spec.submitterPodTemplate';
    return {
      name: SUBMITTER,
      namePath: path,
      count: 1,
      countPath: path,
      template: own,
      templatePath: path,
    };
  }
  const at = spec.submissionMode === undefined ? 'spec' : 'spec.submissionMode';
  return {
    name: SUBMITTER,
    namePath: at,
    count: 1,
    countPath: at,
    template: defaultSubmitter(headImage(cluster)),
    // Its one written field, the image, comes from the head's first container.
    templatePath: `${clusterPath}.headGroupSpec.template`,
  };
}

/** KubeRay's default submitter: the head's image, 500m CPU and 200Mi requested, run once. */
function defaultSubmitter(image: unknown): YamlMap {
  return {
    spec: {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'ray-job-submitter',
          ...(image === undefined ? {} : { image }),
          resources: {
            limits: { cpu: '1', memory: '1Gi' },
            requests: { cpu: '500m', memory: '200Mi' },
          },
        },
      ],
    },
  };
}

function headImage(cluster: YamlMap): unknown {
  const head = cluster.headGroupSpec;
  const template = isMap(head) ? head.template : undefined;
  const podSpec = isMap(template) ? template.spec : undefined;
  const containers = isMap(podSpec) ? podSpec.containers : undefined;
  const first: unknown = Array.isArray(containers) ? containers[0] : undefined;
  return isMap(first) ? first.image : undefined;
}

function isEmpty(map: YamlMap): boolean {
  return Object.keys(map).length === 0;
}
