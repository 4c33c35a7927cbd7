# Arbiter: `make test` and `make demo` work on a fresh machine with only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-install

.PHONY: install test lint types unit demo schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml setup.py constraints.txt framework/arbiter/market/_book.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check framework plugins tests benchmarks
	$(BIN)/ruff format --check framework plugins tests benchmarks
	$(BIN)/lint-imports

types: install
	$(BIN)/mypy --strict framework/arbiter plugins/arbiter_bybit plugins/arbiter_okx

unit: install
	$(BIN)/pytest -q

test: lint types unit

DURATION ?= 60

demo: install
	$(BIN)/arbiter demo strategies --duration $(DURATION)

schema: install
	$(BIN)/arbiter schema --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
