// The Kubeflow Training Operator's kubeflow.org/v1 jobs (PyTorchJob, TFJob, JAXJob, PaddleJob,
// XGBoostJob): each replica type with pods becomes a pod set named after it in lower case
// ("master", "worker", "chief", "ps", "evaluator"), of `replicas` members.
import type { DocumentReader, YamlMap } from './document-reader';
import type { KindConversion } from './job-settings';
import { kubernetesSettings, readObjectMeta } from './object-meta';
import { flag, warnIfSet } from './operator-fields';
import {
  readRunPolicy,
  replicaPodSets,
  type ReplicaRules,
  type ReplicaTypeRule,
} from './replica-specs';

export const TRAINING_API_VERSION = 'kubeflow.org/v1';

export type TrainingKind = 'PyTorchJob' | 'TFJob' | 'JAXJob' | 'PaddleJob' | 'XGBoostJob';

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never', 'ExitCode'] as const;
const OPERATOR = 'the Training Operator';

function rules(
  kind: TrainingKind,
  field: string,
  restartPolicy: string,
  types: readonly Omit<ReplicaTypeRule, 'restartPolicy'>[],
  hints?: ReplicaRules['hints'],
): ReplicaRules {
  return {
    kind,
    field,
    types: types.map((t) => ({ ...t, restartPolicy })),
    anyCase: true,
    restartPolicies: RESTART_POLICIES,
    operator: OPERATOR,
    ...(hints ? { hints } : {}),
  };
}

// Replica types, defaults and checks as the Training Operator v1.9 has them (its defaulting
// and validating webhooks): a PyTorchJob's and an XGBoostJob's Master is exactly one pod.
const KINDS: Record<TrainingKind, ReplicaRules> = {
  PyTorchJob: rules('PyTorchJob', 'pytorchReplicaSpecs', 'OnFailure', [
    { type: 'Master', defaultReplicas: 1, replicas: 'one' },
    { type: 'Worker', defaultReplicas: 1, replicas: 'positive' },
  ]),
  TFJob: rules(
    'TFJob',
    'tfReplicaSpecs',
    'Never',
    [
      { type: 'Chief', defaultReplicas: 1, replicas: 'any' },
      { type: 'PS', defaultReplicas: 1, replicas: 'any' },
      { type: 'Worker', defaultReplicas: 1, replicas: 'any' },
      { type: 'Evaluator', defaultReplicas: 1, replicas: 'any' },
    ],
    { Master: 'Master is the old name of Chief; write Chief' },
  ),
  JAXJob: rules('JAXJob', 'jaxReplicaSpecs', 'Never', [
    { type: 'Worker', defaultReplicas: 1, replicas: 'any' },
  ]),
  PaddleJob: rules('PaddleJob', 'paddleReplicaSpecs', 'OnFailure', [
    { type: 'Master', defaultReplicas: 1, replicas: 'any' },
    { type: 'Worker', defaultReplicas: 1, replicas: 'any' },
  ]),
  XGBoostJob: rules('XGBoostJob', 'xgbReplicaSpecs', 'Never', [
    { type: 'Master', defaultReplicas: 1, replicas: 'one', required: true },
    { type: 'Worker', defaultReplicas: 1, replicas: 'any' },
  ]),
};

const NO_OPERATOR =
  'Muster runs the pod templates as they are, without the Training Operator: the pods get no MASTER_ADDR, WORLD_SIZE, RANK, TF_CONFIG or other rendezvous variables and no Services, so the program must find its peers itself';

/** The converter of one Training Operator kind. */
export function trainingJobConverter(
  kind: TrainingKind,
): (reader: DocumentReader, doc: YamlMap) => KindConversion {
  return (reader, doc) => convertTrainingJob(reader, doc, kind);
}

function convertTrainingJob(
  reader: DocumentReader,
  doc: YamlMap,
  kind: TrainingKind,
): KindConversion {
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  const replicaRules = KINDS[kind];
  reader.warn('kind', NO_OPERATOR);
  if ((kind === 'PyTorchJob' || kind === 'PaddleJob') && spec.elasticPolicy != null) {
    reader.fail(
      'spec.elasticPolicy',
      `a gang has a fixed size, so workers cannot come and go between minReplicas and maxReplicas; remove it and set spec.${replicaRules.field}.Worker.replicas`,
    );
  }
  if (kind === 'TFJob') {
    warnIfSet(
      reader,
      spec,
      'spec',
      'successPolicy',
      'is not applied: a Muster gang succeeds when every member has succeeded, parameter servers included',
    );
    if (flag(reader, spec, 'spec', 'enableDynamicWorker'))
      reader.warn('spec.enableDynamicWorker', 'is not applied: Muster writes no TF_CONFIG');
  }
  const podSets = replicaPodSets(reader, spec, replicaRules);
  readRunPolicy(reader, spec, settings);
  return { kind, settings, podSets, groups: [] };
}
