// Contexts, connection failures, help and completion of the built CLI.
import { statSync } from 'node:fs';
import { parse } from 'yaml';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import type { HubProcess } from '../support/hub-process';
import { CliSandbox, type CliResult } from './support/cli-process';

let env: HubEnvironment;
let hub: HubProcess;
/** No MUSTER_HUB: the config file decides. */
let cli: CliSandbox;
const TOKEN = 's3cret-token-value';

beforeAll(async () => {
  env = await startHubEnvironment();
  hub = env.hub;
  cli = new CliSandbox(undefined);
});

afterAll(() => env?.stop());

describe('contexts', () => {
  it('set-context, use-context, current-context and view with the token redacted', async () => {
    let r = await cli.run([
      'config',
      'set-context',
      'local',
      '--hub',
      hub.grpcAddress,
      '--token',
      TOKEN,
    ]);
    expect([r.code, r.stdout]).toEqual([0, 'Context "local" created and made current.\n']);
    expect(statSync(cli.configPath).mode & 0o777).toBe(0o600);
    r = await cli.run(['config', 'set-context', 'offline', '--hub', '127.0.0.1:1']);
    expect([r.code, r.stdout]).toEqual([0, 'Context "offline" created.\n']);

    r = await cli.run(['config', 'view']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(TOKEN);
    expect(parse(r.stdout)).toEqual({
      currentContext: 'local',
      contexts: [
        { name: 'local', hub: hub.grpcAddress, token: 'REDACTED' },
        { name: 'offline', hub: '127.0.0.1:1' },
      ],
    });
    r = await cli.run(['config', 'view', '-o', 'json']);
    expect(JSON.parse(r.stdout).contexts[0].token).toBe('REDACTED');

    r = await cli.run(['config', 'get-contexts']);
    expect(r.stdout).toMatch(
      /^CURRENT\s+NAME\s+HUB\s+TOKEN\s+TLS\n\*\s+local\s+\S+\s+yes\s+no\n\s+offline\s+127\.0\.0\.1:1\s+no\s+no\n$/,
    );

    // The current context reaches the hub; -v says where it goes and never shows the token.
    r = await cli.run(['queues', 'list', '-v']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `hub ${hub.grpcAddress} (from context "local" in ${cli.configPath}), with a token`,
    );
    expect(r.stderr).not.toContain(TOKEN);

    r = await cli.run(['config', 'use-context', 'offline']);
    expect([r.code, r.stdout]).toEqual([0, 'Switched to context "offline".\n']);
    expect((await cli.run(['config', 'current-context'])).stdout).toBe('offline\n');

    // MUSTER_CONTEXT and --context pick another context for one command.
    expect((await cli.run(['queues', 'list'], { env: { MUSTER_CONTEXT: 'local' } })).code).toBe(0);
    expect((await cli.run(['--context', 'local', 'queues', 'list'])).code).toBe(0);
    expect((await cli.run(['queues', 'list', '--hub', hub.grpcAddress])).code).toBe(0);

    r = await cli.run(['config', 'use-context', 'nope']);
    expect([r.code, r.stderr]).toEqual([
      3,
      `error: no context named "nope" in ${cli.configPath} (contexts: local, offline)\n`,
    ]);
    r = await cli.run(['queues', 'list', '--context', 'nope']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('--context names context "nope"');

    r = await cli.run(['config', 'delete-context', 'offline']);
    expect(r.code).toBe(0);
    r = await cli.run(['config', 'current-context']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no current context');
  });

  it('says which hub it could not reach, and how to change it', async () => {
    expect((await cli.run(['config', 'set-context', 'down', '--hub', '127.0.0.1:1'])).code).toBe(0);
    let r = await cli.run(['--context', 'down', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: cannot reach the hub at 127\.0\.0\.1:1 \(from context "down" in .*\): .+; check that the hub is running, or point at another hub with --hub HOST:PORT, MUSTER_HUB or `muster config use-context NAME`\n$/,
    );
    r = await cli.run(['get', 'x'], { env: { MUSTER_HUB: '127.0.0.1:1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach the hub at 127.0.0.1:1 (from MUSTER_HUB)');
    r = await cli.run(['list', '--hub', 'nowhere']);
    expect([r.code, r.stderr]).toEqual([
      2,
      'error: --hub: the hub address must be HOST:PORT such as 127.0.0.1:50051 (got "nowhere")\n',
    ]);
  });
});

describe('help, usage errors and completion', () => {
  const commands = [
    [],
    ['submit'],
    ['get'],
    ['list'],
    ['watch'],
    ['explain'],
    ['cancel'],
    ['clusters'],
    ['clusters', 'list'],
    ['clusters', 'get'],
    ['clusters', 'register'],
    ['clusters', 'cordon'],
    ['clusters', 'drain'],
    ['clusters', 'uncordon'],
    ['clusters', 'deregister'],
    ['queues'],
    ['queues', 'list'],
    ['queues', 'get'],
    ['queues', 'create'],
    ['queues', 'update'],
    ['queues', 'delete'],
    ['config'],
    ['config', 'view'],
    ['config', 'get-contexts'],
    ['config', 'current-context'],
    ['config', 'use-context'],
    ['config', 'set-context'],
    ['config', 'delete-context'],
    ['completion'],
  ];

  // Started together: each is a separate process, and nothing depends on another.
  const helps = new Map<string, Promise<CliResult>>();
  beforeAll(() => {
    for (const path of commands) helps.set(path.join(' '), cli.run([...path, '--help']));
  });

  it.each(commands.map((c) => [c.join(' ') || '(muster)', c.join(' ')]))(
    '%s --help shows examples',
    async (_name, key) => {
      const r = await helps.get(key)!;
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: muster/);
      expect(r.stdout).toContain('\nExamples:\n');
      expect(r.stdout.slice(r.stdout.indexOf('\nExamples:\n'))).toMatch(
        /\n {2}(?:[a-z]+ <\()?muster /,
      );
    },
  );

  it('gives exit code 2 and one error line for usage mistakes', async () => {
    let r = await cli.run(['get']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: missing required argument 'job'\n(add --help for usage)\n");
    r = await cli.run(['list', '-o', 'xml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "error: option '-o, --output <format>' argument 'xml' is invalid. Allowed choices are table, json, yaml.",
    );
    r = await cli.run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown command 'frobnicate'");
    expect(r.stderr).not.toMatch(/\s+at /); // no stack trace
  });

  it('prints bash and zsh completion scripts', async () => {
    const bash = await cli.run(['completion', 'bash']);
    expect(bash.code).toBe(0);
    expect(bash.stdout).toMatch(/^# bash completion for muster/);
    expect(bash.stdout).toContain('complete -o default -F _muster muster');
    expect(bash.stdout).toContain(
      '"clusters") echo "list get register cordon drain uncordon fence deregister --hub --token --context -v --verbose --help" ;;',
    );
    const zsh = await cli.run(['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef muster\n/);
    const fish = await cli.run(['completion', 'fish']);
    expect(fish.code).toBe(2);
    expect(fish.stderr).toContain(
      "error: command-argument value 'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh.",
    );
  });

  it('prints its version', async () => {
    const r = await cli.run(['--version']);
    expect([r.code, r.stdout]).toEqual([0, '0.1.0\n']);
  });
});
