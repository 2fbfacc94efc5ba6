# rds-maint: `make test` and `make demo` work on a fresh machine; they build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit install clean package bench build-EngineFunction

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
	rm -rf $(VENV) .rds-maint build *.egg-info .aws-sam

# The Lambda bundle in build/lambda/ (pinned dependencies, precompiled for Python 3.12).
package:
	bash cmd/package_lambda.sh

# `sam build -t sfn/template.yaml` runs this (EngineFunction's Metadata: BuildMethod makefile) with
# ARTIFACTS_DIR set to SAM's directory for the function. It may run from a scratch copy: the script
# is found next to this Makefile, and builds from the checkout it lives in.
MAKEFILE_DIR := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
build-EngineFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "build-EngineFunction: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	BUILD_DIR="$(ARTIFACTS_DIR)" bash "$(MAKEFILE_DIR)cmd/package_lambda.sh"

bench: $(STAMP)
	$(BIN)/python bench/operation_cost.py --write
	$(BIN)/python bench/store_requests.py | tee docs/store-requests.md
	$(BIN)/python bench/cold_start.py | tee docs/cold-start.md
