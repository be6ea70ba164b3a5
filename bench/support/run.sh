#!/usr/bin/env bash
# Builds and runs one benchmark: bench/support/run.sh NAME [ARGS...] runs bench/NAME/bench.ts,
# after starting Postgres and Redis if they are down and installing and building what it needs.
set -euo pipefail
cd "$(dirname "$0")/../.."
name="$1"
shift
bash tools/ensure-services.sh
bash tools/ensure-install.sh
rm -rf "bench/$name/dist"
npx tsc -p "bench/$name/tsconfig.json"
node "bench/$name/dist/bench/$name/bench.js" "$@"
