#!/usr/bin/env bash
# Restart benchmark: a hub started on a long history (jobs and events seeded in Postgres): time to
# serve and to its first scheduling cycle, and ListJobs pages beside the same pages in plain SQL.
#   bench/restart/run.sh                                  100,000 jobs, 1,000,000 events
#   BENCH_JOBS=N BENCH_EVENTS=M BENCH_PAGES=P bench/restart/run.sh
exec bash "$(dirname "$0")/../support/run.sh" restart "$@"
