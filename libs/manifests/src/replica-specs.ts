// Kubeflow's replica specs (the Training Operator's kubeflow.org/v1 kinds and the MPI Operator's
// MPIJob): a map from replica type to {replicas, restartPolicy, template}. Each replica type
// with pods becomes one pod set named after it in lower case; the restartPolicy goes into its
// pod template, as the operators do. Also their shared spec.runPolicy.
import type { DocumentReader, YamlMap } from './document-reader';
import { isMap } from './document-reader';
import type { JobSettings } from './job-settings';
import { aKind, maxRestartsFrom, nonNegativeInt, orList, warnIfSet } from './operator-fields';
import { childPath } from './paths';
import type { PodSetSource } from './pod-sets';

export interface ReplicaTypeRule {
  /** As the operator spells it: "Master". The pod set is named in lower case: "master". */
  type: string;
  /** Replicas when the field is absent. */
  defaultReplicas: number;
  /** The operator's restartPolicy when the field is absent. */
  restartPolicy: string;
  /** any: 0 or more (0 leaves the pod set out); positive: 1 or more; one: exactly 1. */
  replicas: 'any' | 'positive' | 'one';
  /** The kind needs this replica type. */
  required?: boolean;
  /** Warned when replicas is not written (the operator's default is surprising). */
  unsetReplicasWarning?: string;
}

export interface ReplicaRules {
  kind: string;
  /** The field under spec: "pytorchReplicaSpecs". */
  field: string;
  types: readonly ReplicaTypeRule[];
  /** The Training Operator accepts any case ("worker"); the MPI Operator does not. */
  anyCase: boolean;
  restartPolicies: readonly string[];
  /** Types of other kinds or versions people write, with what to write instead. */
  hints?: Readonly<Record<string, string>>;
  /** "the Training Operator", for messages. */
  operator: string;
}

/** The pod sets of spec.<field>, in the order of `rules.types`. */
export function replicaPodSets(
  reader: DocumentReader,
  spec: YamlMap,
  rules: ReplicaRules,
): PodSetSource[] {
  const path = childPath('spec', rules.field);
  const specs = reader.map(spec, 'spec', rules.field, true);
  const written = new Map<ReplicaTypeRule, string>();
  for (const key of Object.keys(specs)) {
    const rule = rules.types.find((t) =>
      rules.anyCase ? t.type.toLowerCase() === key.toLowerCase() : t.type === key,
    );
    if (!rule) {
      const hint = rules.hints?.[key];
      reader.fail(
        childPath(path, key),
        `not ${aKind(rules.kind)} replica type; use ${orList(rules.types.map((t) => t.type))}${hint ? ` (${hint})` : ''}`,
      );
    }
    const earlier = written.get(rule);
    if (earlier !== undefined) {
      reader.fail(
        childPath(path, key),
        `is replica type ${rule.type} again (also ${childPath(path, earlier)}); keep one`,
      );
    }
    written.set(rule, key);
  }
  const podSets: PodSetSource[] = [];
  for (const rule of rules.types) {
    const key = written.get(rule);
    if (key === undefined) {
      if (rule.required)
        reader.fail(
          childPath(path, rule.type),
          `is required: ${aKind(rules.kind)} has a ${rule.type}`,
        );
      continue;
    }
    const podSet = replicaPodSet(reader, specs, path, key, rule, rules);
    if (podSet) podSets.push(podSet);
  }
  if (podSets.length === 0)
    reader.fail(path, 'has no pods: every replica type has replicas 0; give one at least 1');
  return podSets;
}

