# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Start the WAHA sandbox with `make run` (set RUN_SANDBOX=0 when WAHA_BASE_URL points at a real WAHA).
RUN_SANDBOX ?= 1

.DEFAULT_GOAL := help
.PHONY: help install services db migrate seed run test lint format clean

help:
	@echo "make run    install, migrate, seed the demo tenants, start web, worker, beat and the WAHA sandbox"
	@echo "make test   run the whole test suite (PostgreSQL and Redis are started when installed but stopped)"
	@echo "make lint   ruff"

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

run: seed
	@mkdir -p var
	$(BIN)/python manage.py collectstatic --noinput -v 0
	@echo ""
	@echo "  API        http://acme.localhost:8000/auth/profile   (or any host with X-Tenant: acme)"
	@echo "  API docs   http://127.0.0.1:8000/api/docs"
	@echo "  Admin      http://acme.localhost:8000/admin/   (tenant)   http://127.0.0.1:8000/admin/   (platform)"
	@echo "  Health     http://127.0.0.1:8000/health    Metrics http://127.0.0.1:8000/metrics"
	@echo "  WAHA sandbox http://127.0.0.1:3001  (X-Api-Key: $${WAHA_API_KEY:-sandbox-dev-key-change-me})"
	@echo ""
	@rm -rf var/metrics && mkdir -p var/metrics
	PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/metrics" PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile --port $${WEB_PORT:-8000} web worker beat $(if $(filter 1,$(RUN_SANDBOX)),sandbox)

test: install services
	$(BIN)/python bin/ensure_database.py
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) staticfiles var .pytest_cache .coverage htmlcov
