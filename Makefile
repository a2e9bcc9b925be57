# honch-hil: `make test` and `make run` work on a fresh Debian machine as root.
# Everything is cached under build/; a second run with nothing changed takes seconds.

SHELL := /bin/bash
PYTHON ?= python3
BUILD := build
VENV := $(BUILD)/venv
BIN := $(VENV)/bin
# System packages the harness needs: the host C toolchain and Python headers (the host
# port's extension), the Arm and RISC-V toolchains and QEMU for the emulated boards
# (qemu-system-misc has qemu-system-riscv32), libffi/pkg-config for MicroPython's
# unix port, dpkg-dev for `apt-get source`, ser2net for the lab tests (boards behind
# RFC 2217 / raw TCP exporters, labgrid's exporter).
APT_PACKAGES := build-essential python3-dev python3-venv pkg-config libffi-dev dpkg-dev xz-utils \
	gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm \
	gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc ser2net
BENCH_APT_PACKAGES := valgrind stress-ng
# make test renders the conformance matrix in headless Chromium (tests/runner/test_matrix_in_a_browser.py).
TEST_APT_PACKAGES := chromium
# Inputs of the editable install (the host port's C extension is compiled by pip).
VENV_INPUTS := pyproject.toml VERSION core/VERSION $(wildcard setup.py) \
	$(shell find core -name '*.[ch]' 2>/dev/null)

# labgrid (client, coordinator, exporter) in its own venv: it depends on pyserial-labgrid,
# a fork that installs over pyserial's `serial` module, so it stays out of build/venv.
LABGRID_VENV := $(BUILD)/labgrid
LABGRID_VERSION := 26.0.1

.PHONY: all test run deps apt venv firmware labgrid bench mutation clean distclean

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

# The unix port, one emulated board per CPU architecture, the published wrapper frozen
# into a unix firmware and a unix firmware with only _honch_core (harness/firmware/build.py).
FIRMWARE := unix qemu qemu-microbit qemu-sabrelite qemu-rv32 unix-published-0.3.1 unix-core-only

firmware: apt venv
	$(BIN)/honch-hil firmware build $(FIRMWARE)

labgrid: $(LABGRID_VENV)/stamp-$(LABGRID_VERSION)

$(LABGRID_VENV)/stamp-$(LABGRID_VERSION):
	test -x $(LABGRID_VENV)/bin/python || $(PYTHON) -m venv $(LABGRID_VENV)
	$(LABGRID_VENV)/bin/python -m pip install -q 'labgrid==$(LABGRID_VERSION)'
	touch $@

# The unit and integration tests, then the conformance suite on every default board
# (host, unix, the emulated and published-wrapper boards) exactly as `make run` runs it,
# with its reports under build/, then the lab tests (tests/lab/, in parallel): the whole
# suite through ser2net (RFC 2217 and raw TCP) and through a labgrid place contended by
# two runs, all on loopback.
test: EXTRA_APT = $(TEST_APT_PACKAGES)
test: apt venv firmware labgrid
	$(BIN)/python -m pytest tests --ignore=tests/lab -n 2
	$(BIN)/honch-hil run --reports $(BUILD)/test-reports
	$(BIN)/python -m pytest tests/lab -n 2

run: apt venv firmware
	$(BIN)/honch-hil run

bench: EXTRA_APT = $(BENCH_APT_PACKAGES)
bench: apt venv
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Mutation testing of core/src and honch/ on the host board (not part of `make test`):
# a seeded sample by default, every mutant with FULL=1 (nightly). harness/mutation/.
$(BUILD)/mutation-deps.stamp: pyproject.toml | venv
	$(BIN)/python -m pip install -q -e '.[test,mutation]'
	touch $@

mutation: apt venv $(BUILD)/mutation-deps.stamp
	$(BIN)/honch-hil mutation $(if $(FULL),--full) $(MUTATION_ARGS)

clean:
	rm -rf reports $(BUILD)/artifacts

distclean: clean
	rm -rf $(BUILD)
