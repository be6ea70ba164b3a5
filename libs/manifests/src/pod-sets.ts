// Turns what each manifest kind says about a group of identical pods into a wire PodSet,
// checking the pod template the same way the hub will so mistakes point into the file.
import { checkPodTemplate, dns1123LabelError } from '@muster/k8s';
import { TopologyMode, type PodSet, type PodSetGroup } from '@muster/api';
import type { DocumentReader, YamlMap } from './document-reader';
import { pathOrigin, type FieldOrigins } from './field-origins';
import { topologyFromAnnotations, type LocatedTopology } from './topology';

export interface PodSetSource {
  name: string;
  namePath: string;
  count: number;
  countPath: string;
  template: YamlMap;
  templatePath: string;
  /** Muster's own topology field (Gang only); the template's Kueue annotations are read here. */
  topology?: LocatedTopology;
}

export interface PodSetGroupSource {
  podSets: string[];
  podSetsPath: string;
  level: string;
  levelPath: string;
}

export function buildPodSet(
  reader: DocumentReader,
  source: PodSetSource,
  index: number,
  origins: FieldOrigins,
): PodSet {
  const nameError = dns1123LabelError(source.name);
  if (nameError) reader.fail(source.namePath, `pod set name ${nameError}`);
  const checked = checkPodTemplate(source.template);
  if (!checked.ok) {
    const field = checked.violation.field;
    reader.fail(
      field === '' ? source.templatePath : `${source.templatePath}.${field}`,
      checked.violation.message,
    );
  }
  const topology = chooseTopology(
    reader,
    source.topology,
    topologyFromAnnotations(reader, source.template, source.templatePath),
  );
  const hub = `spec.pod_sets[${index}]`;
  origins.set(hub, pathOrigin(source.templatePath));
  origins.set(`${hub}.name`, pathOrigin(source.namePath));
  origins.set(`${hub}.count`, pathOrigin(source.countPath));
  origins.set(`${hub}.pod_template_json`, pathOrigin(source.templatePath));
  if (topology) origins.set(`${hub}.topology`, pathOrigin(topology.path));
  return {
    name: source.name,
    count: source.count,
    podTemplateJson: JSON.stringify(source.template),
    topology: topology?.constraint,
  };
}

function chooseTopology(
  reader: DocumentReader,
  field: LocatedTopology | undefined,
  annotation: LocatedTopology | undefined,
): LocatedTopology | undefined {
  if (field && annotation) {
    const same =
      field.constraint.mode === annotation.constraint.mode &&
      field.constraint.level === annotation.constraint.level;
    if (!same) {
      reader.fail(
        field.path,
        `${modeName(field.constraint.mode)} ${field.constraint.level} contradicts ${annotation.path} ` +
          `(${modeName(annotation.constraint.mode)} ${annotation.constraint.level}); keep one of them`,
      );
    }
  }
  return field ?? annotation;
}

function modeName(mode: TopologyMode): string {
  return mode === TopologyMode.TOPOLOGY_MODE_REQUIRED ? 'required' : 'preferred';
}

export function buildPodSetGroup(
  reader: DocumentReader,
  source: PodSetGroupSource,
  podSetNames: readonly string[],
  index: number,
  origins: FieldOrigins,
): PodSetGroup {
  if (source.podSets.length < 2) reader.fail(source.podSetsPath, 'must name at least two pod sets');
  source.podSets.forEach((name, j) => {
    if (!podSetNames.includes(name)) {
      reader.fail(
        `${source.podSetsPath}[${j}]`,
        `no pod set named "${name}" (pod sets: ${podSetNames.join(', ')})`,
      );
    }
  });
  origins.set(`spec.pod_set_groups[${index}].pod_sets`, pathOrigin(source.podSetsPath));
  origins.set(`spec.pod_set_groups[${index}].level`, pathOrigin(source.levelPath));
  return { podSets: source.podSets, level: source.level };
}
