// Kubernetes object metadata of a Job or JobSet, and what Muster reads from it: the name, the
// namespace, labels, Kueue's queue and priority-class labels and Muster's own annotations.
import type { DocumentReader, YamlMap } from './document-reader';
import {
  agree,
  evictionGraceProblem,
  parseOnClusterLost,
  ON_CLUSTER_LOST_CHOICES,
  type JobSettings,
} from './job-settings';
import { childPath } from './paths';

export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';
export const PRIORITY_ANNOTATION = 'muster.dev/priority';
/** Kueue's WorkloadPriorityClass label: Kueue's samples name their class with it. */
export const KUEUE_PRIORITY_CLASS_LABEL = 'kueue.x-k8s.io/priority-class';
export const PRIORITY_CLASS_ANNOTATION = 'muster.dev/priority-class';
export const ON_CLUSTER_LOST_ANNOTATION = 'muster.dev/on-cluster-lost';
export const MATCH_DEVICE_ATTRIBUTE_ANNOTATION = 'muster.dev/match-device-attribute';
export const EVICTION_GRACE_ANNOTATION = 'muster.dev/eviction-grace-seconds';
/** Labels under this prefix steer Kueue; they mean nothing on a Muster job. */
const KUEUE_PREFIX = 'kueue.x-k8s.io/';

export interface ObjectMeta {
  metadata: YamlMap;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function readObjectMeta(reader: DocumentReader, doc: YamlMap): ObjectMeta {
  const metadata = reader.map(doc, '', 'metadata') ?? {};
  return {
    metadata,
    labels: reader.stringMap(metadata, 'metadata', 'labels'),
    annotations: reader.stringMap(metadata, 'metadata', 'annotations'),
  };
}

/** metadata.name, else metadata.generateName without its trailing "-" (Muster names need not be unique). */
export function nameOf(reader: DocumentReader, meta: ObjectMeta): JobSettings['name'] {
  const name = reader.string(meta.metadata, 'metadata', 'name');
  if (name !== undefined) return { value: name, path: 'metadata.name' };
  const generated = reader.string(meta.metadata, 'metadata', 'generateName');
  if (generated !== undefined)
    return { value: generated.replace(/-+$/, ''), path: 'metadata.generateName' };
  return undefined;
}

/** Settings of a Kubernetes workload (Job, JobSet) read from its metadata. */
export function kubernetesSettings(reader: DocumentReader, meta: ObjectMeta): JobSettings {
  const labelsPath = 'metadata.labels';
  const annotationsPath = 'metadata.annotations';
  const settings: JobSettings = {
    name: nameOf(reader, meta),
    labels: Object.fromEntries(
      Object.entries(meta.labels).filter(([k]) => !k.startsWith(KUEUE_PREFIX)),
    ),
    labelsPath,
  };
  const namespace = reader.string(meta.metadata, 'metadata', 'namespace');
  if (namespace !== undefined)
    settings.namespace = { value: namespace, path: 'metadata.namespace' };
  const queue = meta.labels[KUEUE_QUEUE_LABEL];
  if (queue !== undefined)
    settings.queue = { value: queue, path: childPath(labelsPath, KUEUE_QUEUE_LABEL) };
  const priority = meta.annotations[PRIORITY_ANNOTATION];
  if (priority !== undefined) {
    const path = childPath(annotationsPath, PRIORITY_ANNOTATION);
    const value = Number(priority);
    if (priority.trim() === '' || !Number.isInteger(value) || Math.abs(value) > 2_147_483_647) {
      reader.fail(path, `must be an integer such as "10" (got ${JSON.stringify(priority)})`);
    }
    settings.priority = { value, path };
  }
  // Checked as a name in convert.ts, wherever it was written (flags too).
  const classLabel = meta.labels[KUEUE_PRIORITY_CLASS_LABEL];
  if (classLabel !== undefined)
    settings.priorityClass = {
      value: classLabel,
      path: childPath(labelsPath, KUEUE_PRIORITY_CLASS_LABEL),
    };
  const classAnnotation = meta.annotations[PRIORITY_CLASS_ANNOTATION];
  if (classAnnotation !== undefined)
    settings.priorityClass = agree(reader, settings.priorityClass, {
      value: classAnnotation,
      path: childPath(annotationsPath, PRIORITY_CLASS_ANNOTATION),
    });
  const lost = meta.annotations[ON_CLUSTER_LOST_ANNOTATION];
  if (lost !== undefined) {
    const path = childPath(annotationsPath, ON_CLUSTER_LOST_ANNOTATION);
    const value = parseOnClusterLost(lost);
    if (value === undefined)
      reader.fail(
        path,
        `must be ${ON_CLUSTER_LOST_CHOICES.join(' or ')} (got ${JSON.stringify(lost)})`,
      );
    settings.onClusterLost = { value, path };
  }
  const match = meta.annotations[MATCH_DEVICE_ATTRIBUTE_ANNOTATION];
  if (match !== undefined) {
    // Checked with the job's claims in convert.ts, wherever it was written.
    const path = childPath(annotationsPath, MATCH_DEVICE_ATTRIBUTE_ANNOTATION);
    settings.matchDeviceAttribute = { value: match, path };
  }
  const grace = meta.annotations[EVICTION_GRACE_ANNOTATION];
  if (grace !== undefined) {
    const path = childPath(annotationsPath, EVICTION_GRACE_ANNOTATION);
    const value = /^\d+$/.test(grace) ? Number(grace) : NaN;
    const problem = evictionGraceProblem(value);
    if (problem) reader.fail(path, `${problem}, such as "600" (got ${JSON.stringify(grace)})`);
    settings.evictionGraceSeconds = { value, path };
  }
  return settings;
}
