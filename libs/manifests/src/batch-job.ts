// A Kubernetes batch/v1 Job: its parallel pods become one pod set named "main", as Kueue names it.
import type { DocumentReader, YamlMap } from './document-reader';
import { jobParallelism } from './job-parallelism';
import type { KindConversion } from './job-settings';
import { kubernetesSettings, readObjectMeta } from './object-meta';

export const JOB_POD_SET_NAME = 'main';

export function convertBatchJob(reader: DocumentReader, doc: YamlMap): KindConversion {
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  const { count, path } = jobParallelism(reader, spec, 'spec');
  const template = reader.map(spec, 'spec', 'template', true);
  return {
    kind: 'Job',
    settings,
    podSets: [
      {
        name: JOB_POD_SET_NAME,
        namePath: 'spec',
        count,
        countPath: path,
        template,
        templatePath: 'spec.template',
      },
    ],
    groups: [],
  };
}
