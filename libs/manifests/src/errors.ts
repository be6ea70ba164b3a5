// The failures of turning manifests into jobs. Both are the submitter's mistake: the CLI exits
// with its usage code, the hub's front door reports them on the object.

/** A manifest that cannot become a job, located by file, document and path inside it. */
export class ManifestError extends Error {
  constructor(
    readonly source: string,
    /** Dotted path inside the document, e.g. "spec.template.spec.containers[0].image"; empty for the whole document. */
    readonly path: string,
    readonly problem: string,
    /** The line of the file the path is on, when the document was read from text. */
    readonly line?: number,
  ) {
    super(`${source}: ${manifestPlace(path, line)}${problem}`);
    this.name = 'ManifestError';
  }
}

/** Manifests that are each valid but cannot be taken together with the options given. */
export class SubmissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubmissionError';
  }
}

/** "line 14: spec.parallelism: ", "spec.parallelism: " or "" for the whole document. */
export function manifestPlace(path: string, line: number | undefined): string {
  return `${line !== undefined ? `line ${line}: ` : ''}${path ? `${path}: ` : ''}`;
}
