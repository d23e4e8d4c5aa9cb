#!/usr/bin/env bash
# `make test-services`: the whole test suite again against PostgreSQL, the django-q2 Redis
# broker and S3 (moto's server). Uses this machine's PostgreSQL and Redis when they answer,
# otherwise private ones (scripts/services.sh); always stops what it started.
#
# Names are unique per run (database, queue, bucket), so engineers can run it at the same time
# on one machine. Extra arguments go to pytest: make test-services PYTEST_ARGS="-k storage".
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
# shellcheck source=scripts/services.sh
source scripts/services.sh

RUN="portal-test-$$"
# pytest-django creates (and drops) test_<name>; both are dropped on exit in case it was killed.
DB="portal_test_$$"
export S3_BUCKET="$RUN"
export Q_CLUSTER_NAME="$RUN"
SERVICES_QUEUE_NAME="$RUN"

trap services_down EXIT
trap 'exit 130' INT TERM
services_up
services_forget_db "test_$DB"
services_forget_db "$DB"

# The e2e tests start qcluster subprocesses: they inherit all of this and take the test
# database's URL from django.db.connection.settings_dict.
export DATABASE_URL="$PG_BASE_URL/$DB"
export DJANGO_ALLOW_ASYNC_UNSAFE=true

echo "Services leg: DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL queue=$Q_CLUSTER_NAME" \
  "S3_ENDPOINT_URL=$S3_ENDPOINT_URL S3_BUCKET=$S3_BUCKET" >&2
status=0
"$PY" -m pytest "$@" || status=$?
exit "$status"
