VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed

# uv works on .venv (made by scripts/find-python's interpreter), never on a Python it downloads.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

SOURCES := bench cli domain engine resolvers schema server storage tests

.PHONY: run test test-deps test-fast test-wire lint schema bench audit lock upgrade clean

run: $(RUNTIME)
	$(BIN)/outdial-graphql serve

# One worker a core (pytest-xdist); each test file runs whole on one worker, so module fixtures
# (live services, wire servers) start once. The project's modules are compiled first: the tests
# start hundreds of Python processes (services, the command line), and each would otherwise
# compile every module it imports again (where PYTHONDONTWRITEBYTECODE is set, as on this
# machine, nothing compiled on import is kept).
test: test-deps lint
	$(BIN)/python -m compileall -q $(SOURCES)
	$(BIN)/python -m pytest -n auto --dist loadfile

# What the browser and node tests need from Debian: chromium (driven by the playwright package,
# no `playwright install`) and node with npm. Installed only when missing, and only as root.
test-deps:
	@scripts/system-deps chromium:/usr/bin/chromium nodejs:node npm:npm

test-fast: $(STAMP) test-deps
	$(BIN)/python -m pytest -m "not wire and not browser"

test-wire: $(STAMP)
	$(BIN)/python -m pytest -m wire

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

schema: $(RUNTIME)
	$(BIN)/outdial-graphql export-schema schema.graphql

# graphql-http's GraphQL-over-HTTP server audit against the real service (needs node and npm).
audit: $(STAMP) test-deps
	$(BIN)/python -m pytest -p no:cacheprovider -q -s tests/http/test_graphql_over_http.py -k audit

bench: $(STAMP)
	$(BIN)/python -m bench.graphql_vs_plain
	$(BIN)/python -m bench.fanout --subscribers 100,1000,5000
	$(BIN)/python -m bench.scale

# Every install comes from uv.lock (exact versions, with hashes); uv itself from
# installer-requirements.txt, which `make lock` writes from the same lock.
$(UV): installer-requirements.txt
	@PY=$$(scripts/find-python) || exit 1; \
	  [ -x $(BIN)/python ] || $$PY -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r installer-requirements.txt
	@touch $@

# make run: what serving needs. `uv sync` is exact, so it takes the dev tools out again. Every
# installed module is compiled at install (as pip does, and uv does not by default): starting
# the service then takes 0.9 s of CPU instead of 1.8 s.
$(RUNTIME): uv.lock pyproject.toml $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	@rm -f $(STAMP)
	@touch $@

# make test and the tools: the dev extra as well.
$(STAMP): uv.lock pyproject.toml $(UV)
	$(UV) sync --locked --quiet --compile-bytecode --extra dev
	@touch $@ $(RUNTIME)

# After changing dependencies in pyproject.toml: resolve again, keeping every pin that still fits.
lock: $(UV)
	$(UV) lock $(LOCK_FLAGS)
	$(UV) export --frozen --quiet --only-group installer --no-emit-project \
	  -o installer-requirements.txt

# Move every pin to the newest release its range allows.
upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
