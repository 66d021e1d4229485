# polardb.cluster: `make demo` builds the pb1/pb2/pb3 lab and the standby,
# `make test` runs every test. Each target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ANSIBLE_ENV := PATH="$(CURDIR)/$(BIN):$$PATH" ANSIBLE_CONFIG="$(CURDIR)/ansible.cfg"
COLLECTION_LINK := .collections/ansible_collections/polardb/cluster

.PHONY: help venv docker image lab lab-down demo status test test-unit test-integration \
        test-lab test-faults test-lifecycle test-ssh test-polardb lint sanity build bench clean

help:
	@echo "make demo        bring up the Docker lab (pb1, pb2, pb3) and build the standby on pb3"
	@echo "make test        unit tests, lint, and the molecule scenarios against the lab"
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

test: test-unit lint sanity test-lab test-integration test-faults test-lifecycle test-ssh test-polardb

test-unit: venv
	$(BIN)/pytest tests/unit

lint: venv
	$(ANSIBLE_ENV) $(BIN)/ansible-lint

sanity: venv
	$(ANSIBLE_ENV) tests/sanity/run.sh

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
# remove) in the molecule scenario lifecycle, on its own lab.
test-lifecycle: venv docker
	$(ANSIBLE_ENV) POLARDB_LAB_PREFIX=$(TEST_PREFIX)life- $(BIN)/molecule test -s lifecycle

# Real servers (molecule scenario ssh): the lab reached only over SSH as an
# unprivileged user with sudo, the collection installed from its tarball.
test-ssh: venv docker
	$(ANSIBLE_ENV) POLARDB_LAB_PREFIX=$(TEST_PREFIX)ssh- $(BIN)/molecule test -s ssh

# The polardb and ssh scenarios and the PolarDB faults on real binaries (POLARDB_SRC_DIR
# or POLARDB_IMAGE); skipped, saying how to give them, without either.
test-polardb: venv docker
	$(ANSIBLE_ENV) POLARDB_LAB_PREFIX=$(TEST_PREFIX)pmol- POLARDB_SSH_PREFIX=$(TEST_PREFIX)pssh- \
	  POLARDB_FAULTS_PREFIX=$(TEST_PREFIX)pfaults- tests/polardb/run.sh

build: venv
	$(BIN)/ansible-galaxy collection build --force

bench: venv docker
	$(ANSIBLE_ENV) bench/run.sh

clean: lab-down
	rm -rf .lab polardb-cluster-*.tar.gz
