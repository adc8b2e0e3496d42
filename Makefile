# Two entry points (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench services clean

demo: $(STAMP)
	$(BIN)/aupguard demo

test: $(STAMP) services lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

services:
	scripts/services.sh

bench: $(STAMP)
	$(BIN)/python bench/run.py

$(STAMP): pyproject.toml setup.py src/aupguard/content/_scorer.c scripts/system-deps.sh scripts/debian-packages.txt
	scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
