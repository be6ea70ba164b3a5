#!/usr/bin/env bash
# Dispatch benchmark over real processes (hub, three agents, three kube-apiservers, Postgres,
# Redis): gangs per second from submit to Running (the hub says Running and every member is
# Running in its worker), latency percentiles, pods per second Running beside the rate of a
# plain client loop against the same servers in the same run, BindTimeout requeues and pods
# Pending for lack of a pod slot. Exits 1 with one line saying why when the run is not valid.
#   bench/dispatch/run.sh                 1,000 gangs of 4 members
#   BENCH_GANGS=200 bench/dispatch/run.sh a quicker run (or: bench/dispatch/run.sh --gangs 200)
#   BENCH_MEMBERS=M, BENCH_TIMEOUT_S=S    members per gang, longest wait for Running
exec bash "$(dirname "$0")/../support/run.sh" dispatch "$@"
