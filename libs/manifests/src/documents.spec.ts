import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestError } from './errors';
import { parseManifestText, readManifestFile } from './documents';

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).message;
  }
  throw new Error('expected a ManifestError');
}

describe('manifest files', () => {
  it('names one document by the file alone', () => {
    const docs = parseManifestText('job.yaml', 'kind: Job\n');
    expect(docs.map((d) => [d.source, d.body])).toEqual([['job.yaml', { kind: 'Job' }]]);
  });

  it('numbers several documents as a reader counts them, skipping empty ones', () => {
    const docs = parseManifestText(
      'all.yaml',
      '---\nkind: Job\n---\n# only a comment\n---\nkind: Gang\n',
    );
    expect(docs.map((d) => [d.source, d.body])).toEqual([
      ['all.yaml (document 1)', { kind: 'Job' }],
      ['all.yaml (document 3)', { kind: 'Gang' }],
    ]);
  });

  it('finds the line of a path, counted from the top of the file', () => {
    const [, second] = parseManifestText(
      'all.yaml',
      [
        'kind: Job',
        '---',
        'kind: Job',
        'metadata:',
        '  labels: {"kueue.x-k8s.io/queue-name": q}',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '        - name: a',
        '        - name: b',
        '          image: i',
      ].join('\n'),
    );
    const lines = second!.lines!;
    expect(lines('spec.template.spec.containers[1].image')).toBe(12);
    expect(lines('spec.template.spec.containers[1]')).toBe(11);
    expect(lines('metadata.labels["kueue.x-k8s.io/queue-name"]')).toBe(5);
    // An absent field is reported at the nearest one written; what is not in the file has none.
    expect(lines('spec.template.spec.containers[0].image')).toBe(10);
    expect(lines('spec.parallelism')).toBe(6);
    expect(lines('status.phase')).toBeUndefined();
    expect(lines('--queue')).toBeUndefined();
    expect(lines('')).toBeUndefined();
  });

  it('names the line and column of a YAML syntax error', () => {
    expect(
      refusal(() => parseManifestText('job.yaml', 'kind: Job\nspec:\n  parallelism: [1\n')),
    ).toMatch(/^job\.yaml: line \d+, column \d+: invalid YAML: /);
  });

  it('refuses duplicate keys, which YAML silently merges otherwise', () => {
    expect(refusal(() => parseManifestText('job.yaml', 'kind: Job\nkind: Gang\n'))).toContain(
      'job.yaml: line 2, column 1: invalid YAML: Map keys must be unique',
    );
  });

  it('refuses a file without documents', () => {
    expect(refusal(() => parseManifestText('empty.yaml', '# nothing\n'))).toBe(
      'empty.yaml: holds no YAML document',
    );
  });

  it('reads files and standard input, and names a missing file or a folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'muster-manifests-'));
    const file = join(dir, 'job.yaml');
    writeFileSync(file, 'kind: Job\n');
    expect(readManifestFile(file)[0]!.body).toEqual({ kind: 'Job' });
    expect(readManifestFile('-', () => 'kind: Gang\n')[0]).toMatchObject({
      source: '<stdin>',
      body: { kind: 'Gang' },
    });
    expect(refusal(() => readManifestFile(join(dir, 'nope.yaml')))).toBe(
      `${join(dir, 'nope.yaml')}: no such file`,
    );
    mkdirSync(join(dir, 'folder'));
    expect(refusal(() => readManifestFile(join(dir, 'folder')))).toBe(
      `${join(dir, 'folder')}: is a directory; name a YAML file`,
    );
  });
});
