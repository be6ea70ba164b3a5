// The muster command tree, and running it: every failure ends as one "error: ..." line on
// stderr and an exit code scripts can rely on (see exit-codes.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ManifestError, SubmissionError } from '@muster/manifests';
import { registerCancelCommand } from './commands/cancel';
import { CliContext, type CliIo } from './commands/cli-context';
import { registerClustersCommand } from './commands/clusters';
import { registerCohortsCommand } from './commands/cohorts';
import { registerCompletionCommand } from './commands/completion';
import { registerConfigCommand } from './commands/config';
import { registerExplainCommand } from './commands/explain';
import { registerGetCommand } from './commands/get';
import { registerListCommand } from './commands/list';
import { registerQueuesCommand } from './commands/queues';
import { registerReportCommand } from './commands/report';
import { registerSubmitCommand } from './commands/submit';
import { registerWatchCommand } from './commands/watch';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('muster')
    .description(
      'Submit, follow and administer gangs of AI/ML pods across Kubernetes clusters through a Muster hub.',
    )
    .version(version(), '--version', 'print the CLI version')
    .option(
      '--hub <host:port>',
      'hub gRPC address (default: MUSTER_HUB, the current context, else 127.0.0.1:50051)',
    )
    .option('--token <token>', "bearer token for the hub (default: MUSTER_TOKEN or the context's)")
    .option(
      '--context <name>',
      'context of the config file to use (default: MUSTER_CONTEXT or currentContext)',
    )
    .option('-v, --verbose', 'say which hub is used, show client request ids and retries')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  muster queues create default
  muster submit -f job.yaml --wait
  muster list --state queued
  muster explain llama-ft

Exit codes: 0 ok, 1 hub or call failure, 2 bad usage or manifest, 3 not found,
            10 job Failed, 11 job Cancelled (watch, submit --wait).
Docs: docs/cli.md`,
    );
  registerSubmitCommand(program, ctx);
  registerGetCommand(program, ctx);
  registerListCommand(program, ctx);
  registerWatchCommand(program, ctx);
  registerExplainCommand(program, ctx);
  registerCancelCommand(program, ctx);
  registerClustersCommand(program, ctx);
  registerQueuesCommand(program, ctx);
  registerCohortsCommand(program, ctx);
  registerReportCommand(program, ctx);
  registerConfigCommand(program, ctx);
  registerCompletionCommand(program, ctx);
  configureRecursively(program, ctx.io);
  return program;
}

/** Commander's own usage errors also become "error: ..." lines, exit code 2 (see runCli). */
function configureRecursively(cmd: Command, io: CliIo): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
  });
  for (const sub of cmd.commands) configureRecursively(sub, io);
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    return reportFailure(err, io);
  }
}

function reportFailure(err: unknown, io: CliIo): ExitCode {
  const debug = io.env.MUSTER_DEBUG === '1';
  if (err instanceof CommanderError) {
    // Commander has printed its message already; help and --version are not failures.
    const fine = [
      'commander.helpDisplayed',
      'commander.help',
      'commander.version',
      'commander.executeSubCommandAsync',
    ];
    return fine.includes(err.code) ? ExitCode.Ok : ExitCode.Usage;
  }
  if (err instanceof CliError || err instanceof ManifestError || err instanceof SubmissionError) {
    io.stderr.write(`error: ${err.message}\n`);
    if (debug && err.stack) io.stderr.write(`${err.stack}\n`);
    return err instanceof CliError ? err.exitCode : ExitCode.Usage;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`error: ${message}${debug ? '' : ' (set MUSTER_DEBUG=1 for details)'}\n`);
  if (debug && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  return ExitCode.Failure;
}
