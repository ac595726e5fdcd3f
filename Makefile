# ConflictWatch. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/conflictwatch
# `make run PORT=8100` (and HOST=0.0.0.0 to listen beyond this machine).
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help install install-dev run test test-postgres test-sqlite lint format bench worker beat

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed node_modules/.installed ## Create the virtualenv and install Python and npm packages

install-dev: install $(BIN)/.installed-dev ## Also install the test and lint tools

run: install ## Start ConflictWatch with a live demo on http://127.0.0.1:8000/ (PORT=8100 for another port)
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py rundemo --host $(HOST) --port $(PORT)

test: install-dev lint test-postgres test-sqlite ## Lint, then the whole suite on Postgres, then on SQLite

test-postgres: install-dev ## The suite on Postgres (with real gunicorn, Celery, Redis and Chromium tests)
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

test-sqlite: install-dev ## The suite on SQLite (the stack tests already cover both databases)
	DATABASE_URL=sqlite:///:memory: $(BIN)/pytest -m "not postgres and not stack and not e2e"

lint: install-dev ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev ## Run every benchmark in bench/ at its default size (figures printed, never pass/fail)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/formats.py
	$(BIN)/python bench/conflicts.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/p95_minutes.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/scale.py

worker: install ## A Celery worker (needs CELERY_BROKER_URL)
	$(BIN)/celery -A monitor worker -l info

beat: install ## Celery beat for the periodic tasks (needs CELERY_BROKER_URL)
	$(BIN)/celery -A monitor beat -l info
