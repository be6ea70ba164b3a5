#!/usr/bin/env bash
# Placement benchmark: compiles bench.ts together with the library sources and runs it.
#   bench/placement/run.sh            full run (10,000 gangs per configuration)
#   bench/placement/run.sh --quick    quick run (1,000 gangs), same as BENCH_QUICK=1
# Knobs: BENCH_GANGS=<n>, BENCH_POLICY=pack|spread, BENCH_SEED=<n>, BENCH_ONLY=<clusters>x<nodes>
# (one configuration), BENCH_SLOW=<ms> (print decisions slower than that),
# BENCH_NODE_FLAGS (e.g. --single-threaded-gc: on an oversubscribed machine V8's parallel GC
# helper threads get descheduled and stall the main thread, which inflates wall-clock tails).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf bench/placement/dist
npx tsc -p bench/placement/tsconfig.json
# shellcheck disable=SC2086
node ${BENCH_NODE_FLAGS:-} bench/placement/dist/bench/placement/bench.js "$@"
