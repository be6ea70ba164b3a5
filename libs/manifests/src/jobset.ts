// A JobSet (jobset.x-k8s.io/v1alpha2): each replicated job becomes a pod set of
// replicas × parallelism members, named after the replicated job.
import type { DocumentReader, YamlMap } from './document-reader';
import { isMap } from './document-reader';
import { jobParallelism } from './job-parallelism';
import type { KindConversion } from './job-settings';
import { kubernetesSettings, readObjectMeta } from './object-meta';
import { childPath, describeValue } from './paths';
import type { PodSetSource } from './pod-sets';

export function convertJobSet(reader: DocumentReader, doc: YamlMap): KindConversion {
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  const replicatedJobs = reader.list(spec, 'spec', 'replicatedJobs', true);
  const seen = new Set<string>();
  const podSets = replicatedJobs.map((entry, i): PodSetSource => {
    const path = childPath('spec.replicatedJobs', i);
    if (!isMap(entry))
      reader.fail(
        path,
        `must be a map with name, replicas and template (got ${describeValue(entry)})`,
      );
    const name = reader.string(entry, path, 'name');
    const namePath = childPath(path, 'name');
    if (name === undefined) reader.fail(namePath, 'is required');
    if (seen.has(name)) reader.fail(namePath, `duplicate replicated job name "${name}"`);
    seen.add(name);
    const replicas = reader.positiveInt(entry, path, 'replicas') ?? 1;
    const jobTemplatePath = childPath(path, 'template');
    const jobTemplate = reader.map(entry, path, 'template', true);
    const jobSpecPath = childPath(jobTemplatePath, 'spec');
    const jobSpec = reader.map(jobTemplate, jobTemplatePath, 'spec', true);
    const parallelism = jobParallelism(reader, jobSpec, jobSpecPath);
    const count = replicas * parallelism.count;
    if (!Number.isSafeInteger(count) || count > 2_147_483_647) {
      reader.fail(
        childPath(path, 'replicas'),
        `replicas × parallelism is too large (${replicas} × ${parallelism.count})`,
      );
    }
    return {
      name,
      namePath,
      count,
      // replicas is the usual knob; point there when it is set, else at the parallelism.
      countPath: entry.replicas !== undefined ? childPath(path, 'replicas') : parallelism.path,
      template: reader.map(jobSpec, jobSpecPath, 'template', true),
      templatePath: childPath(jobSpecPath, 'template'),
    };
  });
  return { kind: 'JobSet', settings, podSets, groups: [] };
}
