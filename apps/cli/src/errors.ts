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

/** The CLI's own configuration file is unreadable or invalid. */
export class ConfigError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
  }
}
