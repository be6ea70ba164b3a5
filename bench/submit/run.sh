#!/usr/bin/env bash
# Submit benchmark: concurrent clients submit to one hub process (every submit committed before
# its reply), beside a plain INSERT loop into the same Postgres in the same run.
#   bench/submit/run.sh                         10,000 submits from 50 clients
#   BENCH_SUBMITS=N BENCH_CLIENTS=C bench/submit/run.sh
exec bash "$(dirname "$0")/../support/run.sh" submit "$@"
