#!/usr/bin/env bash
# Fleet benchmark: one hub against simulated clusters (scripted agents on the real protocol, no
# API servers): cycle times, decisions and dispatches per second, hub RSS, database size, and how
# long a cluster joining a busy fleet waits for work.
#   bench/fleet/run.sh                                        100 × 1,000 nodes, 100,000 gangs
#   BENCH_CLUSTERS=C BENCH_NODES=N BENCH_GANGS=G BENCH_QUEUES=Q BENCH_RUN_MS=MS bench/fleet/run.sh
exec bash "$(dirname "$0")/../support/run.sh" fleet "$@"
