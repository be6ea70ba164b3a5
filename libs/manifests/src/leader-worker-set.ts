// A LeaderWorkerSet (leaderworkerset.x-k8s.io/v1): spec.replicas groups of `size` pods, one leader
// and size − 1 workers each. The whole set is one gang: the pod set "leader" of one pod per group
// and, when groups have workers, the pod set "worker" of replicas × (size − 1) pods.
import type { DocumentReader, YamlMap } from './document-reader';
import { isMap } from './document-reader';
import type { KindConversion } from './job-settings';
import { kubernetesSettings, readObjectMeta } from './object-meta';
import { memberProduct, warnIfSet } from './operator-fields';
import { childPath } from './paths';
import type { PodSetSource } from './pod-sets';

export const LWS_API_VERSION = 'leaderworkerset.x-k8s.io/v1';

/** Kueue's annotation tying a group's leader to its workers in one topology domain. */
export const KUEUE_POD_SET_GROUP = 'kueue.x-k8s.io/podset-group-name';

const NO_OPERATOR =
  'Muster runs the pod templates as they are, without the LeaderWorkerSet controller: the pods get no LWS_LEADER_ADDRESS, LWS_GROUP_SIZE or LWS_WORKER_INDEX and no headless Service, and nothing ties a worker to its own leader';

export function convertLeaderWorkerSet(reader: DocumentReader, doc: YamlMap): KindConversion {
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  reader.warn('kind', NO_OPERATOR);
  const replicas = reader.positiveInt(spec, 'spec', 'replicas') ?? 1;
  const lwtPath = 'spec.leaderWorkerTemplate';
  const lwt = reader.map(spec, 'spec', 'leaderWorkerTemplate', true);
  const size = reader.positiveInt(lwt, lwtPath, 'size') ?? 1;
  const sizePath = childPath(lwtPath, 'size');
  const workerPath = childPath(lwtPath, 'workerTemplate');
  const workerTemplate = reader.map(lwt, lwtPath, 'workerTemplate', true);
  const ownLeader = reader.map(lwt, lwtPath, 'leaderTemplate');
  const leaderPath = ownLeader ? childPath(lwtPath, 'leaderTemplate') : workerPath;

  const claims = lwt.volumeClaimTemplates;
  if (Array.isArray(claims) ? claims.length > 0 : claims !== undefined && claims !== null) {
    reader.fail(
      childPath(lwtPath, 'volumeClaimTemplates'),
      'Muster makes no PersistentVolumeClaims for the pods; remove it and give the templates their volumes (an ephemeral volume makes one claim per pod)',
    );
  }
  warnIfSet(
    reader,
    lwt,
    lwtPath,
    'restartPolicy',
    'is not applied: Muster recreates no group when one of its pods restarts; a member that fails fails the whole gang, or starts it again up to its max restarts',
  );
  warnIfSet(
    reader,
    lwt,
    lwtPath,
    'subGroupPolicy',
    'is not applied: Muster places the leaders and the workers as two pod sets, without subgroups',
  );
  if (reader.string(spec, 'spec', 'startupPolicy') === 'LeaderReady') {
    reader.warn(
      'spec.startupPolicy',
      'is not applied: Muster starts the workers together with the leaders, not once they are ready',
    );
  }
  warnPodSetGroup(reader, ownLeader, leaderPath);
  warnPodSetGroup(reader, workerTemplate, workerPath);

  const podSets: PodSetSource[] = [
    {
      name: 'leader',
      namePath: leaderPath,
      count: replicas,
      countPath: 'spec.replicas',
      template: ownLeader ?? workerTemplate,
      templatePath: leaderPath,
    },
  ];
  if (size > 1) {
    podSets.push({
      name: 'worker',
      namePath: workerPath,
      count: memberProduct(reader, sizePath, 'replicas × (size − 1)', replicas, size - 1),
      countPath: sizePath,
      template: workerTemplate,
      templatePath: workerPath,
    });
  }
  return { kind: 'LeaderWorkerSet', settings, podSets, groups: [] };
}

/**
 * Kueue's group annotation asks for each leader with its own workers in one domain. A gang has
 * at most one pod set group and it holds whole pod sets, so Muster cannot say that per group.
 */
function warnPodSetGroup(
  reader: DocumentReader,
  template: YamlMap | undefined,
  templatePath: string,
): void {
  const metadata = template?.metadata;
  const annotations = isMap(metadata) ? metadata.annotations : undefined;
  if (!isMap(annotations) || annotations[KUEUE_POD_SET_GROUP] === undefined) return;
  reader.warn(
    childPath(childPath(childPath(templatePath, 'metadata'), 'annotations'), KUEUE_POD_SET_GROUP),
    "is not applied: Muster cannot keep each leader with its own workers in one domain; a topology annotation holds for all the set's leaders, or all its workers, together",
  );
}
