// The charts' settings blocks, their value schemas and docs/install.md against the config schemas
// they are generated from (tools/helm-values.mjs): a setting added to the hub or the agent fails
// here until the generator is run again.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/hub-process';

const run = promisify(execFile);

it('values.yaml, values.schema.json and docs/install.md are up to date with the schemas', async () => {
  const result = await run('node', [join(REPO_ROOT, 'tools/helm-values.mjs'), '--check'], {
    cwd: REPO_ROOT,
  }).then(
    () => 'up to date',
    (e: { stderr?: string }) => e.stderr ?? String(e),
  );
  expect(result).toBe('up to date');
});
