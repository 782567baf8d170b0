# Everything a newcomer runs. Built tools are cached outside the work tree
# (tools/env.sh), the virtualenv and local state inside it (gitignored).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
STATE_DIR ?= $(CURDIR)/.state
WITH_TOOLS := source tools/env.sh &&

.PHONY: help venv debs tools cluster-up cluster-down cluster-status up reconcile deploy-local lint test test-unit bench clean

help:
	@echo "make up          build tools, start the local environment, reconcile the local stack to main once"
	@echo "make reconcile   the reconciler service on the local stack"
	@echo "make deploy-local  plain pulumi up -s local of the work tree"
	@echo "make test        install what the tests need and run all of them"
	@echo "make test-unit   ruff, mypy and the tests that need no local environment"
	@echo "make lint        ruff and mypy"
	@echo "make tools       build the Pulumi CLI, providers and Kubernetes binaries (cached)"
	@echo "make cluster-up | cluster-down | cluster-status"

$(VENV)/.requirements: requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	cp requirements.txt $@

venv: $(VENV)/.requirements

debs:
	bash tools/install-debs.sh

tools: debs
	bash tools/build-pulumi.sh
	bash tools/build-kubernetes.sh
	bash tools/build-actionlint.sh

cluster-up: venv tools
	$(WITH_TOOLS) GITOPS_STATE_DIR=$(STATE_DIR) $(VENV)/bin/python -m localenv up

cluster-down: venv
	$(WITH_TOOLS) GITOPS_STATE_DIR=$(STATE_DIR) $(VENV)/bin/python -m localenv down

cluster-status: venv
	$(WITH_TOOLS) GITOPS_STATE_DIR=$(STATE_DIR) $(VENV)/bin/python -m localenv status

# The main job on the local default: tools, the local environment, then one
# pass of the reconciler bringing the local stack to this repository's main branch.
up: cluster-up
	$(WITH_TOOLS) eval "$$(GITOPS_STATE_DIR=$(STATE_DIR) $(VENV)/bin/python -m localenv env)" && \
	  $(VENV)/bin/python -m reconciler once --config reconciler.local.yaml

# The reconciler as a service: polls main every 15 s, checks drift every 5 min,
# serves /status and /metrics on 127.0.0.1:8099.
reconcile: cluster-up
	$(WITH_TOOLS) eval "$$(GITOPS_STATE_DIR=$(STATE_DIR) $(VENV)/bin/python -m localenv env)" && \
	  $(VENV)/bin/python -m reconciler run --config reconciler.local.yaml

# The plain engine on the work tree (uncommitted app changes included): pulumi up -s local.
deploy-local: cluster-up
	eval "$$(GITOPS_STATE_DIR=$(STATE_DIR) $(VENV)/bin/python -m localenv env)" && \
	  GITOPS_STATE_DIR=$(STATE_DIR) scripts/pulumi-local.sh up --yes --skip-preview && \
	  GITOPS_STATE_DIR=$(STATE_DIR) scripts/pulumi-local.sh stack output

# ruff (style, import order) on everything, mypy on what its config names (pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test-unit: venv lint
	$(WITH_TOOLS) $(VENV)/bin/python -m pytest -m "not e2e"

test: venv tools lint
	$(WITH_TOOLS) $(VENV)/bin/python -m pytest

bench: venv
	$(VENV)/bin/python bench/bench_manifest_load.py

clean: cluster-down
	rm -rf $(STATE_DIR)
