#!/usr/bin/env bash
# Dispatch benchmark over real processes (hub, three agents, three kube-apiservers, Postgres,
# Redis): gangs per second from submit to dispatched, latency percentiles, and pods per second
# materialised beside the raw pod-create rate of a plain client loop against the same servers.
#   bench/dispatch/run.sh                 1,000 gangs of 4 members
#   BENCH_GANGS=200 bench/dispatch/run.sh a quicker run
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/ensure-services.sh
bash tools/ensure-install.sh
rm -rf bench/dispatch/dist
npx tsc -p bench/dispatch/tsconfig.json
node bench/dispatch/dist/bench/dispatch/bench.js "$@"
