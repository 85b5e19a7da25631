# The single entry point. Every target installs what it needs first (idempotently).
#   make local   run the kit on this machine: moto + fake Claude + the functions, no AWS account, no API key
#   make test    the whole suite (lint, types, unit, integration, infra, e2e)

SHELL := /bin/bash
ENV ?= dev
# The Lambda runtime is Python 3.13: develop and test on the same version.
PYTHON ?= $(shell command -v python3.13 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE :=
CDK := npx --no-install cdk

.PHONY: install local demo test lint typecheck unit synth deploy diff bench clean

$(STAMP): functions/requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) node_modules/.installed

local: $(STAMP)
	$(PY) -m local.stack

demo: $(STAMP)
	$(PY) -m local.demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy app.py infra functions local

test: install lint typecheck
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

synth: install
	$(CDK) synth -c env=$(ENV) --quiet

diff: install
	$(CDK) diff -c env=$(ENV)

deploy: install
	$(CDK) deploy -c env=$(ENV) --all

bench: $(STAMP)
	$(PY) -m scripts.bench

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
