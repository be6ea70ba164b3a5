#!/usr/bin/env bash
# Queues benchmark: fair share of GPU-time for two and four tenants with weights, over ten minutes
# of fleet time on the hub's own cycle, and the cycle time with 10,000 queued gangs in 100 queues.
#   bench/queues/run.sh
#   BENCH_FAIR_SECONDS=S BENCH_FAIR_CLUSTERS=C BENCH_QUEUED=G BENCH_QUEUES=Q BENCH_CYCLES=N bench/queues/run.sh
exec bash "$(dirname "$0")/../support/run.sh" queues "$@"
