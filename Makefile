# honch-hil: `make test` and `make run` work on a fresh Debian machine as root.
# Everything is cached under build/; a second run with nothing changed takes seconds.

SHELL := /bin/bash
PYTHON ?= python3
BUILD := build
VENV := $(BUILD)/venv
BIN := $(VENV)/bin
# System packages the harness needs: the host C toolchain and Python headers (the host
# port's extension), the Cortex-M3 toolchain and QEMU for the emulated board,
# libffi/pkg-config for MicroPython's unix port, dpkg-dev for `apt-get source`, ser2net
# for the lab tests (boards behind RFC 2217 / raw TCP exporters, labgrid's exporter).
APT_PACKAGES := build-essential python3-dev python3-venv pkg-config libffi-dev dpkg-dev xz-utils \
	gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm ser2net
BENCH_APT_PACKAGES := valgrind
# Inputs of the editable install (the host port's C extension is compiled by pip).
VENV_INPUTS := pyproject.toml VERSION $(wildcard setup.py) \
	$(shell find core -name '*.[ch]' 2>/dev/null)

# labgrid (client, coordinator, exporter) in its own venv: it depends on pyserial-labgrid,
# a fork that installs over pyserial's `serial` module, so it stays out of build/venv.
LABGRID_VENV := $(BUILD)/labgrid
LABGRID_VERSION := 26.0.1

.PHONY: all test run deps apt venv firmware labgrid bench clean distclean

all: test

deps: apt venv firmware

apt:
	@scripts=$$(for p in $(APT_PACKAGES) $(EXTRA_APT); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$scripts" ]; then \
		echo "installing system packages:" $$scripts; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$scripts; \
	fi

venv: $(BUILD)/venv.stamp

$(BUILD)/venv.stamp: $(VENV_INPUTS)
	@mkdir -p $(BUILD)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

firmware: apt venv
	$(BIN)/honch-hil firmware build unix qemu

labgrid: $(LABGRID_VENV)/stamp-$(LABGRID_VERSION)

$(LABGRID_VENV)/stamp-$(LABGRID_VERSION):
	test -x $(LABGRID_VENV)/bin/python || $(PYTHON) -m venv $(LABGRID_VENV)
	$(LABGRID_VENV)/bin/python -m pip install -q 'labgrid==$(LABGRID_VERSION)'
	touch $@

# The unit and integration tests, then the conformance suite on every default board
# (host, unix, qemu-an385) exactly as `make run` runs it, with its reports under build/,
# then the lab tests (tests/lab/, in parallel): the whole suite through ser2net (RFC 2217
# and raw TCP) and through a labgrid place contended by two runs, all on loopback.
test: apt venv firmware labgrid
	$(BIN)/python -m pytest tests --ignore=tests/lab
	$(BIN)/honch-hil run --reports $(BUILD)/test-reports
	$(BIN)/python -m pytest tests/lab -n 2

run: apt venv firmware
	$(BIN)/honch-hil run

bench: EXTRA_APT = $(BENCH_APT_PACKAGES)
bench: apt venv
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf reports $(BUILD)/artifacts

distclean: clean
	rm -rf $(BUILD)
