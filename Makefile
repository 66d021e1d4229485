# polardb.cluster: `make demo` builds the pb1/pb2/pb3 lab and the standby,
# `make test` runs every test. Each target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ANSIBLE_ENV := PATH="$(CURDIR)/$(BIN):$$PATH" ANSIBLE_CONFIG="$(CURDIR)/ansible.cfg"
COLLECTION_LINK := .collections/ansible_collections/polardb/cluster
# ansible 13 and 14 (ansible-core 2.20, 2.21) need Python 3.12 or later: the
# newest 3.12 and 3.13 pyenv has, or python3.12 / python3.13 on PATH.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PYTHON312 ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.12*/bin/python3))),$(shell command -v python3.12))
PYTHON313 ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.13*/bin/python3))),$(shell command -v python3.13))
PYTHON_2.20 := $(PYTHON312)
PYTHON_2.21 := $(PYTHON313)

.PHONY: help venv docker image lab lab-down demo status test test-full test-unit test-integration \
        test-lab test-faults test-lifecycle test-ssh test-polardb lint sanity build bench clean \
        test-publish test-versions test-version-2.19 test-version-2.20 test-version-2.21 test-newest \
        test-versions-full test-version-full-2.20 test-version-full-2.21

help:
	@echo "make demo        bring up the Docker lab (pb1, pb2, pb3) and build the standby on pb3"
	@echo "make test        unit tests, lint, sanity, publishing and version checks, then the lab's suites (CI's gate)"
	@echo "make test-full   the same with every case of every suite (about two hours)"
	@echo "make test-publish  Galaxy's importer, antsibull-docs and the changelog on the tarball"
	@echo "make test-versions-full unit tests, sanity, install and syntax check on ansible-core 2.19, 2.20, 2.21"
	@echo "make lab         start the lab containers only;  make lab-down removes everything"
	@echo "make image       build the lab image;  make status  print the replication summary"

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

venv: $(BIN)/.installed $(COLLECTION_LINK)

# One venv per other tested ansible-core (tests/versions/requirements-X.Y.txt),
# and one for the publishing validators (tests/publish/requirements.txt).
.venv-%/bin/.installed: tests/versions/requirements-%.txt
	@test -n "$(PYTHON_$*)" || { echo "ansible-core $* needs Python 3.12 or later: set PYTHON312 / PYTHON313" >&2; exit 1; }
	$(PYTHON_$*) -m venv .venv-$*
	.venv-$*/bin/pip install -q --upgrade pip
	.venv-$*/bin/pip install -q -r $<
	touch $@

.venv-publish/bin/.installed: tests/publish/requirements.txt
	$(PYTHON) -m venv .venv-publish
	.venv-publish/bin/pip install -q --upgrade pip
	.venv-publish/bin/pip install -q -r $<
	touch $@

docker:
	@scripts/ensure-docker.sh

image: docker
	@scripts/build-images.sh

lab: venv docker
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook playbooks/lab.yml

lab-down: venv docker
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook playbooks/lab.yml -e lab_state=absent

demo: lab
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook site.yml
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook playbooks/status.yml

status: venv
	$(ANSIBLE_ENV) $(BIN)/ansible-playbook playbooks/status.yml

# make test is what CI runs on every change, within an hour on 2 cores: every
# suite, each lab suite without its cases marked `full` (tests/run.sh says
# how it chooses). make test-full runs every case of every suite (about two
# hours; the CI workflow runs it). Both print the time of each stage.
test:
	@tests/run.sh gate

test-full:
	@tests/run.sh full

test-unit: venv
	$(BIN)/pytest tests/unit

lint: venv
	$(ANSIBLE_ENV) $(BIN)/ansible-lint

sanity: venv
	$(ANSIBLE_ENV) tests/sanity/run.sh

# Galaxy's importer, antsibull-docs and antsibull-changelog (tests/publish/run.sh).
test-publish: venv .venv-publish/bin/.installed
	PUBLISH_BIN=$(CURDIR)/.venv-publish/bin tests/publish/run.sh

