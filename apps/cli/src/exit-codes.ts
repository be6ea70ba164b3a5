// Exit codes are part of the CLI's contract with scripts; docs/cli.md lists them.

export const ExitCode = {
  Ok: 0,
  /** The hub could not be reached, or a call failed for a reason other than the ones below. */
  Failure: 1,
  /** Bad flags, a bad manifest or a request the hub refused as invalid. */
  Usage: 2,
  /** The job, cluster, queue, cohort or context does not exist. */
  NotFound: 3,
  /** `watch` and `submit --wait`: the job ended as Failed. */
  JobFailed: 10,
  /** `watch` and `submit --wait`: the job ended as Cancelled. */
  JobCancelled: 11,
  /** Ctrl-C while following (`clusters drain --wait`): the shell's status for SIGINT (128 + 2). */
  Interrupted: 130,
  /**
   * The reader of stdout or stderr went away (`muster list | head`): the status a shell reports
   * for any tool a closed pipe stops (128 + SIGPIPE).
   */
  BrokenPipe: 141,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
