// Muster's own format, for gangs a Job or JobSet cannot describe (several pod sets with their own
// topology, pod sets that must share a domain):
//
//   apiVersion: muster.dev/v1
//   kind: Gang
//   metadata: {name: llama-ft}
//   spec:
//     queue: research
//     priority: 10                # higher runs first within the queue
//     priorityClass: high         # or one of the hub's classes (MUSTER_PRIORITY_CLASSES)
//     onClusterLost: wait         # or requeue
//     namespace: default
//     labels: {team: nlp}
//     matchDeviceAttribute: gpu.example.com/interconnect   # every claimed device shares its value
//     evictionGraceSeconds: 600   # notice before deletion when preempted (default: the hub's)
//     podSets:
//       - name: workers
//         count: 16
//         topology: {required: cloud.provider.com/topology-rack}   # or preferred: LEVEL
//         template: {spec: {containers: [...]}}
//     podSetGroups:
//       - {podSets: [launcher, workers], level: cloud.provider.com/topology-block}
//     resourceClaimTemplates:     # DRA claims the pod templates name in spec.resourceClaims
//       - name: one-gpu
//         spec: {devices: {requests: [{name: gpu, exactly: {deviceClassName: gpu.example.com}}]}}
import { readInlineClaimTemplates } from './claim-templates';
import type { DocumentReader, YamlMap } from './document-reader';
import { isMap } from './document-reader';
import {
  agree,
  DEFAULT_NAMESPACE,
  evictionGraceProblem,
  ON_CLUSTER_LOST_CHOICES,
  parseOnClusterLost,
  type JobSettings,
  type KindConversion,
} from './job-settings';
import { kubernetesSettings, readObjectMeta } from './object-meta';
import { childPath, describeValue } from './paths';
import type { PodSetGroupSource, PodSetSource } from './pod-sets';
import { topologyFromField, topologyLevel } from './topology';

export const GANG_API_VERSION = 'muster.dev/v1';
const SPEC_FIELDS = [
  'queue',
  'priority',
  'priorityClass',
  'onClusterLost',
  'namespace',
  'labels',
  'matchDeviceAttribute',
  'evictionGraceSeconds',
  'podSets',
  'podSetGroups',
  'resourceClaimTemplates',
] as const;
const POD_SET_FIELDS = ['name', 'count', 'topology', 'template'] as const;
const GROUP_FIELDS = ['podSets', 'level'] as const;

