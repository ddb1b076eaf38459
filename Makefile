# Tsunagu: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FLASK_APP := app:create_app

.PHONY: demo test test-sqlite test-postgres test-e2e bench reliability lint format migration clean system-deps vendor

.PHONY: venv lock
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --custom-compile-command "make lock" --quiet

## The venv installs exactly the versions (and file hashes) in requirements-dev.lock; the project itself goes in
## without dependencies, so nothing is resolved at install time. Re-runs when pyproject or the lock changes.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements-dev.lock
	$(PIP) install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## make lock: re-pin requirements.lock (runtime) and requirements-dev.lock (runtime + dev, the same runtime pins)
## from pyproject's ranges, keeping current pins that still fit; `make lock LOCK_ARGS=--upgrade` takes the newest.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev -c requirements.lock $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements-dev.lock

## make demo: the app + worker + Shopify emulator with demo data on SQLite; prints the URL to open.
demo: $(STAMP)
	$(PY) -m scripts.demo

## make pos-extension: the POS UI extension's offline checks (npm ci from its package-lock, tsc, node --test).
## Not part of `make test`: npm ci needs the npm registry (or a warm cache). `shopify app build` is not run here.
.PHONY: pos-extension
pos-extension:
	cd extensions/tsunagu-pos && npm ci --no-audit --no-fund && npx tsc --noEmit && node --test test/

## make test: the whole suite on SQLite, then on PostgreSQL (127.0.0.1:5432, database `test`), then the browser tests.
test: $(STAMP) lint test-sqlite test-postgres test-e2e

test-sqlite: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(VENV)/bin/pytest -q -m "not e2e"

test-postgres: $(STAMP)
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(subst +psycopg,,$(PG_TEST_URL))', connect_timeout=3).close()" 2>/dev/null; then \
		HYPOTHESIS_PROFILE=ci TEST_DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest -q -m "not e2e"; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is unreachable at $(PG_TEST_URL): CI needs it" >&2; exit 1; \
	else \
		echo "PostgreSQL unreachable at $(PG_TEST_URL): skipping the PostgreSQL run (CI does not skip it)"; \
	fi

## make test-e2e: the dashboard in Debian's Chromium (Playwright drives it; screenshots in test-artifacts/).
test-e2e: $(STAMP) system-deps
	$(VENV)/bin/pytest -q -m e2e tests/e2e tests/emulator

## make system-deps: Debian's Chromium and Japanese fonts for the browser tests, installed only when missing.
## (Never `playwright install`: the browser comes from Debian, not from a download.)
SYSTEM_DEPS := chromium fonts-noto-cjk
system-deps:
	@missing=""; for pkg in $(SYSTEM_DEPS); do \
		dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "system-deps: installing$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## make vendor: refresh static/vendor/ from the npm packages pinned in package-lock.json (the result is committed).
TOKENS_PKG := node_modules/@shopify/polaris-tokens
vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	mkdir -p static/vendor
	{ printf '/*! @shopify/polaris-tokens %s (npm) — MIT, Copyright (c) 2017-present Shopify Inc., see polaris-tokens.LICENSE.md. Vendored by `make vendor`; do not edit. */\n' \
		"$$(node -p "require('./$(TOKENS_PKG)/package.json').version")"; cat $(TOKENS_PKG)/dist/css/styles.css; echo; } > static/vendor/polaris-tokens.css
	cp $(TOKENS_PKG)/LICENSE.md static/vendor/polaris-tokens.LICENSE.md

## make bench: benchmarks against same-run baselines, quick sizes (BENCH_ARGS=--full for the README's sizes).
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

## make reliability: tests/reliability/ at full sizes (10-minute soak, 30 s outage) on PostgreSQL.
reliability: $(STAMP)
	RELIABILITY_FULL=1 HYPOTHESIS_PROFILE=ci TEST_DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest -q -s tests/reliability

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make migration MSG="what changed": a new Alembic revision from the difference between the models and the
## migrations so far (autogenerate; read it, and add what autogenerate cannot see, such as triggers).
migration: $(STAMP)
	rm -f /tmp/tsunagu-migration.sqlite3
	DATABASE_URL=sqlite:////tmp/tsunagu-migration.sqlite3 $(VENV)/bin/flask db upgrade
	DATABASE_URL=sqlite:////tmp/tsunagu-migration.sqlite3 $(VENV)/bin/flask db migrate -m "$(MSG)"
	rm -f /tmp/tsunagu-migration.sqlite3

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis test-artifacts
