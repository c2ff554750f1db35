# The project's commands. `make run` and `make test` are all a newcomer needs;
# both create .venv from python3 on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install, so pip runs again only when requirements change.
STAMP := $(VENV)/.requirements-installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format typecheck check deploy-check compose-check

help:
	@echo "make run            start the portal, sandbox, worker and beat on embedded defaults"
	@echo "make test           run the test suite (PYTEST_ARGS=... passes extra arguments)"
	@echo "make lint           ruff check and ruff format --check"
	@echo "make format         ruff format and ruff check --fix"
	@echo "make typecheck      mypy"
	@echo "make check          Django system checks and a missing-migrations check"
	@echo "make deploy-check   Django's deployment checks on .env.example's production settings"
	@echo "make compose-check  validate docker-compose.yml against the compose spec"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	touch $@

venv: $(STAMP)

# Embedded defaults (SQLite, filesystem broker, keys generated into var/) unless
# the environment says otherwise.
run: export DEBUG ?= true
run: $(STAMP)
	$(BIN)/python -m portal.devrun

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy .

check: export DEBUG ?= true
check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Django's deployment checks with the production settings of .env.example: no warning.
deploy-check: $(STAMP)
	set -a && . ./.env.example && set +a && PORTAL_VAR_DIR=$$(mktemp -d) \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

compose-check: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
