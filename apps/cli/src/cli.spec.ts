import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { MUSTER_CONFIG: join(tmpdir(), 'muster-cli-spec-none.yaml'), ...env },
    now: () => new Date('2025-01-01T00:00:00Z'),
    readStdin: () => '',
  });
  return { code, stdout, stderr };
}

describe('runCli', () => {
  const bad = join(mkdtempSync(join(tmpdir(), 'muster-cli-spec-')), 'job.yaml');
  writeFileSync(
    bad,
    'apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\nspec: {parallelism: four, template: {spec: {containers: [{name: c, image: i}]}}}\n',
  );

  it('prints one error line and exit code 2 for a bad manifest, with no stack trace', async () => {
    const r = await run(['submit', '-f', bad]);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: ${bad}: spec.parallelism: must be a positive integer (got "four")\n`,
    });
  });

  it('adds the stack trace when MUSTER_DEBUG=1', async () => {
    const r = await run(['submit', '-f', bad], { MUSTER_DEBUG: '1' });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      `error: ${bad}: spec.parallelism: must be a positive integer (got "four")`,
    );
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('treats help as success and usage mistakes as exit code 2', async () => {
    expect((await run(['--help'])).code).toBe(0);
    expect((await run(['list', '--limit', '-1'])).code).toBe(2);
    expect((await run(['list', '--limit', '-1'])).stderr).toContain(
      "error: option '--limit <n>' argument '-1' is invalid. must be an integer from 0 to 2147483647.",
    );
  });

  it('refuses --name for a file of several documents', async () => {
    const two = join(mkdtempSync(join(tmpdir(), 'muster-cli-spec-')), 'two.yaml');
    writeFileSync(two, 'kind: Job\n---\nkind: Job\n');
    const r = await run(['submit', '-f', two, '--name', 'x']);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: --name names one job, but the manifests hold 2 documents; drop --name or split them\n',
    });
  });
});
