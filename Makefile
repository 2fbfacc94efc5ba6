# rds-maint: `make test` and `make demo` work on a fresh machine; they build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit install clean package bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check rds_maint cmd tests bench
	$(BIN)/ruff format --check rds_maint cmd tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/rds-maint demo

clean:
	rm -rf $(VENV) .rds-maint build *.egg-info

package:
	bash cmd/package_lambda.sh

bench: $(STAMP)
	$(BIN)/python bench/operation_cost.py --write
	$(BIN)/python bench/store_requests.py | tee docs/store-requests.md
	$(BIN)/python bench/retries.py | tee docs/retries.md
