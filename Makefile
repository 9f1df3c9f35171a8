# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Start the WAHA sandbox with `make run` (set RUN_SANDBOX=0 when WAHA_BASE_URL points at a real WAHA).
RUN_SANDBOX ?= 1

.DEFAULT_GOAL := help
.PHONY: help install services db migrate seed run test lint format clean
.PHONY: test-unit test-e2e test-security test-db test-module test-browser browser-deps screenshots
.PHONY: newman postman

help:
	@echo "make run    install, migrate, seed the demo tenants, start web, worker, events, beat and the WAHA sandbox"
	@echo "make test   run the whole test suite (PostgreSQL and Redis are started when installed but stopped)"
	@echo "make test-unit | test-e2e | test-security | test-db | test-browser   a marked subset (no coverage)"
	@echo "make test-module M=tests/core/test_auth.py         one test module (or any pytest path)"
	@echo "make lint   ruff check, the import contracts (lint-imports) and mypy (with the Django and DRF stubs)"
	@echo "make postman  run the Postman collection with newman against a running make run (BASE_URL=...)"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements/base.txt requirements/dev.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

services:
	@bin/services

db: install services
	$(BIN)/python bin/ensure_database.py

migrate: db
	$(BIN)/python manage.py migrate_schemas --executor=standard

seed: migrate
	$(BIN)/python manage.py seed_demo

# The port web listens on; the banner and WAHA's webhooks (WEBHOOK_BASE_URL, unless set) follow it.
WEB_PORT ?= 8000

run: seed
	@mkdir -p var
	$(BIN)/python manage.py collectstatic --noinput -v 0
	@echo ""
	@echo "  API        http://acme.localhost:$(WEB_PORT)/auth/profile   (or any host with X-Tenant: acme)"
	@echo "  API docs   http://127.0.0.1:$(WEB_PORT)/api/docs"
	@echo "  Admin      http://acme.localhost:$(WEB_PORT)/admin/   (tenant)   http://127.0.0.1:$(WEB_PORT)/admin/   (platform)"
	@echo "  Health     http://127.0.0.1:$(WEB_PORT)/health    Metrics http://127.0.0.1:$(WEB_PORT)/metrics"
	@echo "  WAHA sandbox http://127.0.0.1:3001  (X-Api-Key: $${WAHA_API_KEY:-sandbox-dev-key-change-me})"
	@echo ""
	@rm -rf var/metrics && mkdir -p var/metrics
	WEBHOOK_BASE_URL="$${WEBHOOK_BASE_URL:-http://127.0.0.1:$(WEB_PORT)}" PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/metrics" \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile --port $(WEB_PORT) web worker events beat \
		$(if $(filter 1,$(RUN_SANDBOX)),sandbox)

# The browser tests (pytest -m browser) drive the console in headless Chromium: Debian's chromium and
# chromium-driver, installed here when missing and this runs as root with apt-get. CHROME_BIN and CHROMEDRIVER
# name other binaries instead (CI uses the runner's Chrome for Testing: Ubuntu's chromium is a snap).
CHROME_BIN   ?= $(shell command -v chromium 2>/dev/null)
CHROMEDRIVER ?= $(shell command -v chromedriver 2>/dev/null)

browser-deps:
	@if [ -x "$(CHROME_BIN)" ] && [ -x "$(CHROMEDRIVER)" ]; then exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver for the browser tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			chromium chromium-driver; \
	else \
		echo "The browser tests need Chromium and ChromeDriver. Install them with:"; \
		echo "    sudo apt-get install chromium chromium-driver      (Debian; or run make as root)"; \
		echo "or set CHROME_BIN and CHROMEDRIVER to a matching Chrome and chromedriver."; \
		exit 1; \
	fi

# Coverage counts the processes the end-to-end tests start too (.coveragerc: patch = subprocess). The whole
# suite must cover at least COVERAGE_MIN percent; a subset (PYTEST_ARGS) only prints its figure.
COVERAGE_MIN ?= 90

test: install services browser-deps
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered $(if $(PYTEST_ARGS),,--cov-fail-under=$(COVERAGE_MIN)) $(PYTEST_ARGS)

# Subsets by pytest marker (pytest.ini), started like `make test`; PYTEST_ARGS is added (e.g. PYTEST_ARGS=-x).
test-unit: install services
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest -m "not e2e and not browser" $(PYTEST_ARGS)

test-e2e: install services
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

test-security: install services
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest -m security $(PYTEST_ARGS)

test-db: install services
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest -m database $(PYTEST_ARGS)

test-browser: install services browser-deps
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# The console screenshots of docs/CONSOLE_GUIDE.md: the browser tests take them (var/screenshots), this copies
# the ones the guide shows into docs/images.
DOC_SCREENSHOTS := console-index message-log message-log-search message-detail conversation session-add \
	session-qr session-logout-confirm session console-index-auditor batch batch-failed-messages \
	platform-tenant-provisioned platform-tenant platform-waha-servers platform-waha-server
DOC_SCREENSHOTS += event-endpoints event-endpoint-add event-endpoint-secret event-endpoint event-deliveries \
	event-delivery

screenshots: test-browser
	@mkdir -p docs/images
	for name in $(DOC_SCREENSHOTS); do cp var/screenshots/$$name.png docs/images/$$name.png; done

test-module: install services
	@test -n "$(M)" || { echo "usage: make test-module M=tests/core/test_auth.py" >&2; exit 2; }
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest $(M) $(PYTEST_ARGS)

# Ruff's linter, the import contracts of pyproject.toml ([tool.importlinter]: apps depend downward only,
# no cycles), then mypy over the apps ([tool.mypy]: every function annotated, each remaining `type: ignore`
# with its error code and reason). mypy loads the settings without a database.
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles var .pytest_cache .coverage htmlcov .tools

# Postman: newman, pinned, from npm into .tools/newman (needs Node.js 18+). `make postman` runs the collection
# against a running `make run`; BASE_URL moves it, NEWMAN_ARGS adds options (e.g. --env-var tenant=globex).
NEWMAN_VERSION := 6.2.2
NEWMAN_DIR     := .tools/newman
NEWMAN         := $(NEWMAN_DIR)/node_modules/.bin/newman
BASE_URL       ?= http://127.0.0.1:8000

$(NEWMAN_DIR)/.installed-$(NEWMAN_VERSION):
	@command -v npm >/dev/null || { echo "need npm (Node.js 18 or newer) to install newman"; exit 1; }
	npm install --prefix $(NEWMAN_DIR) --save-exact --no-audit --no-fund --loglevel=error newman@$(NEWMAN_VERSION)
	touch $@

newman: $(NEWMAN_DIR)/.installed-$(NEWMAN_VERSION)

postman: newman
	$(NEWMAN) run postman/waha-gateway.postman_collection.json -e postman/local.postman_environment.json \
		--env-var baseUrl=$(BASE_URL) --timeout-request 30000 --timeout 300000 $(NEWMAN_ARGS)
