#!/usr/bin/env bash
# `make run-prod-like`: the production topology of docs/deploy.md on one machine, for a
# try-out: gunicorn (DJANGO_DEBUG=false, JSON logs), two django-q2 clusters on the Redis
# broker (as two worker hosts), PostgreSQL, S3 (moto) and the sandbox upstream.
# Ctrl-C stops everything it started and drops its database.
#
# Differences from a real deployment, because this runs on plain http on localhost: no https
# redirect and cookies without the Secure flag.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8010}
MAIL_PORT=${MAIL_PORT:-8025}
# shellcheck source=scripts/services.sh
source scripts/services.sh

RUN="portal-prodlike-$$"
DB="portal_prodlike_$$"
export S3_BUCKET="$RUN" Q_CLUSTER_NAME="$RUN"
SERVICES_QUEUE_NAME="$RUN"

pids=()
stop_all() {
  set +e
  trap - INT TERM
  echo "Stopping..." >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  services_down
}
trap stop_all EXIT
trap 'exit 130' INT TERM

services_up
services_forget_db "$DB"
"$PY" - "$PG_PORT" "$DB" <<'PYEOF'
import sys

import psycopg

with psycopg.connect(
    host="127.0.0.1", port=int(sys.argv[1]), user="postgres", dbname="postgres", autocommit=True
) as conn:
    conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
PYEOF

# --- The environment every role gets (docs/deploy.md, "Environment") ---------------------
export DJANGO_DEBUG=false
DJANGO_SECRET_KEY=$("$PY" -c "import secrets; print(secrets.token_urlsafe(50))")
VAULT_KEYS=$("$PY" -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")
export DJANGO_SECRET_KEY VAULT_KEYS
export DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost"
export DJANGO_SECURE_SSL_REDIRECT=false DJANGO_SECURE_COOKIES=false
export DATABASE_URL="$PG_BASE_URL/$DB"
export STATIC_ROOT="$SERVICES_TMP/static"
export MINIMAX_BASE_URL="http://127.0.0.1:${SANDBOX_PORT}" MINIMAX_CN_BASE_URL="http://127.0.0.1:${SANDBOX_PORT}"
export USEAPI_BASE_URL="http://127.0.0.1:${SANDBOX_PORT}"
# Production refuses a mail backend that delivers nothing: mail goes over SMTP to a local
# sink that prints each message below (Python 3.11's smtpd; a try-out only).
export EMAIL_URL="smtp://127.0.0.1:${MAIL_PORT}/"
# The try-out seeds the demo login on purpose; a real deployment never silences this check.
export DJANGO_SILENCED_SYSTEM_CHECKS=accounts.E001
# The sandbox can reach us here, so it sends callbacks (and fetches input images by URL).
export PUBLIC_BASE_URL="http://127.0.0.1:${PORT}"
export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2} GUNICORN_BIND="127.0.0.1:${PORT}"
export Q_WORKERS=${Q_WORKERS:-2}

# --- Release steps: migrations first, then static files, then (demo only) seed data -------
"$PY" manage.py migrate --noinput >/dev/null
"$PY" manage.py collectstatic --noinput >/dev/null
"$PY" manage.py seed_demo >/dev/null

# --- The roles -----------------------------------------------------------------------------
"$PY" -m sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --generation-seconds 8 --quiet &
pids+=($!)
"$PY" -W ignore::DeprecationWarning -m smtpd -n -c DebuggingServer "127.0.0.1:${MAIL_PORT}" &
pids+=($!)
.venv/bin/gunicorn -c gunicorn.conf.py portal.asgi:application &
pids+=($!)
# Two clusters on one broker, as two worker hosts: same Q_CLUSTER_NAME, different processes.
"$PY" manage.py worker &
pids+=($!)
"$PY" manage.py worker &
pids+=($!)

_wait_for "the web role" "$PY" -c \
  "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
  "http://127.0.0.1:${PORT}/readyz" >/dev/null 2>&1
# useapi.net lists its own templates: read them from the sandbox now that it answers.
"$PY" manage.py sync_templates --provider useapi >&2 || echo "useapi templates not synced" >&2
cat <<TXT >&2

  Video Agent Portal (production-like) is running: http://127.0.0.1:${PORT}/
  Demo login: demo / demo-portal-2026   (its vault holds a sandbox key per provider)
  Web: gunicorn x${WEB_CONCURRENCY}   Workers: 2 clusters x ${Q_WORKERS} on ${REDIS_URL} (queue ${Q_CLUSTER_NAME})
  Database: ${DATABASE_URL}   Files: s3://${S3_BUCKET} at ${S3_ENDPOINT_URL}
  Probes: http://127.0.0.1:${PORT}/healthz  http://127.0.0.1:${PORT}/readyz
  Logs below are JSON lines. Press Ctrl-C to stop everything.

TXT
wait -n "${pids[@]}"
