#!/usr/bin/env bash
# Placement misses against the exhaustive witness: compiles misses.ts with the library sources and
# runs it. Knobs: MISSES_RUNS, MISSES_SEED, MISSES_SHOW, MISSES_BUDGET (see misses.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf bench/placement/dist
npx tsc -p bench/placement/tsconfig.json
node bench/placement/dist/bench/placement/misses.js "$@"
