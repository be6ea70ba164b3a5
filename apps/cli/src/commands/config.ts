// muster config view|get-contexts|current-context|use-context|set-context|delete-context:
// named hubs like kubectl contexts. Tokens are stored but never printed.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  redactConfig,
  renderConfig,
  saveConfig,
  type ContextConfig,
  type TlsConfig,
} from '../config/config-file';
import { checkHubAddress } from '../config/hub-settings';
import { ConfigError, NotFoundError, UsageError } from '../errors';
import { renderStructured } from '../output/output-format';
import { renderTable } from '../output/table';
import type { CliContext } from './cli-context';
import { outputOption } from './cli-context';

interface SetContextFlags {
  hub?: string;
  token?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure?: boolean;
  tls?: boolean;
  plaintext?: boolean;
}

export function registerConfigCommand(program: Command, ctx: CliContext): void {
  const config = program
    .command('config')
    .description(
      'manage hub contexts in the config file ($MUSTER_CONFIG, else ~/.config/muster/config.yaml)',
    )
    .addHelpText(
      'after',
      `
Examples:
  muster config set-context prod --hub hub.example.com:443 --token "$TOKEN" --ca-file ca.pem
  muster config use-context prod
  muster config view`,
    );

  config
    .command('view')
    .description('print the config file, tokens redacted')
    .addOption(outputOption(['yaml', 'json'], 'yaml'))
    .addHelpText('after', '\nExamples:\n  muster config view\n  muster config view -o json')
    .action((_flags: unknown, cmd: Command) => {
      const redacted = redactConfig(ctx.loadConfig());
      const format = ctx.output(cmd);
      ctx.print(format === 'json' ? renderStructured(redacted, 'json') : renderConfig(redacted));
    });

  config
    .command('get-contexts')
    .description('list contexts; * marks the current one')
    .addHelpText('after', '\nExamples:\n  muster config get-contexts')
    .action(() => {
      const file = ctx.loadConfig();
      if (file.contexts.length === 0) {
        ctx.note(
          `No contexts in ${ctx.configPath()}; add one with \`muster config set-context NAME --hub HOST:PORT\`.`,
        );
        return;
      }
      ctx.print(
        renderTable(
          ['CURRENT', 'NAME', 'HUB', 'TOKEN', 'TLS'],
          file.contexts.map((c) => [
            c.name === file.currentContext ? '*' : '',
            c.name,
            c.hub,
            c.token ? 'yes' : 'no',
            c.tls ? (c.tls.insecure ? 'yes (unverified)' : 'yes') : 'no',
          ]),
        ),
      );
    });

  config
    .command('current-context')
    .description('print the current context name')
    .addHelpText('after', '\nExamples:\n  muster config current-context')
    .action(() => {
      const current = ctx.loadConfig().currentContext;
      if (current === undefined) {
        throw new NotFoundError(
          `no current context in ${ctx.configPath()}; choose one with \`muster config use-context NAME\``,
        );
      }
      ctx.print(`${current}\n`);
    });

  config
    .command('use-context')
    .description('make a context the current one')
    .argument('<name>', 'context name')
    .addHelpText('after', '\nExamples:\n  muster config use-context prod')
    .action((name: string) => {
      const file = ctx.loadConfig();
      if (!file.contexts.some((c) => c.name === name)) {
        const known = file.contexts.map((c) => c.name).join(', ') || 'none';
        throw new NotFoundError(
          `no context named "${name}" in ${ctx.configPath()} (contexts: ${known})`,
        );
      }
      saveConfig(ctx.configPath(), { ...file, currentContext: name });
      ctx.print(`Switched to context "${name}".\n`);
    });

  config
    .command('set-context')
    .description('create or change a context; flags not given keep their value')
    .argument('<name>', 'context name')
    .option('--hub <host:port>', "the hub's gRPC address")
    .option(
      '--token <token>',
      'bearer token sent to the hub (stored in the config file, mode 0600)',
    )
    .option('--ca-file <file>', 'CA certificate (PEM) to verify the hub; turns TLS on')
    .option('--cert-file <file>', 'client certificate (PEM) for mutual TLS; needs --key-file')
    .option('--key-file <file>', 'client private key (PEM) for mutual TLS')
    .option('--tls', "use TLS, verifying the hub with the system's trusted CAs")
    .option('--insecure', 'use TLS without verifying the hub certificate (testing only)')
    .option('--plaintext', 'remove the TLS settings: talk plain text')
    .addHelpText(
      'after',
      `
Examples:
  muster config set-context local --hub 127.0.0.1:50051
  muster config set-context prod --hub hub.example.com:443 --token "$MUSTER_TOKEN" --ca-file ./ca.pem
  muster config set-context public --hub muster.example.com:443 --tls   # certificate from a public CA
  muster config set-context prod --token "$NEW_TOKEN"      # change only the token`,
    )
    .action((name: string, _own: SetContextFlags, cmd: Command) => {
      // --hub and --token are also global flags, which commander hands to the program even
      // after the subcommand; reading them with the globals gets them either way.
      const flags = cmd.optsWithGlobals<SetContextFlags>();
      if (flags.plaintext && (flags.caFile || flags.certFile || flags.keyFile || flags.insecure)) {
        throw new UsageError(
          '--plaintext removes TLS; it cannot go with --ca-file, --cert-file, --key-file or --insecure',
        );
      }
      if (flags.hub !== undefined) checkHubAddress(flags.hub, '--hub');
      const file = ctx.loadConfig();
      const existing = file.contexts.find((c) => c.name === name);
      if (!existing && flags.hub === undefined) {
        throw new UsageError(`context "${name}" is new; give its hub with --hub HOST:PORT`);
      }
      const updated: ContextConfig = { ...(existing ?? { name, hub: '' }) };
      if (flags.hub !== undefined) updated.hub = flags.hub;
      if (flags.token !== undefined) updated.token = flags.token;
      const tls = tlsOf(updated.tls, flags);
      if (tls) updated.tls = tls;
      else delete updated.tls;
      if (
        updated.tls &&
        (updated.tls.certFile === undefined) !== (updated.tls.keyFile === undefined)
      ) {
        throw new ConfigError('--cert-file and --key-file go together; give both');
      }
      const contexts = existing
        ? file.contexts.map((c) => (c.name === name ? updated : c))
        : [...file.contexts, updated];
      // The first context becomes current, so a newcomer's next command just works.
      const currentContext = file.currentContext ?? name;
      saveConfig(ctx.configPath(), { ...file, contexts, currentContext });
      ctx.print(
        `Context "${name}" ${existing ? 'modified' : 'created'}${file.currentContext === undefined ? ' and made current' : ''}.\n`,
      );
    });

  config
    .command('delete-context')
    .description('remove a context')
    .argument('<name>', 'context name')
    .addHelpText('after', '\nExamples:\n  muster config delete-context old-hub')
    .action((name: string) => {
      const file = ctx.loadConfig();
      if (!file.contexts.some((c) => c.name === name))
        throw new NotFoundError(`no context named "${name}" in ${ctx.configPath()}`);
      const next = { ...file, contexts: file.contexts.filter((c) => c.name !== name) };
      if (next.currentContext === name) delete next.currentContext;
      saveConfig(ctx.configPath(), next);
      ctx.print(`Context "${name}" deleted.\n`);
    });
}

/** TLS files are stored as absolute paths, so the context works from any folder. */
function tlsOf(current: TlsConfig | undefined, flags: SetContextFlags): TlsConfig | undefined {
  if (flags.plaintext) return undefined;
  const touched =
    flags.caFile !== undefined ||
    flags.certFile !== undefined ||
    flags.keyFile !== undefined ||
    flags.insecure;
  if (!touched) return current;
  const tls: TlsConfig = { ...(current ?? {}) };
  if (flags.caFile !== undefined) tls.caFile = resolve(flags.caFile);
  if (flags.certFile !== undefined) tls.certFile = resolve(flags.certFile);
  if (flags.keyFile !== undefined) tls.keyFile = resolve(flags.keyFile);
  if (flags.insecure) tls.insecure = true;
  return tls;
}
