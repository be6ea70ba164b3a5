#!/usr/bin/env bash
# Installs npm packages when node_modules is missing or older than the lock file, then checks
# the generated API code is current and builds every project (incremental), the web console included.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.muster-install-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "installing npm packages..."
  # Not `npm ci`: the registry here serves only some platforms' optional binaries (buf), which
  # `npm ci` insists on finding in the lock file; `npm install` follows the lock file all the same.
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
node tools/proto-gen.mjs --check
npx --no-install tsc -b tsconfig.build.json
bash tools/build-console.sh
