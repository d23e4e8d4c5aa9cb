#!/usr/bin/env bash
# Starts the sandbox upstream, one django-q2 cluster and the web server; Ctrl-C or SIGTERM
# stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8010}

export MINIMAX_BASE_URL="http://127.0.0.1:${SANDBOX_PORT}"
export MINIMAX_CN_BASE_URL="$MINIMAX_BASE_URL"
# The sandbox speaks useapi.net's MiniMax proxy too, under /v1/minimax/.
export USEAPI_BASE_URL="$MINIMAX_BASE_URL"
# The sandbox can reach us here, so it sends callbacks (input images go as URLs too).
export PUBLIC_BASE_URL="http://127.0.0.1:${PORT}"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$PY -m sandbox --host 127.0.0.1 --port "$SANDBOX_PORT" --generation-seconds 8 &
pids+=($!)
# `worker` runs django-q2's cluster and stops it within WORKER_STOP_GRACE_SECONDS on SIGTERM.
$PY manage.py worker &
pids+=($!)
# The app under ASGI, as in production: open event streams hold no thread.
.venv/bin/uvicorn portal.asgi:application --host 127.0.0.1 --port "$PORT" --no-access-log \
  --timeout-graceful-shutdown 5 &
pids+=($!)

sleep 2
# useapi.net lists its own templates: read them from the sandbox now that it answers.
$PY manage.py sync_templates --provider useapi || echo "useapi templates not synced (see above)"
cat <<TXT

  Video Agent Portal is running: http://127.0.0.1:${PORT}/
  Demo login: demo / demo-portal-2026   (its vault holds a sandbox key for MiniMax and one
  for useapi.net: the gallery offers both providers' templates)
  Sandbox upstream: ${MINIMAX_BASE_URL}   Admin: make an admin with
  .venv/bin/python manage.py createsuperuser
  Press Ctrl-C to stop.

TXT
wait -n "${pids[@]}"