export function convertGang(reader: DocumentReader, doc: YamlMap): KindConversion {
  reader.onlyKnownKeys(doc, '', ['apiVersion', 'kind', 'metadata', 'spec']);
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  reader.onlyKnownKeys(spec, 'spec', SPEC_FIELDS);

  const queue = reader.string(spec, 'spec', 'queue');
  if (queue !== undefined)
    settings.queue = agree(reader, settings.queue, { value: queue, path: 'spec.queue' });
  const priority = reader.int32(spec, 'spec', 'priority');
  if (priority !== undefined)
    settings.priority = agree(reader, settings.priority, {
      value: priority,
      path: 'spec.priority',
    });
  const priorityClass = reader.string(spec, 'spec', 'priorityClass');
  if (priorityClass !== undefined)
    settings.priorityClass = agree(reader, settings.priorityClass, {
      value: priorityClass,
      path: 'spec.priorityClass',
    });
  const lost = reader.string(spec, 'spec', 'onClusterLost');
  if (lost !== undefined) {
    const value = parseOnClusterLost(lost);
    if (value === undefined) {
      reader.fail(
        'spec.onClusterLost',
        `must be ${ON_CLUSTER_LOST_CHOICES.join(' or ')} (got ${JSON.stringify(lost)})`,
      );
    }
    settings.onClusterLost = agree(reader, settings.onClusterLost, {
      value,
      path: 'spec.onClusterLost',
    });
  }
  const namespace = reader.string(spec, 'spec', 'namespace');
  if (namespace !== undefined) {
    settings.namespace = agree(reader, settings.namespace, {
      value: namespace,
      path: 'spec.namespace',
    });
  }
  mergeLabels(reader, settings, reader.stringMap(spec, 'spec', 'labels'));
  const match = reader.string(spec, 'spec', 'matchDeviceAttribute');
  if (match !== undefined) {
    // Checked with the gang's claims in convert.ts, as the annotation is.
    settings.matchDeviceAttribute = agree(reader, settings.matchDeviceAttribute, {
      value: match,
      path: 'spec.matchDeviceAttribute',
    });
  }
  const grace: unknown = spec.evictionGraceSeconds;
  if (grace !== undefined && grace !== null) {
    const path = 'spec.evictionGraceSeconds';
    const problem = evictionGraceProblem(grace);
    if (problem) reader.fail(path, `${problem} (got ${describeValue(grace)})`);
    settings.evictionGraceSeconds = agree(reader, settings.evictionGraceSeconds, {
      value: grace as number,
      path,
    });
  }

  const podSets = reader
    .list(spec, 'spec', 'podSets', true)
    .map((entry, i) => podSetOf(reader, entry, i));
  const groups = reader
    .list(spec, 'spec', 'podSetGroups')
    .map((entry, i) => groupOf(reader, entry, i));
  const claimTemplates = readInlineClaimTemplates(
    reader,
    spec,
    settings.namespace?.value ?? DEFAULT_NAMESPACE,
  );
  return { kind: 'Gang', settings, podSets, groups, claimTemplates };
}

function podSetOf(reader: DocumentReader, entry: unknown, i: number): PodSetSource {
  const path = childPath('spec.podSets', i);
  if (!isMap(entry))
    reader.fail(path, `must be a map with name, count and template (got ${describeValue(entry)})`);
  reader.onlyKnownKeys(entry, path, POD_SET_FIELDS);
  const name = reader.string(entry, path, 'name');
  if (name === undefined) reader.fail(childPath(path, 'name'), 'is required');
  const topology = topologyFromField(reader, entry, path);
  return {
    name,
    namePath: childPath(path, 'name'),
    count: reader.positiveInt(entry, path, 'count') ?? 1,
    countPath: childPath(path, 'count'),
    template: reader.map(entry, path, 'template', true),
    templatePath: childPath(path, 'template'),
    ...(topology ? { topology } : {}),
  };
}

function groupOf(reader: DocumentReader, entry: unknown, i: number): PodSetGroupSource {
  const path = childPath('spec.podSetGroups', i);
  if (!isMap(entry))
    reader.fail(path, `must be a map with podSets and level (got ${describeValue(entry)})`);
  reader.onlyKnownKeys(entry, path, GROUP_FIELDS);
  const podSetsPath = childPath(path, 'podSets');
  const podSets = reader.list(entry, path, 'podSets', true).map((name, j) => {
    if (typeof name !== 'string')
      reader.fail(childPath(podSetsPath, j), `must be a pod set name (got ${describeValue(name)})`);
    return name;
  });
  const levelPath = childPath(path, 'level');
  if (entry.level === undefined)
    reader.fail(
      levelPath,
      'is required (a node label key such as cloud.provider.com/topology-rack)',
    );
  return { podSets, podSetsPath, level: topologyLevel(reader, levelPath, entry.level), levelPath };
}

function mergeLabels(
  reader: DocumentReader,
  settings: JobSettings,
  specLabels: Record<string, string>,
): void {
  for (const [key, value] of Object.entries(specLabels)) {
    const existing = settings.labels[key];
    if (existing !== undefined && existing !== value) {
      reader.fail(
        childPath('spec.labels', key),
        `${JSON.stringify(value)} contradicts metadata.labels (${JSON.stringify(existing)})`,
      );
    }
    settings.labels[key] = value;
  }
  if (Object.keys(specLabels).length > 0) settings.labelsPath = 'spec.labels';
}
