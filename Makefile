VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-wire lint schema bench audit clean

run: $(STAMP)
	$(BIN)/outdial-graphql serve

test: lint
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not wire and not browser"

test-wire: $(STAMP)
	$(BIN)/python -m pytest -m wire

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

schema: $(STAMP)
	$(BIN)/outdial-graphql export-schema schema.graphql

# graphql-http's GraphQL-over-HTTP server audit against the real service (needs node and npm).
audit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q -s tests/http/test_graphql_over_http.py -k audit

bench: $(STAMP)
	$(BIN)/python -m bench.graphql_vs_plain
	$(BIN)/python -m bench.fanout --subscribers 100,1000,5000
	$(BIN)/python -m bench.scale

$(STAMP): pyproject.toml
	@PY=$$(scripts/find-python) || exit 1; \
	  [ -x $(BIN)/python ] || $$PY -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
