import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestError } from '../errors';
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
    expect(docs).toEqual([{ source: 'job.yaml', body: { kind: 'Job' } }]);
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
    expect(readManifestFile('-', () => 'kind: Gang\n')[0]).toEqual({
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
