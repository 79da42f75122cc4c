# Two entry points: `make run` (the service on the embedded default) and `make test` (everything CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv pip install --python $(BIN)/python --quiet

.PHONY: run test install install-dev lint typecheck unit bench clean

run: install
	$(BIN)/sightline serve

test: install-dev lint typecheck unit

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

install: $(BIN)/uv
	$(UV) --editable .

install-dev: $(BIN)/uv
	$(UV) --editable '.[dev]'

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy

unit:
	$(BIN)/pytest

bench: install-dev
	$(BIN)/python bench/upload.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
