#!/usr/bin/env bash
# Builds the web console (apps/console) into apps/console/dist/web with Vite, unless the bundle is
# newer than every source file of it and the lock file: cheap when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

out=apps/console/dist/web/index.html
if [ -f "$out" ] && [ -z "$(find apps/console/src apps/console/index.html apps/console/vite.config.mjs \
  apps/console/package.json package-lock.json -newer "$out" -print -quit)" ]; then
  exit 0
fi
echo "building the web console..."
npx --no-install vite build -c apps/console/vite.config.mjs