function replicaPodSet(
  reader: DocumentReader,
  specs: YamlMap,
  specsPath: string,
  key: string,
  rule: ReplicaTypeRule,
  rules: ReplicaRules,
): PodSetSource | undefined {
  const path = childPath(specsPath, key);
  const entry = reader.map(specs, specsPath, key, true);
  const countPath = childPath(path, 'replicas');
  const written =
    rule.replicas === 'positive'
      ? reader.positiveInt(entry, path, 'replicas')
      : nonNegativeInt(reader, entry, path, 'replicas');
  const count = written ?? rule.defaultReplicas;
  if (rule.replicas === 'one' && count !== 1)
    reader.fail(countPath, `must be 1: ${aKind(rules.kind)} has one ${rule.type} (got ${count})`);
  if (written === undefined && rule.unsetReplicasWarning)
    reader.warn(countPath, rule.unsetReplicasWarning);

  const policyPath = childPath(path, 'restartPolicy');
  const policy = reader.string(entry, path, 'restartPolicy') ?? rule.restartPolicy;
  if (!rules.restartPolicies.includes(policy)) {
    reader.fail(
      policyPath,
      `must be ${orList(rules.restartPolicies)} (got ${JSON.stringify(policy)})`,
    );
  }
  const templatePath = childPath(path, 'template');
  const template = reader.map(entry, path, 'template', true);
  if (count === 0) return undefined;
  // ExitCode is the operator's own retry rule; the pods themselves run with Never under it.
  const podPolicy = policy === 'ExitCode' ? 'Never' : policy;
  if (policy === 'ExitCode') {
    reader.warn(
      policyPath,
      'ExitCode is not applied: Muster runs these pods with restartPolicy Never and retries no exit code itself; a member that fails fails the gang, or starts it again up to its max restarts',
    );
  }
  return {
    name: rule.type.toLowerCase(),
    namePath: path,
    count,
    countPath,
    template: withRestartPolicy(reader, template, templatePath, podPolicy, rules.operator),
    templatePath,
  };
}

/** The template with the replica type's restartPolicy, which wins over the template's own. */
function withRestartPolicy(
  reader: DocumentReader,
  template: YamlMap,
  templatePath: string,
  policy: string,
  operator: string,
): YamlMap {
  const spec = template.spec;
  // A template without a spec is refused when its pod set is built.
  if (!isMap(spec) || spec.restartPolicy === policy) return template;
  if (spec.restartPolicy !== undefined && spec.restartPolicy !== null) {
    reader.warn(
      childPath(childPath(templatePath, 'spec'), 'restartPolicy'),
      `is replaced by ${policy}, the replica type's restartPolicy, as ${operator} does`,
    );
  }
  return { ...template, spec: { ...spec, restartPolicy: policy } };
}

/**
 * spec.runPolicy: backoffLimit becomes the job's max restarts; what only the operator does is
 * warned about; suspend and managedBy say who runs the job, which is Muster, and are ignored.
 */
export function readRunPolicy(reader: DocumentReader, spec: YamlMap, settings: JobSettings): void {
  const path = 'spec.runPolicy';
  const runPolicy = reader.map(spec, 'spec', 'runPolicy');
  if (!runPolicy) return;
  const restarts = maxRestartsFrom(reader, runPolicy, path, 'backoffLimit');
  if (restarts) settings.maxRestarts = restarts;
  warnIfSet(
    reader,
    runPolicy,
    path,
    'cleanPodPolicy',
    'is not applied: Muster cleans up no pods by this policy',
  );
  warnIfSet(
    reader,
    runPolicy,
    path,
    'ttlSecondsAfterFinished',
    'is not applied: Muster makes no job object to delete after it finishes',
  );
  warnIfSet(
    reader,
    runPolicy,
    path,
    'activeDeadlineSeconds',
    'is not applied: Muster sets no deadline on the job; spec.activeDeadlineSeconds in the pod templates bounds each pod',
  );
  warnIfSet(
    reader,
    runPolicy,
    path,
    'schedulingPolicy',
    'is not applied: Muster gangs every pod of the job itself; the queue and priority class come from the kueue.x-k8s.io/queue-name and kueue.x-k8s.io/priority-class labels',
  );
}
