#!/usr/bin/env bash
# Placement search cost: compiles search.ts with the library sources and runs it.
# Knobs: BENCH_REPS=<n> (decisions per case, default 20), BENCH_POLICY=pack|spread.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf bench/placement/dist
npx tsc -p bench/placement/tsconfig.json
node bench/placement/dist/bench/placement/search.js "$@"
