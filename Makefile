# Two commands matter: `make run` (the archive on http://127.0.0.1:8000) and `make test`.
# Both set up what they need on a fresh machine with only Python.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The suite on two workers, a test file each at a time (pytest-xdist): most tests wait on the
# servers and workers they start, so two cores halve it. `make test PYTEST_ARGS=` runs it serially.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: run test lint install install-dev system-deps migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py bootstrap
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python manage.py runserver $(HOST):$(PORT)

system-deps:
	bash .ci/system-deps

# ruff's lint, the import contracts (pyproject.toml, docs/architecture.md), then the format check.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

test: install-dev system-deps lint
	bash .ci/services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data tests/artifacts .pytest_cache tests/browser/node_modules
