# The single entry point. Every target installs what it needs first (idempotently).
#   make local   run the kit on this machine: moto + fake Claude + the functions, no AWS account, no API key
#   make test    the whole suite (lint, types, unit, integration, infra, e2e)

SHELL := /bin/bash
ENV ?= dev
# The Lambda runtime is Python 3.13: develop and test on the same version when it is available.
# The first candidate that actually runs (a pyenv shim for an inactive version exists but fails).
PYTHON ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 python3.12 python3; do \
	  "$$p" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
# Bundling the functions for Lambda (synth, and the infra tests) needs Python 3.13 itself, or Docker.
PYTHON313 := $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	  "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
# `make local` ports (0 picks a free one) and the cdk.json environment whose settings it applies.
CHAT_PORT ?= 8080
CLAUDE_PORT ?= 8787
MOTO_PORT ?= 8788
# More options for `make local`, e.g. LOCAL_ARGS=--log-json (the functions' full JSON log lines).
LOCAL_ARGS ?=
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# Node 20 is end-of-life: check-node says so in one line instead of jsii's banner of Python byte strings.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE :=
CDK := npx --no-install cdk

.PHONY: install local demo test lint typecheck unit synth bootstrap deploy diff bench eval mutation clean lock ci-access
.PHONY: check-python check-node check-bundling check-credentials

check-python:
	@test -n "$(PYTHON)" || { echo "make: no Python 3.12+ found: install Python 3.13 (e.g. \`pyenv install 3.13\`)" >&2; exit 1; }

check-node:
	@v=$$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null); \
	if [ -z "$$v" ]; then echo "make: Node.js not found: install Node.js 22+ (20 tolerated) for the CDK CLI" >&2; exit 1; fi; \
	if [ "$$v" -lt 20 ]; then echo "make: Node.js $$v is too old for the CDK CLI: install Node.js 22+" >&2; exit 1; fi; \
	if [ "$$v" -lt 22 ]; then echo "note: Node.js $$v is end-of-life; the CDK supports 22+ (20 still works)" >&2; fi

check-bundling:
	@test -n "$(PYTHON313)" || docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { \
	  echo "make: bundling the functions for Lambda needs Python 3.13 or a running Docker engine: \`pyenv install 3.13\` or start Docker" >&2; exit 1; }

check-credentials: $(STAMP)
	@$(PY) -m ops.preflight $(ENV)

# Installed from the hashed lock (every package, transitive ones too, pinned with its hashes): what the tests run
# against is what functions/requirements.lock ships to Lambda.
$(STAMP): requirements-dev.lock functions/requirements.lock | check-python
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

node_modules/.installed: package.json package-lock.json | check-node
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) node_modules/.installed

local: $(STAMP)
	$(PY) -m local.stack --env $(ENV) --chat-port $(CHAT_PORT) --claude-port $(CLAUDE_PORT) --moto-port $(MOTO_PORT) $(LOCAL_ARGS)

demo: $(STAMP)
	$(PY) -m local.demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy app.py infra functions local ops tests examples

# Two workers (this machine's two cores); each test module stays on one of them (tests/conftest.py).
test: install check-bundling lint typecheck
	$(PY) -m pytest -n 2 --dist loadgroup

unit: $(STAMP)
	$(PY) -m pytest tests/unit

synth: install check-node check-bundling
	$(CDK) synth -c env=$(ENV) --quiet

# Once per account/region: the CDK's asset bucket and deploy roles for the environment's account and region.
bootstrap: install
	$(CDK) bootstrap -c env=$(ENV)

diff: install
	$(CDK) diff -c env=$(ENV) $(DIFF_FLAGS)

deploy: install check-node check-credentials check-bundling
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
