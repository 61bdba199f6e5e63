# Entry points. The README's quick start is `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
PYTHON ?= python3
APT_PACKAGES := systemd-container debootstrap openssh-client iproute2 nftables arping iputils-ping tcpdump python3-venv \
  gcc libc6-dev frr graphviz

# The pinned upstream manifests: a local mirror beside the checkout when there is one.
SHARED_MIRROR := $(abspath $(CURDIR)/../shared/upstream)
K8SNET_UPSTREAM_MIRROR ?= $(if $(wildcard $(SHARED_MIRROR)/MANIFEST.tsv),$(SHARED_MIRROR),)
export K8SNET_UPSTREAM_MIRROR
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help deps apt venv lint unit lab-build lab-build-matrix integration molecule test bench demo lab-up lab-down cluster-up docs

help:
	@echo "make demo   build the lab cluster, run site.yml on it (api mode), show the traffic report"
	@echo "make test   install what is missing, then lint, unit, lab and molecule tests"
	@echo "make bench  benchmarks (print figures)"
	@echo "make lab-up / lab-down   the 3-node lab alone"
	@echo "make cluster-up   the 3-node lab as a kubeadm cluster on day 0 (no CNI)"

deps: apt venv

# Debian packages the lab, the probes and network.svg (graphviz's dot) need (CI starts from a machine
# without them). frr is the lab router's (tools/lab.py create --router runs its daemons in a namespace
# of its own): where systemd started its service on install, it is stopped and disabled again.
apt:
	@missing=""; for c in systemd-nspawn debootstrap ssh ip nft arping ping tcpdump gcc vtysh dot; do \
	  command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then echo "installing Debian packages (missing:$$missing)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES); \
	  if [ -d /run/systemd/system ]; then systemctl disable --now frr >/dev/null 2>&1 || true; fi; fi

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

docs: venv
	$(BIN)/python tools/gen_docs.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint
	$(BIN)/python tools/gen_docs.py --check
	$(BIN)/python tools/check_plugin_docs.py

unit: venv
	$(BIN)/pytest -q -n 2 tests/unit

# Everything a cluster lab is made of, from pinned Go modules (cached under /var/cache/k8snet-lab;
# a cold machine takes 15-27 min per Kubernetes minor, a warm one seconds). The go command must be there.
# lab-build makes the default minor (make demo's); lab-build-matrix every minor of the test matrix
# (tools/k8snet_lab/pins.py: the molecule `cluster` scenario runs the older one).
GO_CHECK := command -v go >/dev/null || { echo "the lab cluster is built with Go 1.26 (go command missing)"; exit 1; }
lab-build: deps
	@$(GO_CHECK)
	$(PYTHON) tools/lab.py build

lab-build-matrix: lab-build
	$(PYTHON) tools/lab.py build --kubernetes all

integration: deps lab-build
	$(BIN)/pytest -q tests/integration

molecule: deps lab-build-matrix
	$(BIN)/molecule test --all

# make test overlaps the lab cluster's builds (~35 min on a cold machine, seconds on a warm one) with the tests
# that do not need them: the tests not marked `cluster` run while the default minor builds, the cluster tests
# while the test matrix's other minor builds on CPU time nothing else wants; molecule's `cluster` scenario
# runs that one. A failed test stops its builder (by its PID) and keeps its exit status.
BUILD_LOG := /var/cache/k8snet-lab/make-test-build.log
# $(call tests_beside_build,what is built,tools/lab.py build's arguments,log suffix,pytest's -m expression)
define tests_beside_build
	@echo "building $(1) in the background (log: $(BUILD_LOG).$(3))"
	@$(PYTHON) tools/lab.py build $(2) >$(BUILD_LOG).$(3) 2>&1 & builder=$$!; \
	trap 'status=$$?; kill $$builder 2>/dev/null; wait $$builder || true; exit $$status' EXIT; \
	$(BIN)/pytest -q -m "$(4)" tests/integration; \
	echo "waiting for the build of $(1)"; \
	wait $$builder || { tail -n 40 $(BUILD_LOG).$(3); exit 1; }; trap - EXIT; \
	grep -E "ready in|done in" $(BUILD_LOG).$(3) || true
endef

test: deps lint unit
	@$(GO_CHECK)
	$(PYTHON) tools/lab.py rootfs
	$(call tests_beside_build,the lab cluster's default minor,,default,not cluster)
	$(call tests_beside_build,the test matrix's other minors on idle CPU,--kubernetes all --idle,matrix,cluster)
	$(BIN)/molecule test --all

bench: deps
	$(BIN)/python tests/bench/bench_plan.py
	@for b in tests/bench/bench_*.py; do [ "$$b" = tests/bench/bench_plan.py ] || $(BIN)/python $$b; done

lab-up: deps
	$(BIN)/python tools/lab.py create

lab-down:
	$(PYTHON) tools/lab.py destroy

cluster-up: lab-build
	$(PYTHON) tools/lab.py create --cluster

# The main job on the built-in lab: a kubeadm cluster on day 0 (no CNI), site.yml in api mode, the report.
demo: deps lab-build
	$(PYTHON) tools/lab.py create --cluster
	$(BIN)/ansible-playbook -i inventory/lab-cluster site.yml
	@echo; echo "Traffic report: $(CURDIR)/reports/lab-cluster/VERIFY.md   kubeconfig: $$($(PYTHON) tools/lab.py kubeconfig)"
	@echo "Log into a node: tools/lab.py shell node1    Tear the lab down: make lab-down"
