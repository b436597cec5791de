# Every install step lives here: a clean clone needs only python3 (3.11+) and these targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser lint typecheck contracts test demo bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,embedded-broker]'
	touch $(STAMP)

install: $(STAMP)

# The console's end-to-end tests drive Debian's chromium (no browser download at run time).
browser:
	bash scripts/install-browser.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

test: lint typecheck contracts browser
	$(BIN)/pytest -q

demo: install
	$(BIN)/huyuan demo

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache var
