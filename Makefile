# Two commands for a fresh machine:  make run  (system on embedded SQLite with demo data)  ·  make test
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export YIDI_DATABASE_URL ?= sqlite:///./var/yidi.db

.PHONY: run federation test lint install demo bench clean docs

$(BIN)/yidi: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "需要 Python 3.11 ($(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/yidi

install: $(BIN)/yidi

run: install
	$(BIN)/yidi db upgrade
	YIDI_DEMO_MODE=true $(BIN)/yidi demo
	YIDI_DEMO_MODE=true $(BIN)/yidi serve --host 127.0.0.1 --port 8000

# The demo federation: hub + five province nodes (ports 8011 8031 8037 8041 8042) on the local NATS (docs/federation.md).
federation: install
	$(BIN)/yidi federation demo

# The layers (import-linter, .importlinter) and the types (mypy, mypy.ini: strict on domain/ and services/).
lint: install
	$(BIN)/lint-imports
	$(BIN)/mypy --config-file mypy.ini

test: install lint
	$(BIN)/python -m pytest

docs: install
	$(BIN)/yidi docs errors --write

# Every benchmark in turn (about 10 minutes; PostgreSQL for the first); each writes its section of docs/benchmarks.md.
bench: install
	$(BIN)/python -m bench.fsi_settlement
	$(BIN)/python -m bench.engine --claims 1000000
	$(BIN)/python bench/clearing.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .import_linter_cache
