#!/usr/bin/env bash
# `make bench`: PostgreSQL and Redis as `make test-services` starts them (scripts/services.sh),
# then bench/run.py seeds (or keeps) bench_portal_<size>, starts the sandbox and gunicorn,
# measures and writes bench/results/<label>.json and docs/benchmarks.md. The seeded database
# is kept on purpose (re-runs skip seeding); BENCH_RESEED=1 seeds it again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# shellcheck source=scripts/services.sh
source scripts/services.sh

RUN="portal-bench-$$"
export Q_CLUSTER_NAME="$RUN"
SERVICES_QUEUE_NAME="$RUN"

trap services_down EXIT
trap 'exit 130' INT TERM
services_up
export PG_BASE_URL SERVICES_TMP
status=0
"$PY" -m bench.run "$@" || status=$?
exit "$status"
