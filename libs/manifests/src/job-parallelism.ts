// How many pods a batch/v1 Job spec runs at once: what Muster gangs together.
import type { DocumentReader, YamlMap } from './document-reader';
import { childPath } from './paths';

export interface Parallelism {
  count: number;
  /** Where the count came from, for messages. */
  path: string;
}

/** parallelism, else completions, else 1 — the pods a Job starts together. */
export function jobParallelism(
  reader: DocumentReader,
  jobSpec: YamlMap,
  jobSpecPath: string,
): Parallelism {
  const parallelism = reader.positiveInt(jobSpec, jobSpecPath, 'parallelism');
  const completions = reader.positiveInt(jobSpec, jobSpecPath, 'completions');
  if (parallelism !== undefined) {
    if (completions !== undefined && completions !== parallelism) {
      // A gang runs each member once; a Job that cycles more completions than pods is not a gang.
      reader.warn(
        childPath(jobSpecPath, 'completions'),
        `is ${completions} but parallelism is ${parallelism}; Muster starts ${parallelism} members once each`,
      );
    }
    return { count: parallelism, path: childPath(jobSpecPath, 'parallelism') };
  }
  if (completions !== undefined)
    return { count: completions, path: childPath(jobSpecPath, 'completions') };
  return { count: 1, path: childPath(jobSpecPath, 'parallelism') };
}
