#!/usr/bin/env bash
# Fault benchmark over real processes: the fault suite's harness (tests/faults) with more gangs.
# Three worker clusters, two hub replicas, three agents behind proxies, a Postgres and a Redis
# of the run's own; seven faults one after another while a sampler reads the worker API
# servers. Prints per fault the gangs it displaced and the time until they ran again (p50/p95)
# beside the limit measured in the same run, and every invariant count. Exits 1 with one line
# saying why when the run is not valid or an invariant count is not 0.
#   bench/faults/run.sh                  600 gangs, 2 a second while the faults run
#   BENCH_GANGS=N (or --gangs N), BENCH_RATE=R gangs a second, BENCH_SEED=S the gang mix
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/ensure-services.sh
bash tools/ensure-install.sh
node infra/testbed/dist/cli.js build
rm -rf bench/faults/dist
npx tsc -p bench/faults/tsconfig.json
node bench/faults/dist/bench/faults/bench.js "$@"