# Every ansible-core from the oldest requires_ansible names to the newest, with
# its ansible package: unit tests, sanity, the tarball installed beside it and
# a syntax check of every playbook (tests/versions/run.sh). make test runs
# make test-versions-full (the pinned 2.19's unit tests and sanity are make
# test-unit and make sanity); make test-versions only installs and checks the
# syntax.
test-versions: test-version-2.19 test-version-2.20 test-version-2.21
test-versions-full: test-version-2.19 test-version-full-2.20 test-version-full-2.21

test-version-2.19: venv
	SKIP_UNIT=1 SKIP_SANITY=1 tests/versions/run.sh $(CURDIR)/$(BIN)

test-version-2.20 test-version-2.21: test-version-%: .venv-%/bin/.installed $(COLLECTION_LINK)
	SKIP_UNIT=1 SKIP_SANITY=1 tests/versions/run.sh $(CURDIR)/.venv-$*/bin

test-version-full-2.20 test-version-full-2.21: test-version-full-%: .venv-%/bin/.installed $(COLLECTION_LINK)
	tests/versions/run.sh $(CURDIR)/.venv-$*/bin

# Every test lab has a prefix of its own: the lab `make demo` built (no prefix,
# or POLARDB_LAB_PREFIX) is never touched by the tests. TEST_PREFIX goes in
# front of them all, for two test runs on one Docker engine.
TEST_PREFIX ?=
# pytest against the Docker lab (tests/integration): the lab itself, and the
# modules on real loop devices and a real PostgreSQL 15.
test-lab: venv docker
	$(ANSIBLE_ENV) POLARDB_LAB_PREFIX=$(TEST_PREFIX)it- $(BIN)/pytest tests/integration

test-integration: venv docker
	$(ANSIBLE_ENV) POLARDB_LAB_PREFIX=$(TEST_PREFIX)mol- $(BIN)/molecule test -s default

# Faults and recovery (tests/faults): their own lab, broken on purpose, then removed.
test-faults: venv docker
	$(ANSIBLE_ENV) POLARDB_LAB_PREFIX=$(TEST_PREFIX)faults- $(BIN)/pytest -v --durations=0 tests/faults

# The standby's life (tests/lifecycle: status, promote, switchover, rebuild,
# remove) in the molecule scenario lifecycle, on its own lab, on the newest
# ansible-core (2.21): its converge, idempotence and checks of the built site
# are the default scenario's, so make test runs no other scenario on 2.21.
test-lifecycle: .venv-2.21/bin/.installed $(COLLECTION_LINK) docker
	PATH="$(CURDIR)/.venv-2.21/bin:$$PATH" ANSIBLE_CONFIG="$(CURDIR)/ansible.cfg" \
	  POLARDB_LAB_PREFIX=$(TEST_PREFIX)life- .venv-2.21/bin/molecule test -s lifecycle

# Real servers (molecule scenario ssh): the lab reached only over SSH as an
# unprivileged user with sudo, the collection installed from its tarball.
test-ssh: venv docker
	$(ANSIBLE_ENV) POLARDB_LAB_PREFIX=$(TEST_PREFIX)ssh- $(BIN)/molecule test -s ssh

# The molecule scenario default again, on the newest ansible-core (2.21).
test-newest: .venv-2.21/bin/.installed $(COLLECTION_LINK) docker
	PATH="$(CURDIR)/.venv-2.21/bin:$$PATH" ANSIBLE_CONFIG="$(CURDIR)/ansible.cfg" \
	  POLARDB_LAB_PREFIX=$(TEST_PREFIX)new- .venv-2.21/bin/molecule test -s default

# The polardb scenario, whose verify runs the PolarDB faults on its lab, and
# the ssh scenario on PolarDB (with POLARDB_TIER=full; make test sets gate), on
# real binaries (POLARDB_SRC_DIR or POLARDB_IMAGE); skipped, saying how to give
# them, without either.
POLARDB_TIER ?= full
test-polardb: venv docker
	$(ANSIBLE_ENV) POLARDB_TIER=$(POLARDB_TIER) POLARDB_LAB_PREFIX=$(TEST_PREFIX)pmol- POLARDB_SSH_PREFIX=$(TEST_PREFIX)pssh- \
	  tests/polardb/run.sh

build: venv
	$(BIN)/ansible-galaxy collection build --force

bench: venv docker
	$(ANSIBLE_ENV) bench/run.sh

clean: lab-down
	rm -rf .lab polardb-cluster-*.tar.gz
