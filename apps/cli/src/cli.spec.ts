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
      stderr: `error: ${bad}: line 4: spec.parallelism: must be a positive integer (got "four")\n`,
    });
  });

  it('adds the stack trace when MUSTER_DEBUG=1', async () => {
    const r = await run(['submit', '-f', bad], { MUSTER_DEBUG: '1' });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      `error: ${bad}: line 4: spec.parallelism: must be a positive integer (got "four")`,
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

  it('shows in a dry run what each member claims through DRA', async () => {
    const example = join(__dirname, '../examples/dra-job.yaml');
    const r = await run(['submit', '-f', example, '--dry-run']);
    expect(r).toEqual({
      code: 0,
      stdout: [
        `${example} (document 2): Job → job "llm-eval" in queue default, 2 members`,
        '  main × 2  (each cpu 4, memory 16Gi)',
        '    claim gpu: template one-a100, one claim per member',
        '      request gpu: 1 × gpu.example.com',
        '        where device.attributes["gpu.example.com"].model == "A100"',
        '',
      ].join('\n'),
      stderr: 'dry run: nothing was submitted\n',
    });
    const json = JSON.parse(
      (await run(['submit', '-f', example, '--dry-run', '-o', 'json'])).stdout,
    );
    expect(json.resourceClaimTemplates[0].name).toBe('one-a100');
  });

  describe('a gang whose claimed devices all share one attribute', () => {
    const dir = mkdtempSync(join(tmpdir(), 'muster-cli-spec-'));
    function nvlinkFile(name: string, annotation: string, claims = true): string {
      const file = join(dir, name);
      writeFileSync(
        file,
        [
          'apiVersion: resource.k8s.io/v1',
          'kind: ResourceClaimTemplate',
          'metadata: {name: eight-h100}',
          'spec:',
          '  spec:',
          '    devices:',
          '      requests:',
          '        - {name: gpu, exactly: {deviceClassName: gpu.example.com, count: 8}}',
          '---',
          'apiVersion: batch/v1',
          'kind: Job',
          'metadata:',
          '  name: nvl',
          '  annotations:',
          `    muster.dev/match-device-attribute: ${annotation}`,
          'spec:',
          '  parallelism: 2',
          '  template:',
          '    spec:',
          claims
            ? '      resourceClaims: [{name: gpus, resourceClaimTemplateName: eight-h100}]'
            : '',
          '      containers:',
          claims
            ? '        - {name: c, image: i, resources: {claims: [{name: gpus}]}}'
            : '        - {name: c, image: i}',
          '',
        ].join('\n'),
      );
      return file;
    }

    it('says so in a dry run, before the pod sets, and sends it in the JobSpec', async () => {
      const file = nvlinkFile('nvl.yaml', 'gpu.example.com/interconnect');
      const r = await run(['submit', '-f', file, '--dry-run']);
      expect(r).toEqual({
        code: 0,
        stdout: [
          `${file} (document 2): Job → job "nvl" in queue default, 2 members`,
          '  devices: every claimed device shares gpu.example.com/interconnect (across members)',
          '  main × 2  (each no requests)',
          '    claim gpus: template eight-h100, one claim per member',
          '      request gpu: 8 × gpu.example.com',
          '',
        ].join('\n'),
        stderr: 'dry run: nothing was submitted\n',
      });
      const json = JSON.parse(
        (await run(['submit', '-f', file, '--dry-run', '-o', 'json'])).stdout,
      );
      expect(json.matchDeviceAttribute).toBe('gpu.example.com/interconnect');
    });

    it('refuses a bad attribute name with the annotation and its line', async () => {
      const file = nvlinkFile('bad.yaml', 'interconnect');
      expect(await run(['submit', '-f', file, '--dry-run'])).toEqual({
        code: 2,
        stdout: '',
        stderr: `error: ${file} (document 2): line 15: metadata.annotations["muster.dev/match-device-attribute"]: must be a fully qualified device attribute name, <domain>/<name> such as gpu.example.com/interconnect (got "interconnect")\n`,
      });
    });
  });

  it('refuses a job naming a template the file lacks, with the field and its line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'muster-cli-spec-')), 'dra.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: batch/v1',
        'kind: Job',
        'metadata: {name: a}',
        'spec:',
        '  template:',
        '    spec:',
        '      resourceClaims:',
        '        - {name: gpu, resourceClaimTemplateName: one-gpu}',
        '      containers: [{name: c, image: i}]',
        '',
      ].join('\n'),
    );
    const r = await run(['submit', '-f', file, '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${file}: line 8: spec.template.spec.resourceClaims[0].resourceClaimTemplateName: no ResourceClaimTemplate named "one-gpu" in the manifests (there are none); add a resource.k8s.io/v1 ResourceClaimTemplate document of that name to the manifests\n`,
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
        'error: --name names one job, but the manifests hold 2 jobs; drop --name or split them\n',
    });
  });
});
