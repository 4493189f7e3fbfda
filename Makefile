# Build and test harness for kubeops.platform. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV        := .venv
VENV_BIN    := $(VENV)/bin
VENV_PY     := $(VENV_BIN)/python
CACHE       := .cache
COLLECTIONS := $(CACHE)/collections
REQUIREMENTS := requirements/test.txt
DEPS_STAMP  := $(VENV)/.deps-installed

# kubernetes.core comes from this release of the community bundle, unless GALAXY=1.
ANSIBLE_BUNDLE          := ansible==14.5.0
KUBERNETES_CORE_VERSION := 6.6.0
GALAXY ?=

# Passed through to pytest, e.g. `make unit PYTEST_ARGS='-k taint -x'`.
PYTEST_ARGS ?=
# Whole files per worker, so a file's expensive module fixtures are built once.
# PYTEST_XDIST= runs serially.
PYTEST_XDIST ?= -n auto --dist loadfile
# Integration targets to run (space or comma separated); empty means all.
TARGETS ?=

# Tools find each other (ansible-lint runs ansible-playbook, ansible-test runs ansible-doc).
export PATH := $(CURDIR)/$(VENV_BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

LINT_PATHS := $(wildcard roles playbooks tests/integration extensions)

.PHONY: help venv deps unit lint sanity integration test clean requirements

help:
	@echo "make test         venv + deps + unit + lint + sanity + integration (what CI runs)"
	@echo "make venv         create $(VENV) with a Python >= 3.12 (override: PYTHON=/path/to/python3)"
	@echo "make deps         install pinned tools into $(VENV); lay out $(COLLECTIONS) (GALAXY=1: kubernetes.core from Galaxy)"
	@echo "make unit         pytest over tests/unit, in parallel (PYTEST_ARGS=..., PYTEST_XDIST= for serial)"
	@echo "make lint         ansible-lint (production profile) and yamllint"
	@echo "make sanity       ansible-test sanity on a staged copy of the collection"
	@echo "make integration  integration targets against the cluster KUBECONFIG points to (TARGETS=...); skipped without one"
	@echo "make requirements re-pin $(REQUIREMENTS) from requirements/test.in"
	@echo "make molecule-check   both molecule scenarios: syntax and lint; the kind one where Docker and kind are"
	@echo "make molecule-cluster the existing-cluster scenario (MOLECULE_ALLOWED_CONTEXTS=...); skipped without a cluster"
	@echo "make ee-context   the collection tarball and the execution environment's build context (build/)"
	@echo "make ee           build the execution environment image (EE_RUNTIME=podman|docker, EE_TAG=...)"
	@echo "make clean        remove $(VENV), $(CACHE) and tests/output"

venv: $(VENV_PY)
	@$(VENV_PY) -c 'import sys; sys.exit(None if sys.version_info >= (3, 12) else \
		"error: $(VENV) runs Python " + sys.version.split()[0] + "; 3.12 or later is needed: run make clean")'

$(VENV_PY):
	@python=$$(scripts/find-python); \
	echo "Creating $(VENV) with $$python ($$("$$python" -c 'import platform; print(platform.python_version())'))"; \
	rm -rf $(VENV); \
	"$$python" -m venv $(VENV)

deps: venv $(DEPS_STAMP)
ifeq ($(GALAXY),)
	@$(VENV_PY) scripts/provide-collections.py --dest $(COLLECTIONS) \
		--bundle '$(ANSIBLE_BUNDLE)' --version $(KUBERNETES_CORE_VERSION)
else
	$(VENV_BIN)/ansible-galaxy collection install -r collections/requirements.yml -p $(COLLECTIONS)
	@$(VENV_PY) scripts/provide-collections.py --dest $(COLLECTIONS) --skip-kubernetes-core
endif

$(DEPS_STAMP): $(REQUIREMENTS) $(VENV_PY)
	$(VENV_PY) -m pip install --quiet -r $(REQUIREMENTS)
	@touch $@

unit: deps
	$(VENV_BIN)/pytest tests/unit $(PYTEST_XDIST) $(PYTEST_ARGS)

# Both linters run, so one run shows every finding.
lint: deps
	@status=0; \
	echo "yamllint --strict ."; $(VENV_BIN)/yamllint --strict . || status=1; \
	echo "ansible-lint $(LINT_PATHS)"; $(VENV_BIN)/ansible-lint $(LINT_PATHS) || status=1; \
	exit $$status

sanity: deps
	scripts/sanity

integration: deps
	TARGETS='$(TARGETS)' tests/integration/run

TEST_STEPS := venv deps unit lint sanity integration

# Stops at the first failing step and says which one it was.
test:
	@passed=""; \
	for step in $(TEST_STEPS); do \
		echo "==> make $$step"; \
		if ! $(MAKE) $$step; then \
			echo "make test: FAILED in step '$$step' (passed:$${passed:- none})" >&2; \
			exit 1; \
		fi; \
		passed="$$passed $$step"; \
	done; \
	echo "make test: all steps passed:$$passed"

requirements: $(VENV_PY)
	scripts/lock-requirements

clean:
	rm -rf $(VENV) $(CACHE) tests/output

# --- Local kind environment and the molecule scenario ------------------------------------------

MOLECULE_DIR := extensions/molecule
MOLECULE_ALLOWED_CONTEXTS ?=

.PHONY: molecule-check molecule-cluster site kind

# Syntax-check and lint both scenarios; run the kind one (a cluster of its own) only where Docker and kind are.
molecule-check: deps
	$(VENV_BIN)/molecule syntax -s default
	$(VENV_BIN)/molecule syntax -s cluster
	$(VENV_BIN)/ansible-lint $(MOLECULE_DIR)
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 && command -v kind >/dev/null 2>&1; then \
		$(VENV_BIN)/molecule test -s default; \
	else \
		echo "SKIPPED molecule kind scenario: Docker/kind not available"; \
	fi

# The existing-cluster scenario against the cluster KUBECONFIG (or K8S_AUTH_HOST) names, when one
# answers. It deploys there, so it runs only on contexts MOLECULE_ALLOWED_CONTEXTS allows (regular
# expressions, comma-separated); `make test` skips it while that is unset.
molecule-cluster: deps
	@if ! answer=$$($(VENV_PY) scripts/run-integration.py --probe); then \
		echo "SKIPPED molecule cluster scenario: $$answer"; \
	elif [[ -z "$(MOLECULE_ALLOWED_CONTEXTS)" && -z "$(filter molecule-cluster,$(MAKECMDGOALS))" ]]; then \
		echo "SKIPPED molecule cluster scenario: MOLECULE_ALLOWED_CONTEXTS is not set (the contexts it may deploy to)"; \
	else \
		echo "$$answer"; \
		MOLECULE_ALLOWED_CONTEXTS='$(MOLECULE_ALLOWED_CONTEXTS)' $(VENV_BIN)/molecule test -s cluster; \
	fi

# The README's main job: a local kind cluster (created or reused) running playbooks/site.yml.
site kind:
	scripts/kind-bootstrap

test: molecule-check molecule-cluster

# --- Execution environment (ansible-builder, execution-environment.yml) ------------------------

EE_DIR      := build
EE_RUNTIME  ?= podman
EE_TAG      ?= kubeops-platform-ee:$(shell sed -n 's/^version: *//p' galaxy.yml)

.PHONY: ee-context ee

# The collection tarball the definition installs, then the build context (no container engine).
ee-context: deps
	@mkdir -p $(EE_DIR); tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(VENV_BIN)/ansible-galaxy collection build --output-path "$$tmp" . >/dev/null; \
	mv "$$tmp"/kubeops-platform-*.tar.gz $(EE_DIR)/kubeops-platform.tar.gz; \
	echo "built $(EE_DIR)/kubeops-platform.tar.gz"
	$(VENV_BIN)/ansible-builder create -f execution-environment.yml -c $(EE_DIR)/context --output-filename Containerfile

# The image, with podman (EE_RUNTIME=docker for Docker); EE_TAG names it.
ee: ee-context
	$(VENV_BIN)/ansible-builder build -f execution-environment.yml -c $(EE_DIR)/context \
		--container-runtime $(EE_RUNTIME) -t $(EE_TAG)
