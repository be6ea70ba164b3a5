// Typed failures of the CLI. Each carries the exit code scripts see; main.ts prints the message
// as one "error: ..." line.
import { ExitCode } from './exit-codes';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.Failure,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags or arguments. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
  }
}

/** Something named on the command line does not exist. */
export class NotFoundError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.NotFound);
  }
}

/** A manifest that cannot become a job, located by file, document and path inside it. */
export class ManifestError extends CliError {
  constructor(
    readonly source: string,
    /** Dotted path inside the document, e.g. "spec.template.spec.containers[0].image"; empty for the whole document. */
    readonly path: string,
    readonly problem: string,
    /** The line of the file the path is on, when the document was read from text. */
    readonly line?: number,
  ) {
    super(`${source}: ${manifestPlace(path, line)}${problem}`, ExitCode.Usage);
  }
}

/** The CLI's own configuration file is unreadable or invalid. */
export class ConfigError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
  }
}

/** "line 14: spec.parallelism: ", "spec.parallelism: " or "" for the whole document. */
export function manifestPlace(path: string, line: number | undefined): string {
  return `${line !== undefined ? `line ${line}: ` : ''}${path ? `${path}: ` : ''}`;
}
