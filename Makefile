# Recapture: `make run` starts web + worker on SQLite; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test serve worker sweeper lint format bench venv venv-dev clean

$(VENV)/.stamp-run: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements-dev.txt
	touch $@ $(VENV)/.stamp-run

venv: $(VENV)/.stamp-run
venv-dev: $(VENV)/.stamp-dev

## Set up and start web (RUN_ADDR, default 127.0.0.1:8000), the django-q2 worker and the sweeper together; Ctrl-C stops all.
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap_demo
	bash bin/run-dev

## Install dev requirements and run the whole test suite.
test: venv-dev
	$(PY) -m pytest $(PYTEST_ARGS)

## Production web server (gunicorn); run `make worker` and one `make sweeper` beside it.
serve: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/gunicorn config.wsgi:application -c config/gunicorn.py

worker: venv
	$(PY) manage.py qcluster

## The sweeper: queues due deliveries and retries every second (exact Retry-After). One per deployment is enough.
sweeper: venv
	$(PY) manage.py run_sweeper

## Ruff, and the layer order (pyproject's import-linter contract: every import points down).
lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo

format: venv-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3* staticfiles .pytest_cache

## Benchmarks on PostgreSQL (+ Redis on 127.0.0.1:6379), ~15 minutes: JSON in bench/results/, plots in docs/bench/.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/recapture
bench: venv-dev
	$(PIP) install -r bench/requirements.txt
	DATABASE_URL=$(BENCH_DATABASE_URL) timeout 300 $(PY) bench/ingest.py
	DATABASE_URL=$(BENCH_DATABASE_URL) timeout 420 $(PY) bench/identity.py
	DATABASE_URL=$(BENCH_DATABASE_URL) timeout 420 $(PY) bench/delivery.py
	DATABASE_URL=$(BENCH_DATABASE_URL) timeout 480 $(PY) bench/e2e.py
	DATABASE_URL=$(BENCH_DATABASE_URL) timeout 300 $(PY) bench/pipeline_cpu.py
	$(PY) bench/plot.py
