# Sourced by test-services.sh and run-prod-like.sh: PostgreSQL, Redis and an S3 server.
#
# services_up uses the PostgreSQL (127.0.0.1:5432, trust auth, user postgres) and the Redis
# (127.0.0.1:6379) of this machine when they answer; otherwise it starts private ones in a
# temp dir on free ports (installing them with apt-get when the binaries are missing). The S3
# server is always a private moto. services_down (run from the caller's EXIT trap) stops what
# was started, drops the databases registered with services_forget_db and the Redis keys of
# SERVICES_QUEUE_NAME, and removes the temp dir. Nothing it did not start is stopped.
# SERVICES_PRIVATE=1 always starts private PostgreSQL and Redis.
#
# After services_up: PG_BASE_URL (postgres://postgres@127.0.0.1:PORT, no database),
# REDIS_URL, S3_ENDPOINT_URL (and S3_BUCKET created there when set beforehand),
# SERVICES_TMP.

PY=${PY:-.venv/bin/python}
SERVICES_TMP=""
_services_pids=()
_services_pgdata=""
_services_pg_owner=""
_services_dbs=()

_say() { echo "services: $*" >&2; }

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_pg_answers() {  # $1 = port
  "$PY" - "$1" <<'PYEOF' >/dev/null 2>&1
import sys

import psycopg

psycopg.connect(
    host="127.0.0.1", port=int(sys.argv[1]), user="postgres", dbname="postgres", connect_timeout=3
).close()
PYEOF
}

_redis_answers() {  # $1 = port
  "$PY" -c "import redis, sys; redis.Redis(port=int(sys.argv[1]), socket_timeout=3, socket_connect_timeout=3).ping()" "$1" >/dev/null 2>&1
}

_wait_for() {  # $1 = what, $2... = command; up to 30 s
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@"; then return 0; fi
    sleep 0.5
  done
  _say "$what did not come up"
  return 1
}

_apt_install() {
  if [ "$(id -u)" != "0" ]; then
    _say "$* missing and we are not root: install it with apt-get install -y $*"
    return 1
  fi
  _say "installing $* with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

_pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

_pg_as_owner() {  # initdb and postgres refuse to run as root: run them as the postgres user
  if [ -n "$_services_pg_owner" ]; then
    runuser -u "$_services_pg_owner" -- "$@"
  else
    "$@"
  fi
}

_start_postgres() {
  local bindir port
  bindir=$(_pg_bindir)
  if [ -z "$bindir" ]; then
    # Only the binaries are wanted: don't let the package create and start a main cluster.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/50-no-main.conf
    _apt_install postgresql
    bindir=$(_pg_bindir)
  fi
  port=$(free_port)
  _services_pgdata="$SERVICES_TMP/pg"
  mkdir -p "$_services_pgdata"
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    _services_pg_owner=postgres
    chown -R postgres "$SERVICES_TMP"
  fi
  _pg_as_owner "$bindir/initdb" --auth=trust -U postgres -D "$_services_pgdata/data" >/dev/null
  # Throw-away data: no fsync, no durable commits, sockets in the temp dir.
  _pg_as_owner "$bindir/pg_ctl" -D "$_services_pgdata/data" -l "$_services_pgdata/log" -w \
    -o "-p $port -k $_services_pgdata -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  _SERVICES_PG_CTL="$bindir/pg_ctl"
  _wait_for "PostgreSQL" _pg_answers "$port"
  _say "started a private PostgreSQL on port $port"
  PG_PORT=$port
}

_start_redis() {
  local port
  command -v redis-server >/dev/null || _apt_install redis-server
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$SERVICES_TMP" >"$SERVICES_TMP/redis.log" 2>&1 &
  _services_pids+=($!)
  _wait_for "Redis" _redis_answers "$port"
  _say "started a private Redis on port $port"
  REDIS_PORT=$port
}

_start_moto() {
  local port
  port=$(free_port)
  "$PY" -m moto.server -H 127.0.0.1 -p "$port" >"$SERVICES_TMP/moto.log" 2>&1 &
  _services_pids+=($!)
  _wait_for "moto" "$PY" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1
  MOTO_PORT=$port
}

services_up() {
  SERVICES_TMP=$(mktemp -d "${TMPDIR:-/tmp}/portal-services.XXXXXX")
  chmod 755 "$SERVICES_TMP"
  # SERVICES_PRIVATE=1: start private ones even when the machine's answer (CI-like run).
  if [ -z "${SERVICES_PRIVATE:-}" ] && _pg_answers 5432; then
    PG_PORT=5432
  else
    _start_postgres
  fi
  if [ -z "${SERVICES_PRIVATE:-}" ] && _redis_answers 6379; then
    REDIS_PORT=6379
  else
    _start_redis
  fi
  _start_moto
  PG_BASE_URL="postgres://postgres@127.0.0.1:$PG_PORT"
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  S3_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
  # Dummy credentials: moto accepts any; boto3 only needs some.
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
  export REDIS_URL S3_ENDPOINT_URL
  if [ -n "${S3_BUCKET:-}" ]; then
    "$PY" -c "import boto3, os; boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT_URL']).create_bucket(Bucket=os.environ['S3_BUCKET'])"
  fi
  _say "PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, S3 (moto) :$MOTO_PORT"
}

services_forget_db() {  # drop this database (if it exists) when the services go down
  _services_dbs+=("$1")
}

_drop_databases() {
  [ ${#_services_dbs[@]} -gt 0 ] || return 0
  "$PY" - "$PG_PORT" "${_services_dbs[@]}" <<'PYEOF' || true
import sys

import psycopg

port, names = int(sys.argv[1]), sys.argv[2:]
with psycopg.connect(
    host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
) as conn:
    for name in names:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
PYEOF
}

_forget_queue() {  # the Redis keys of our django-q2 queue and stats, on a shared Redis
  [ -n "${SERVICES_QUEUE_NAME:-}" ] || return 0
  "$PY" - "$REDIS_URL" "$SERVICES_QUEUE_NAME" <<'PYEOF' || true
import sys

import redis

client = redis.Redis.from_url(sys.argv[1], socket_timeout=3)
for key in client.scan_iter(match=f"django_q:{sys.argv[2]}:*"):
    client.delete(key)
PYEOF
}

services_down() {
  set +e
  if [ -n "${PG_PORT:-}" ]; then _drop_databases; fi
  if [ -n "${REDIS_URL:-}" ]; then _forget_queue; fi
  local pid
  for pid in "${_services_pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${_services_pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  if [ -n "$_services_pgdata" ] && [ -d "$_services_pgdata/data" ]; then
    _pg_as_owner "$_SERVICES_PG_CTL" -D "$_services_pgdata/data" -m fast -w stop >/dev/null 2>&1
  fi
  if [ -n "$SERVICES_TMP" ]; then rm -rf "$SERVICES_TMP"; fi
}
