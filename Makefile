# reelforge — every target sets itself up; `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/reelforge serve

demo: setup
	$(BIN)/reelforge render --prompt-file examples/demo.txt -o out/demo.mp4

lint: setup
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy src

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: lint
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

bench: setup
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.queue

clean:
	rm -rf $(VENV) out .reelforge .pytest_cache .mypy_cache .ruff_cache
