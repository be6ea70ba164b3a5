// What every command needs: where to print, the environment, the config file, and a connection
// to the hub built from flags > MUSTER_* variables > the current context.
import { Option, type Command } from 'commander';
import { configFilePath } from '../config/config-path';
import { loadConfig, type MusterConfig } from '../config/config-file';
import { resolveHubSettings, type GlobalFlags, type HubSettings } from '../config/hub-settings';
import { ExitCode } from '../exit-codes';
import { HubConnection } from '../hub/hub-connection';
import { DEFAULT_RETRY } from '../hub/retry';
import { OUTPUT_FORMATS, renderStructured, type OutputFormat } from '../output/output-format';
import type { TextOutput } from '../output/progress-display';

export interface CliIo {
  stdout: TextOutput;
  stderr: TextOutput;
  env: NodeJS.ProcessEnv;
  now(): Date;
  readStdin(): string;
}

interface CommonFlags extends GlobalFlags {
  verbose?: boolean;
  output?: OutputFormat;
}

export function outputOption(
  formats: readonly OutputFormat[] = OUTPUT_FORMATS,
  fallback: OutputFormat = 'table',
): Option {
  return new Option('-o, --output <format>', 'output format').choices(formats).default(fallback);
}

/** A token sent in plain text to this machine itself is not exposed on the network. */
function isLoopback(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':'));
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

export class CliContext {
  /** What the process exits with when the command itself succeeds (watch outcomes). */
  exitCode: ExitCode = ExitCode.Ok;

  constructor(readonly io: CliIo) {}

  flags(cmd: Command): CommonFlags {
    return cmd.optsWithGlobals<CommonFlags>();
  }

  configPath(): string {
    return configFilePath(this.io.env);
  }

  loadConfig(): MusterConfig {
    return loadConfig(this.configPath());
  }

  hubSettings(cmd: Command): HubSettings {
    return resolveHubSettings(this.flags(cmd), this.io.env, this.loadConfig(), this.configPath());
  }

  /** Opens a connection for the length of `work`, then closes it. */
  async withHub<T>(cmd: Command, work: (hub: HubConnection) => Promise<T>): Promise<T> {
    const settings = this.hubSettings(cmd);
    this.verbose(
      cmd,
      `hub ${settings.address} (from ${settings.addressSource})${settings.token ? ', with a token' : ''}`,
    );
    if (settings.token && !settings.tls && !isLoopback(settings.address)) {
      this.warn(
        `sending the token to ${settings.address} in plain text; give the context TLS (see muster config set-context --help)`,
      );
    }
    const hub = HubConnection.open(settings, {
      ...DEFAULT_RETRY,
      onRetry: ({ attempt, attempts, delayMs }) =>
        this.verbose(cmd, `hub unavailable; try ${attempt} of ${attempts} in ${delayMs} ms`),
    });
    try {
      return await work(hub);
    } finally {
      hub.close();
    }
  }

  output(cmd: Command): OutputFormat {
    return this.flags(cmd).output ?? 'table';
  }

  print(text: string): void {
    this.io.stdout.write(text);
  }

  /** Prints a table view, or the message in the protobuf JSON mapping for -o json|yaml. */
  show(cmd: Command, table: () => string, message: () => unknown): void {
    const format = this.output(cmd);
    this.print(format === 'table' ? table() : renderStructured(message(), format));
  }

  /** Remarks for people (hints, "no jobs found") go to stderr so stdout stays parseable. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    this.io.stderr.write(`warning: ${text}\n`);
  }

  verbose(cmd: Command, text: string): void {
    if (this.flags(cmd).verbose) this.io.stderr.write(`${text}\n`);
  }

  now(): Date {
    return this.io.now();
  }
}
