#!/usr/bin/env bash
# Starts (or stops) throwaway PostgreSQL 15 and Redis servers on loopback for the store tests.
#   scripts/services.sh start   installs what is missing, starts both, waits until both answer
#   scripts/services.sh stop    stops both and removes their temp dirs
# Idempotent: start on running servers and stop on stopped ones do nothing.
# The tests use the defaults Host=127.0.0.1;Port=55432;Username=postgres;Database=postgres and 127.0.0.1:56379
# (override with LEDGER_TEST_POSTGRES / LEDGER_TEST_REDIS).
set -euo pipefail

# Under /tmp, not the checkout: the postgres OS user must be able to reach its data dir, and a checkout may sit in a private (0700) directory.
WORK="${LEDGER_SERVICES_DIR:-/tmp/conversation-ledger-services}"
PGBIN=/usr/lib/postgresql/15/bin
# Other ports (e.g. a second checkout's CI run beside running servers): LEDGER_PG_PORT / LEDGER_REDIS_PORT, with
# LEDGER_TEST_POSTGRES / LEDGER_TEST_REDIS pointing the tests at them.
PG_PORT="${LEDGER_PG_PORT:-55432}"
REDIS_PORT="${LEDGER_REDIS_PORT:-56379}"

# From / so the postgres user never tries to enter a directory it cannot read (e.g. a private mktemp checkout).
as_root() { if [ "$(id -u)" = 0 ]; then (cd / && "$@"); else (cd / && sudo "$@"); fi; }

install_missing() {
  local packages=()
  command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
  command -v tmux >/dev/null 2>&1 || packages+=(tmux) # for the interactive chat check in .ci/run
  [ -d "$PGBIN" ] || packages+=(postgresql)
  if [ ${#packages[@]} -gt 0 ]; then
    echo "installing ${packages[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
}

pg_running() { [ -f "$WORK/pg/data/postmaster.pid" ] && as_root runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" status >/dev/null 2>&1; }
redis_running() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_postgres() {
  if pg_running; then echo "postgres already running on 127.0.0.1:$PG_PORT"; return; fi
  rm -rf "$WORK/pg"
  mkdir -p "$WORK/pg/data" "$WORK/pg/sock"
  # initdb refuses root, so the postgres OS user owns the data dir.
  chmod 755 "$WORK"
  as_root chown -R postgres:postgres "$WORK/pg"
  as_root runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  # fsync stays on: the crash tests kill writers and count acknowledged turns.
  as_root runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $WORK/pg/sock -c max_connections=200" start >/dev/null
  echo "postgres on 127.0.0.1:$PG_PORT"
}

start_redis() {
  if redis_running; then echo "redis already running on 127.0.0.1:$REDIS_PORT"; return; fi
  rm -rf "$WORK/redis"
  mkdir -p "$WORK/redis"
  # AOF with fsync on every write: the durability the Redis store documents.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
    --dir "$WORK/redis" --daemonize yes --pidfile "$WORK/redis/redis.pid" --logfile "$WORK/redis/redis.log"
  for _ in $(seq 1 100); do redis_running && break; sleep 0.1; done
  redis_running || { echo "redis did not start; see $WORK/redis/redis.log" >&2; exit 1; }
  echo "redis on 127.0.0.1:$REDIS_PORT"
}

stop_all() {
  if pg_running; then
    as_root runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null
    echo "postgres stopped"
  fi
  if redis_running; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do redis_running || break; sleep 0.1; done
    echo "redis stopped"
  fi
  rm -rf "$WORK"
}

case "${1:-}" in
  start)
    install_missing
    mkdir -p "$WORK"
    start_postgres
    start_redis
    ;;
  stop)
    stop_all
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
