// Topology constraints of a pod set. People coming from Kueue already write its annotations on
// the pod template, so those are honoured as well as Muster's own `topology` field.
import { qualifiedNameError } from '@muster/k8s';
import { TopologyMode, type TopologyConstraint } from '@muster/api';
import { isMap, type DocumentReader, type YamlMap } from './document-reader';
import { childPath, describeValue } from './paths';

export const KUEUE_REQUIRED_TOPOLOGY = 'kueue.x-k8s.io/podset-required-topology';
export const KUEUE_PREFERRED_TOPOLOGY = 'kueue.x-k8s.io/podset-preferred-topology';

export interface LocatedTopology {
  constraint: TopologyConstraint;
  /** Where it was written, for messages. */
  path: string;
}

export function topologyLevel(reader: DocumentReader, path: string, value: unknown): string {
  if (typeof value !== 'string') {
    reader.fail(
      path,
      `must be a node label key such as cloud.provider.com/topology-rack (got ${describeValue(value)})`,
    );
  }
  const error = qualifiedNameError(value);
  if (error)
    reader.fail(path, `${error} (a node label key such as cloud.provider.com/topology-rack)`);
  return value;
}

/** Reads the Kueue topology annotations of a pod template, if any. */
export function topologyFromAnnotations(
  reader: DocumentReader,
  template: YamlMap,
  templatePath: string,
): LocatedTopology | undefined {
  const metadata = template.metadata;
  if (!isMap(metadata)) return undefined;
  const annotations = metadata.annotations;
  if (!isMap(annotations)) return undefined;
  const annotationsPath = childPath(childPath(templatePath, 'metadata'), 'annotations');
  const found: LocatedTopology[] = [];
  for (const [key, mode] of [
    [KUEUE_REQUIRED_TOPOLOGY, TopologyMode.TOPOLOGY_MODE_REQUIRED],
    [KUEUE_PREFERRED_TOPOLOGY, TopologyMode.TOPOLOGY_MODE_PREFERRED],
  ] as const) {
    if (annotations[key] === undefined) continue;
    const path = childPath(annotationsPath, key);
    found.push({
      constraint: { mode, level: topologyLevel(reader, path, annotations[key]) },
      path,
    });
  }
  if (found.length > 1) {
    reader.fail(
      annotationsPath,
      `set only one of ${KUEUE_REQUIRED_TOPOLOGY} and ${KUEUE_PREFERRED_TOPOLOGY}`,
    );
  }
  return found[0];
}

/** Reads Muster's own `topology: {required: LEVEL}` or `topology: {preferred: LEVEL}`. */
export function topologyFromField(
  reader: DocumentReader,
  parent: YamlMap,
  parentPath: string,
): LocatedTopology | undefined {
  const value = reader.map(parent, parentPath, 'topology');
  if (!value) return undefined;
  const path = childPath(parentPath, 'topology');
  reader.onlyKnownKeys(value, path, ['required', 'preferred']);
  const required = value.required;
  const preferred = value.preferred;
  if (required !== undefined && preferred !== undefined)
    reader.fail(path, 'set only one of required and preferred');
  if (required !== undefined) {
    const at = childPath(path, 'required');
    return {
      constraint: {
        mode: TopologyMode.TOPOLOGY_MODE_REQUIRED,
        level: topologyLevel(reader, at, required),
      },
      path: at,
    };
  }
  if (preferred !== undefined) {
    const at = childPath(path, 'preferred');
    return {
      constraint: {
        mode: TopologyMode.TOPOLOGY_MODE_PREFERRED,
        level: topologyLevel(reader, at, preferred),
      },
      path: at,
    };
  }
  return reader.fail(
    path,
    'must set required or preferred to a topology level, e.g. required: cloud.provider.com/topology-rack',
  );
}
