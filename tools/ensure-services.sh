#!/usr/bin/env bash
# Starts local PostgreSQL and Redis when they are not already answering (this machine kind runs
# them as plain daemons; elsewhere, `docker compose up -d postgres redis` does the same).
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  echo "starting PostgreSQL..."
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
fi
if ! redis_up; then
  echo "starting Redis..."
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  redis_up || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
fi
# The fault suite (tests/faults) runs hub replicas with shifted clocks through libfaketime.
faketime_lib() { ls /usr/lib/*-linux-gnu/faketime/libfaketime.so.1 >/dev/null 2>&1; }
if ! faketime_lib; then
  echo "installing libfaketime..."
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q libfaketime >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libfaketime >/dev/null 2>&1; } || true
  fi
  faketime_lib || { echo "libfaketime is missing and could not be installed (apt-get install -y libfaketime)" >&2; exit 1; }
fi
