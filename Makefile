# Guichet — set-up, run and test. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_DEBUG ?= 0

.PHONY: setup run test test-sqlite test-postgres lint bench bench-kb translations system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --silent
	touch $@

crm/translations/en/LC_MESSAGES/messages.mo: crm/translations/en/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d crm/translations

translations: crm/translations/en/LC_MESSAGES/messages.mo

## Everything the application needs: virtualenv, pinned dependencies, DSFR assets, compiled translations.
setup: $(VENV)/.installed node_modules/.installed translations

## Debian packages the test suite drives for real: Chromium (end-to-end tests), Dovecot (IMAP).
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v dovecot >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium dovecot-imapd >/dev/null; \
	fi

## Set up, migrate, load the demo data the first time, and serve on http://$(HOST):$(PORT) with the scheduled jobs.
## E-mail links use GUICHET_BASE_URL, derived from HOST and PORT unless it is already set.
run: export GUICHET_BASE_URL ?= http://$(HOST):$(PORT)
run: setup
	$(BIN)/guichet db upgrade
	$(BIN)/guichet demo seed --if-empty
	@$(BIN)/guichet demo logins
	GUICHET_SCHEDULER_IN_PROCESS=true $(BIN)/guichet run --host $(HOST) --port $(PORT)

## The whole suite on SQLite, then on PostgreSQL when TEST_DATABASE_URL is set.
test: setup system-deps
	env -u TEST_DATABASE_URL $(BIN)/pytest -q -p no:cacheprovider
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
	  echo "== PostgreSQL: $$TEST_DATABASE_URL"; \
	  $(BIN)/pytest -q -p no:cacheprovider; \
	fi

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/tickets_queue.py

bench-kb: setup
	taskset -c 0 $(BIN)/python bench/kb_matching.py

clean:
	rm -rf $(VENV) node_modules instance/*.sqlite3*
