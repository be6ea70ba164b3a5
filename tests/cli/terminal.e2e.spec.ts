// `muster watch` on a terminal: run under a pseudo-terminal (util-linux `script`) so the CLI sees
// a TTY and redraws its progress line in place with carriage returns.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHubEnvironment, type HubEnvironment } from '../support/hub-environment';
import { CLI_MAIN, CliSandbox, submittedIds } from './support/cli-process';

const hasScript = spawnSync('script', ['--version']).status === 0;
if (!hasScript) {
  // Say so loudly rather than pass quietly: the terminal display is then untested on this machine.
  console.warn(
    'util-linux `script` is not installed; the pseudo-terminal test of `muster watch` is skipped',
  );
}

let env: HubEnvironment;
let cli: CliSandbox;

beforeAll(async () => {
  env = await startHubEnvironment();
  cli = new CliSandbox(env.hub.grpcAddress);
  expect((await cli.run(['queues', 'create', 'default'])).code).toBe(0);
});

afterAll(() => env?.stop());

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

(hasScript ? it : it.skip)(
  'redraws one progress line in place on a terminal until the job is cancelled',
  async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'muster-tty-')), 'job.yaml');
    writeFileSync(
      file,
      'apiVersion: batch/v1\nkind: Job\nmetadata: {name: tty-watch}\nspec:\n  parallelism: 3\n  template:\n    spec:\n      containers: [{name: c, image: busybox}]\n',
    );
    const submitted = await cli.run(['submit', '-f', file]);
    expect(submitted.code).toBe(0);
    const [id] = submittedIds(submitted.stdout);

    // -q quiet, -f flush each write, -e return the command's exit code, -c run it; no typescript file.
    const command = `${shellQuote(process.execPath)} ${shellQuote(CLI_MAIN)} watch ${id}`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: cli.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const firstDraw = new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('members running')) resolve();
      });
    });
    await Promise.race([firstDraw, exited]);
    expect(output).toContain('\rQueued    0/3 members running');

    const cancel = await cli.run(['cancel', id!, '--reason', 'done watching']);
    expect(cancel.code).toBe(0);
    const code = await exited;

    expect(code).toBe(11);
    // Every draw starts with a carriage return and clears to the end of the line: one line, rewritten.
    const draws = output.split('\r').filter((part) => part.includes('members running'));
    expect(draws.length).toBeGreaterThanOrEqual(2);
    for (const draw of draws) expect(draw).toMatch(/members running.*\x1b\[K/);
    expect(draws[0]).toMatch(/^Queued {4}0\/3 members running {2}\d+s/);
    expect(draws[draws.length - 1]).toMatch(
      /^Cancelled 0\/3 members running {2}\d+s {2}done watching\x1b\[K/,
    );
    // No plain event lines (those are for pipes), and the line is ended once at the end.
    expect(output).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    expect(output.endsWith('\x1b[K\r\n')).toBe(true);
  },
);
