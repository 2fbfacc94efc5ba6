# rds-maint: `make test` and `make demo` work on a fresh machine; they build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit install clean package bench build-EngineFunction e2e

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check rds_maint rds_sim sfn_harness cmd tests bench e2e
	$(BIN)/ruff format --check rds_maint rds_sim sfn_harness cmd tests bench e2e
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy --strict

unit: $(STAMP)
	$(BIN)/pytest -n auto

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
	$(BIN)/python bench/retries.py | tee docs/retries.md
	$(BIN)/python bench/cold_start.py | tee docs/cold-start.md
	$(BIN)/python bench/store_scale.py | tee docs/store-scale.md
	$(BIN)/python bench/display_requests.py | tee docs/display-requests.md
	$(BIN)/python bench/campaign.py --write

# End to end on MiniStack (e2e/run.py): the real bundle, the shipped ASL, the store and the rule on a local
# emulator bound to 127.0.0.1. MiniStack goes into its own venv under build/ (pinned); the bundle is built
# by `make package` for this machine's CPU and Python, since MiniStack runs the Lambda as a local process.
MINISTACK_VERSION := 1.5.33
E2E_VENV := build/e2e-ministack
E2E_BUNDLE := build/e2e-lambda

e2e: $(STAMP)
	test -x $(E2E_VENV)/bin/python || $(PYTHON) -m venv $(E2E_VENV)
	$(E2E_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'ministack==$(MINISTACK_VERSION)'
	LAMBDA_ARCH=$$(uname -m | sed 's/aarch64/arm64/') \
	LAMBDA_PYTHON=$$($(E2E_VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
	BUILD_DIR=$(E2E_BUNDLE) $(MAKE) --no-print-directory package
	$(BIN)/python e2e/run.py --ministack-python $(E2E_VENV)/bin/python --bundle $(E2E_BUNDLE)
