# Every target creates .venv on first use and installs what it needs.
PYTHON_BOOTSTRAP ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
BENCH_RESULTS ?= 1000000
BENCH_ROUNDS ?= 5

RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: install run migrate import view test lint typecheck imports fuzz check bench bench-imports bench-db clean

$(PYTHON):
	$(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $@ $(RUNTIME_STAMP)

install: $(DEV_STAMP)

# Unless SUPERBENCHMARK_DEBUG or SUPERBENCHMARK_DATABASE_URL is set in the environment or .env,
# serve the shipped test_database.json. WORKERS=n serves with n worker processes.
run: $(RUNTIME_STAMP)
	@if [ -z "$${SUPERBENCHMARK_DEBUG+set}" ] && [ -z "$${SUPERBENCHMARK_DATABASE_URL+set}" ] \
		&& ! grep -Eqs '^\s*(export\s+)?SUPERBENCHMARK_(DEBUG|DATABASE_URL)\s*=' .env; then \
		export SUPERBENCHMARK_DEBUG=true; \
	fi; \
	exec $(PYTHON) -m src.entrypoints.serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# Bring SUPERBENCHMARK_DATABASE_URL's schema to this version's revision.
migrate: $(RUNTIME_STAMP)
	$(PYTHON) -m src.entrypoints.migrate

# Import a benchmark tool's file (any format the importers read) into SUPERBENCHMARK_DATABASE_URL;
# running it again stores nothing twice.
import: $(RUNTIME_STAMP)
	@test -n "$(FILE)" || { echo "usage: make import FILE=path/to/results.json" >&2; exit 2; }
	$(VENV)/bin/superbenchmark import $(FILE)

# Import a tool's files into a SQLite database in the user's data directory, serve the dashboard
# on HOST:PORT and print the run's page.
view: $(RUNTIME_STAMP)
	@test -n "$(FILE)" || { echo "usage: make view FILE=path/to/results.json" >&2; exit 2; }
	$(VENV)/bin/superbenchmark view $(FILE) --host $(HOST) --port $(PORT)

test: $(DEV_STAMP)
	$(PYTHON) -m pytest tests/unit tests/integration

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(DEV_STAMP)
	$(VENV)/bin/mypy

imports: $(DEV_STAMP)
	$(VENV)/bin/lint-imports

# Property-based requests generated from the app's own OpenAPI schema; any 5xx fails.
fuzz: $(DEV_STAMP)
	$(PYTHON) -m tests.fuzz.openapi_run

check: lint typecheck imports test fuzz

bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk
	$(PYTHON) -m bench.averages --results $(BENCH_RESULTS) --rounds $(BENCH_ROUNDS)
	$(PYTHON) -m bench.statistics --results $(BENCH_RESULTS)
	$(PYTHON) -m bench.imports

# Tools' files through POST /results/import into PostgreSQL beside the NDJSON import of the same results
# (BENCH_IMPORT_REQUESTS, BENCH_IMPORT_AIPERF_LINES; BENCH_ROUNDS, 3 unless given).
bench-imports: $(DEV_STAMP)
	$(PYTHON) -m bench.imports

# PostgreSQL side by side: ingestion against COPY, window averages against the JSON store, then
# statistics at scale (1-day windows against numpy, a year of results against the 1-day time),
# then 1 and 2 workers and reads on a replica.
bench-db: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk
	$(PYTHON) -m bench.database --results $(BENCH_RESULTS) --rounds $(BENCH_ROUNDS)
	$(PYTHON) -m bench.scale --results $(BENCH_RESULTS)
	$(PYTHON) -m bench.scale_out

clean:
	rm -rf $(VENV) .bench .pytest_cache .mypy_cache .ruff_cache .hypothesis
