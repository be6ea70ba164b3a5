#!/usr/bin/env bash
# Front-door benchmark: Jobs created on a real management cluster until each says Running, beside
# the API server's create latency and the hub's gRPC SubmitJob latency in the same run.
#   bench/front-door/run.sh                         200 Jobs from 10 clients
#   BENCH_OBJECTS=N BENCH_CLIENTS=C bench/front-door/run.sh
exec bash "$(dirname "$0")/../support/run.sh" front-door "$@"
