# Tsunagu: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FLASK_APP := app:create_app

.PHONY: demo test test-sqlite test-postgres test-e2e bench reliability lint format migration clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make demo: the app + worker + Shopify emulator with demo data on SQLite; prints the URL to open.
demo: $(STAMP)
	$(PY) -m scripts.demo

## make test: the whole suite on SQLite, then on PostgreSQL (127.0.0.1:5432, database `test`).
test: $(STAMP) lint test-sqlite test-postgres

test-sqlite: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(VENV)/bin/pytest -q

test-postgres: $(STAMP)
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(subst +psycopg,,$(PG_TEST_URL))', connect_timeout=3).close()" 2>/dev/null; then \
		HYPOTHESIS_PROFILE=ci TEST_DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is unreachable at $(PG_TEST_URL): CI needs it" >&2; exit 1; \
	else \
		echo "PostgreSQL unreachable at $(PG_TEST_URL): skipping the PostgreSQL run (CI does not skip it)"; \
	fi

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make migration: regenerate the initial migration from the models (only while nothing is deployed).
migration: $(STAMP)
	rm -f migrations/versions/0001_initial_schema.py /tmp/tsunagu-migration.sqlite3
	DATABASE_URL=sqlite:////tmp/tsunagu-migration.sqlite3 $(VENV)/bin/flask db migrate -m "initial schema" --rev-id 0001
	rm -f /tmp/tsunagu-migration.sqlite3

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis test-artifacts
