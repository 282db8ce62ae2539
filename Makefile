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

## The whole suite on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set: the two runs share nothing
## (their own databases, free ports, temporary folders, Redis keys of their own), so they run side by side,
## one per core; the SQLite run's output follows the PostgreSQL one's. Either failing fails `make test`.
test: setup system-deps
	@if [ -z "$$TEST_DATABASE_URL" ]; then \
	  $(BIN)/pytest -q -p no:cacheprovider; \
	else \
	  log=$$(mktemp); \
	  (env -u TEST_DATABASE_URL $(BIN)/pytest -q -p no:cacheprovider >"$$log" 2>&1) & sqlite=$$!; \
	  echo "== PostgreSQL: $$TEST_DATABASE_URL (SQLite alongside, its output below)"; \
	  $(BIN)/pytest -q -p no:cacheprovider; pg=$$?; \
	  wait $$sqlite; lite=$$?; \
	  echo "== SQLite"; cat "$$log"; rm -f "$$log"; \
	  echo "== PostgreSQL: exit $$pg; SQLite: exit $$lite"; \
	  [ $$pg -eq 0 ] && [ $$lite -eq 0 ]; \
	fi

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/tickets_queue.py

bench-kb: setup
	taskset -c 0 $(BIN)/python bench/kb_matching.py

clean:
	rm -rf $(VENV) node_modules instance/*.sqlite3*
