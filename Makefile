# Everything a newcomer runs. Built tools are cached outside the work tree
# (tools/env.sh), the virtualenv and local state inside it (gitignored).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
STATE_DIR ?= $(CURDIR)/.state
WITH_TOOLS := source tools/env.sh &&

.PHONY: help venv debs tools cluster-up cluster-down cluster-status up test test-unit bench clean

help:
	@echo "make up          build tools, start the local environment, deploy the local stack"
	@echo "make test        install what the tests need and run all of them"
	@echo "make test-unit   only the tests that need no local environment"
	@echo "make tools       build the Pulumi CLI, providers and Kubernetes binaries (cached)"
	@echo "make cluster-up | cluster-down | cluster-status"

$(VENV)/.requirements: requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
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

# The main job on the local default: tools, the local environment, then the
# real engine deploys the local stack (build, push, apply, wait) and prints its outputs.
up: cluster-up
	eval "$$(GITOPS_STATE_DIR=$(STATE_DIR) $(VENV)/bin/python -m localenv env)" && \
	  GITOPS_STATE_DIR=$(STATE_DIR) scripts/pulumi-local.sh up --yes --skip-preview && \
	  GITOPS_STATE_DIR=$(STATE_DIR) scripts/pulumi-local.sh stack output

test-unit: venv
	$(WITH_TOOLS) $(VENV)/bin/python -m pytest -m "not e2e"

test: venv tools
	$(WITH_TOOLS) $(VENV)/bin/python -m pytest

bench: venv
	$(VENV)/bin/python bench/bench_manifest_load.py

clean: cluster-down
	rm -rf $(STATE_DIR)
