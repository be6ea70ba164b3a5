// One management-cluster object as a Muster job: its queue by the administrator's rules, its
// gang by the same converters as `muster submit -f`, its spec checked as the gRPC API checks it.
// Every refusal names the field of the object at fault.
import { draftFromDocument, ManifestError, SubmissionError } from '@muster/manifests';
import { MusterError } from '../common/errors';
import { jobSpecToDomain, type SpecLimits } from '../jobs/job-spec.mapper';
import type { JobSpec } from '../jobs/job.domain';
import { KUEUE_QUEUE_LABEL, QUEUE_LABELS } from './front-door.kinds';
import { chooseQueue, type QueueRule } from './queue-rules';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec?: unknown;
  status?: unknown;
}

export interface Refusal {
  /** The object's field at fault, e.g. "spec.template.spec.containers[0].image"; "" for the whole. */
  field: string;
  message: string;
}

export interface Accepted {
  spec: JobSpec;
  warnings: string[];
  /** The object's field a hub field (e.g. "spec.queue") came from. */
  locate: (hubField: string) => string | undefined;
}

export type Intake = Accepted | { refused: Refusal };

/** The object's first queue label of `keys` (default Muster's own, then Kueue's). */
export function queueLabelOf(
  object: KubeObject,
  keys: readonly string[] = QUEUE_LABELS,
): { label: string; value: string } | undefined {
  const labels = object.metadata.labels ?? {};
  for (const label of keys) {
    const value = labels[label];
    if (value !== undefined) return { label, value };
  }
  return undefined;
}

export function describeObject(object: KubeObject): string {
  return `${object.kind} ${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
}

export function intake(
  object: KubeObject,
  rules: readonly QueueRule[],
  limits: SpecLimits,
  keys: readonly string[] = QUEUE_LABELS,
): Intake {
  const namespace = object.metadata.namespace ?? 'default';
  const queueLabel = queueLabelOf(object, keys);
  if (!queueLabel)
    return { refused: { field: 'metadata.labels', message: `has no ${keys.join(' or ')} label` } };
  const labelField = labelPath(queueLabel.label);
  // The converter reads the chosen queue from Kueue's label: a fault there is the label's we read.
  const asWritten = (path: string): string =>
    path === labelPath(KUEUE_QUEUE_LABEL) ? labelField : path;
  const choice = chooseQueue(rules, namespace, queueLabel.value);
  if ('refused' in choice) return { refused: { field: labelField, message: choice.refused } };

  // Only what a manifest would hold: the server's metadata (uid, managedFields ...) and status
  // are not the submitter's. The chosen queue goes where the converter reads a queue from.
  const labels: Record<string, string> = {
    ...object.metadata.labels,
    [KUEUE_QUEUE_LABEL]: choice.queue,
  };
  if (queueLabel.label !== KUEUE_QUEUE_LABEL) delete labels[queueLabel.label];
  const body = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name: object.metadata.name,
      namespace,
      labels,
      ...(object.metadata.annotations ? { annotations: object.metadata.annotations } : {}),
    },
    spec: object.spec,
  };
  try {
    const draft = draftFromDocument({ source: describeObject(object), body });
    const locate = (hubField: string): string | undefined => {
      const at = draft.origins.locate(hubField);
      return at === undefined ? undefined : asWritten(at);
    };
    try {
      const spec = jobSpecToDomain(draft.spec, limits);
      return { spec, warnings: draft.warnings.map(withoutSource(draft.source)), locate };
    } catch (err) {
      if (!(err instanceof MusterError)) throw err;
      const field = err.field ? (locate(err.field) ?? err.field) : '';
      return { refused: { field, message: messageOf(err) } };
    }
  } catch (err) {
    if (err instanceof ManifestError)
      return { refused: { field: asWritten(err.path), message: err.problem } };
    if (err instanceof SubmissionError) return { refused: { field: '', message: err.message } };
    throw err;
  }
}

/** How the converters spell a label's path: metadata.labels["kueue.x-k8s.io/queue-name"]. */
function labelPath(label: string): string {
  return `metadata.labels[${JSON.stringify(label)}]`;
}

/** A MusterError's message without the field it starts with. */
export function messageOf(err: MusterError): string {
  const prefix = err.field ? `${err.field}: ` : '';
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** A converter warning starts with its source, which an Event on the object need not repeat. */
function withoutSource(source: string): (warning: string) => string {
  return (w) => (w.startsWith(`${source}: `) ? w.slice(source.length + 2) : w);
}
