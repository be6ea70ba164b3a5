#!/usr/bin/env bash
# Placement benchmark: compiles bench.ts and cycles.ts together with the library sources and runs
# them: one batch per fleet size (bench.ts), then cycles against a kept index (cycles.ts).
#   bench/placement/run.sh            full run (10,000 gangs per configuration)
#   bench/placement/run.sh --quick    quick run (1,000 gangs), same as BENCH_QUICK=1
# Knobs (bench.ts): BENCH_GANGS=<n>, BENCH_POLICY=pack|spread, BENCH_SEED=<n>,
# BENCH_ONLY=<clusters>x<nodes>
# (one configuration), BENCH_SLOW=<ms> (print decisions slower than that); (cycles.ts):
# BENCH_CYCLES, BENCH_CYCLE_GANGS, BENCH_RUN_CYCLES, BENCH_NOISE (see its header); both:
# BENCH_NODE_FLAGS (e.g. --single-threaded-gc: on an oversubscribed machine V8's parallel GC
# helper threads get descheduled and stall the main thread, which inflates wall-clock tails).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf bench/placement/dist
npx tsc -p bench/placement/tsconfig.json
# shellcheck disable=SC2086
node ${BENCH_NODE_FLAGS:-} bench/placement/dist/bench/placement/bench.js "$@"
# shellcheck disable=SC2086
node ${BENCH_NODE_FLAGS:-} bench/placement/dist/bench/placement/cycles.js "$@"
# shellcheck disable=SC2086
node ${BENCH_NODE_FLAGS:-} bench/placement/dist/bench/placement/devices.js "$@"
