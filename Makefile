# The single entry point. Every target installs what it needs first (idempotently).
#   make local   run the kit on this machine: moto + fake Claude + the functions, no AWS account, no API key
#   make test    the whole suite (lint, types, unit, integration, infra, e2e)

SHELL := /bin/bash
ENV ?= dev
# The Lambda runtime is Python 3.13: develop and test on the same version when it is available.
# The first candidate that actually runs (a pyenv shim for an inactive version exists but fails).
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3.12 python3; do \
	  "$$p" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE :=
CDK := npx --no-install cdk

.PHONY: install local demo test lint typecheck unit synth bootstrap deploy diff bench eval mutation clean lock ci-access

# Installed from the hashed lock (every package, transitive ones too, pinned with its hashes): what the tests run
# against is what functions/requirements.lock ships to Lambda.
$(STAMP): requirements-dev.lock functions/requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	@touch $@

# After editing requirements-dev.txt or functions/requirements.txt: recompile both locks (existing pins are kept
# unless a requirement changed them; UPGRADE=--upgrade moves everything to the newest allowed versions). The Lambda
# lock is resolved for Python 3.13 on arm64 within the dev lock's versions, so both hold the same ones.
UV_COMPILE := $(PY) -m uv pip compile --quiet --generate-hashes --python-version 3.13 --custom-compile-command "make lock" $(UPGRADE)
lock: $(STAMP)
	$(UV_COMPILE) requirements-dev.txt -o requirements-dev.lock
	$(UV_COMPILE) functions/requirements.txt --python-platform aarch64-manylinux2014 --constraint requirements-dev.lock \
	  -o functions/requirements.lock

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
	$(PY) -m mypy app.py infra functions local ops tests

test: install lint typecheck
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

synth: install
	$(CDK) synth -c env=$(ENV) --quiet

# Once per account/region: the CDK's asset bucket and deploy roles for the environment's account and region.
bootstrap: install
	$(CDK) bootstrap -c env=$(ENV)

diff: install
	$(CDK) diff -c env=$(ENV) $(DIFF_FLAGS)

deploy: install
	$(CDK) deploy -c env=$(ENV) --all $(DEPLOY_FLAGS)

# Once per environment, with administrator credentials: GitHub Actions' OIDC deploy roles (docs/pipeline.md).
ci-access: install
	$(CDK) deploy -c env=$(ENV) -c ci_access=true claude-kit-$(ENV)-ci-access

bench: $(STAMP)
	$(PY) -m scripts.bench

# Golden-set evals offline (a fake Claude answers; docs/evals.md); gated by evals/baselines/local.json.
eval: $(STAMP)
	PYTHONPATH=functions $(PY) -m ops.evals --offline --report-dir .build/evals

# Mutation testing of the money path (pricing, worst case, quota, reservation, retry, token estimates); not in
# `make test`: it runs the money tests once per mutant. Prints a score per module; fails under 90 %.
mutation: $(STAMP)
	$(PY) -m scripts.mutation

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache .mutation
