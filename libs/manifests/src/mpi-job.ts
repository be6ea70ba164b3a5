// The MPI Operator's MPIJob (kubeflow.org/v2beta1): the Launcher (exactly one pod) and the
// Worker replicas become the pod sets "launcher" and "worker".
import type { DocumentReader, YamlMap } from './document-reader';
import type { KindConversion } from './job-settings';
import { kubernetesSettings, readObjectMeta } from './object-meta';
import { flag, nonNegativeInt, orList } from './operator-fields';
import { readRunPolicy, replicaPodSets, type ReplicaRules } from './replica-specs';

export const MPI_API_VERSION = 'kubeflow.org/v2beta1';

const MPI_IMPLEMENTATIONS = ['OpenMPI', 'Intel', 'MPICH'];

// As the MPI Operator v0.8 defaults and validates them: replica types spelled exactly, a
// Launcher of one pod (OnFailure), Workers (Never) that default to none.
const RULES: ReplicaRules = {
  kind: 'MPIJob',
  field: 'mpiReplicaSpecs',
  types: [
    {
      type: 'Launcher',
      defaultReplicas: 1,
      restartPolicy: 'OnFailure',
      replicas: 'one',
      required: true,
    },
    {
      type: 'Worker',
      defaultReplicas: 0,
      restartPolicy: 'Never',
      replicas: 'positive',
      unsetReplicasWarning:
        "is not set, so no worker runs (the MPI Operator's default is 0); set the number of workers",
    },
  ],
  anyCase: false,
  restartPolicies: ['Never', 'OnFailure'],
  operator: 'the MPI Operator',
};

const NO_OPERATOR =
  'Muster runs the pod templates as they are, without the MPI Operator: it writes no hostfile and makes no SSH keys and no Services for the workers, so mpirun in the launcher reaches the workers only if the templates set that up';

export function convertMpiJob(reader: DocumentReader, doc: YamlMap): KindConversion {
  const settings = kubernetesSettings(reader, readObjectMeta(reader, doc));
  const spec = reader.map(doc, '', 'spec', true);
  reader.warn('kind', NO_OPERATOR);
  // What shapes the operator's hostfile and SSH setup is checked as it checks it, then left out.
  nonNegativeInt(reader, spec, 'spec', 'slotsPerWorker');
  const implementation = reader.string(spec, 'spec', 'mpiImplementation');
  if (implementation !== undefined && !MPI_IMPLEMENTATIONS.includes(implementation)) {
    reader.fail(
      'spec.mpiImplementation',
      `must be ${orList(MPI_IMPLEMENTATIONS)} (got ${JSON.stringify(implementation)})`,
    );
  }
  if (flag(reader, spec, 'spec', 'runLauncherAsWorker')) {
    reader.warn(
      'spec.runLauncherAsWorker',
      'changes no member count: the launcher is one pod either way, and Muster writes no hostfile that lists it as a worker',
    );
  }
  if (reader.string(spec, 'spec', 'launcherCreationPolicy') === 'WaitForWorkersReady') {
    reader.warn(
      'spec.launcherCreationPolicy',
      'is not applied: Muster starts the launcher together with the workers, not once they are ready',
    );
  }
  const podSets = replicaPodSets(reader, spec, RULES);
  readRunPolicy(reader, spec, settings);
  return { kind: 'MPIJob', settings, podSets, groups: [] };
}
