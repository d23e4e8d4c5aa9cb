# Two commands a newcomer needs: `make run` (the product) and `make test` (the checks).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SANDBOX_PORT ?= 8010

.PHONY: run test test-services run-prod-like bench lint format migrate seed clean

$(VENV)/.installed: requirements.txt requirements-dev.txt clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# The command-line client (`vap`), editable: its tests run in `make test`.
	$(PY) -m pip install --quiet -e ./clients/python
	touch $@

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) bash scripts/run-dev.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(VENV)/.installed lint
	bash scripts/ensure-chromium.sh
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(PY) -m pytest

# The production leg: PostgreSQL + the Redis broker + S3 (moto). Machine services when they
# answer, private ones otherwise; see scripts/services.sh.
test-services: $(VENV)/.installed
	bash scripts/ensure-chromium.sh
	bash scripts/test-services.sh $(PYTEST_ARGS)

# The production topology on one machine for a try-out: gunicorn, 2 clusters, Redis,
# PostgreSQL, moto and the sandbox upstream (docs/deploy.md). Ctrl-C stops everything.
run-prod-like: $(VENV)/.installed
	PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) bash scripts/run-prod-like.sh

# Issue 11's figures (docs/benchmarks.md, README, "Benchmarks"): PostgreSQL + Redis as test-services
# starts them, a seeded database kept between runs (BENCH_RESEED=1 seeds again), gunicorn as
# gunicorn.conf.py sizes it. ~13 min (seeding 1M jobs adds 2-4 min the first time);
# BENCH_QUICK=1: a 100k-job database and shorter rounds (~4 min).
bench: $(VENV)/.installed
	bash bench/run.sh

clean:
	rm -rf $(VENV) db.sqlite3 .test-db.sqlite3* media staticfiles
