"""Fixtures of the firmware evidence tests; the firmware is built on demand by
``ensure_firmware`` (a second run with nothing changed reuses it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.boards.qemu import MACHINES, QemuMachine

from firmware_support import MicroPythonRunner, booted_qemu, firmware


@pytest.fixture(scope="session")
def unix_firmware() -> Path:
    return firmware("unix")


@pytest.fixture
def micropython(unix_firmware, tmp_path) -> MicroPythonRunner:
    """Runs MicroPython snippets on the unix firmware (MicroPythonRunner.run)."""
    return MicroPythonRunner(unix_firmware, tmp_path)


@pytest.fixture(scope="session", params=sorted(MACHINES))
def qemu_machine(request) -> QemuMachine:
    """Every emulated board (harness/boards/qemu.py): each CPU architecture of the qemu port."""
    return MACHINES[request.param]


@pytest.fixture(scope="session")
def qemu_firmware(qemu_machine) -> Path:
    return firmware(qemu_machine.firmware)


@pytest.fixture
def qemu_repl(qemu_firmware, qemu_machine):
    """A freshly booted emulated board's raw REPL (QemuRepl); QEMU is killed afterwards."""
    with booted_qemu(qemu_firmware, qemu_machine.name) as repl:
        yield repl
