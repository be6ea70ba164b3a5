// End-to-end tests run the built programs, as users do: build them first (incremental).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  if (process.env.MUSTER_SKIP_BUILD === '1') return; // already built (e.g. by tools/test-all.sh)
  const root = path.join(__dirname, '../..');
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-b', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
};
