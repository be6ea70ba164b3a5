// Kubeflow Trainer's TrainJob (trainer.kubeflow.org/v1alpha1) is refused: its pods are made from
// the TrainingRuntime or ClusterTrainingRuntime it names, which lives in a cluster the CLI does
// not read, so the gang's pod sets cannot be known here.
import type { DocumentReader, YamlMap } from './document-reader';
import { isMap } from './document-reader';

export const TRAINER_API_VERSION = 'trainer.kubeflow.org/v1alpha1';

export function refuseTrainJob(reader: DocumentReader, doc: YamlMap): never {
  const spec = doc.spec;
  const ref = isMap(spec) ? spec.runtimeRef : undefined;
  const name = isMap(ref) && typeof ref.name === 'string' ? ` "${ref.name}"` : '';
  return reader.fail(
    'spec.runtimeRef',
    `a TrainJob's pods come from the runtime it names${name}, a TrainingRuntime or ClusterTrainingRuntime the CLI cannot see; submit what the runtime renders instead: a JobSet (jobset.x-k8s.io/v1alpha2) with its replicated jobs, or a PyTorchJob (kubeflow.org/v1)`,
  );
}
