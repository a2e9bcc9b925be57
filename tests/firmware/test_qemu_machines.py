"""harness/boards/qemu.py's machine table: the command lines, the errors, and that the
shipped inventory names only machines the harness can boot."""

from __future__ import annotations

import pytest

from harness.boards.inventory import load_boards
from harness.boards.qemu import MACHINES, QemuError, QemuInstance, firmware_target, qemu_argv
from harness.boards.links import ByteLog


def test_command_lines_carry_each_machines_program_and_options():
    assert qemu_argv("fw.elf", "virt-rv32") == [
        "qemu-system-riscv32", "-machine", "virt", "-bios", "none", "-nographic", "-monitor", "none",
        "-semihosting", "-serial", "pty", "-kernel", "fw.elf"]
    microbit = qemu_argv("fw.elf", "microbit", serial="stdio")
    assert microbit[:3] == ["qemu-system-arm", "-machine", "microbit"]
    assert "nrf51-soc.sram-size=262144" in microbit and microbit[-4:] == ["-serial", "stdio", "-kernel", "fw.elf"]
    assert qemu_argv("fw.elf")[:3] == ["qemu-system-arm", "-machine", "mps2-an385"]


def test_an_unknown_machine_is_refused_naming_the_known_ones():
    with pytest.raises(QemuError, match=r"unknown QEMU machine 'virt': the harness knows microbit, mps2-an385, "
                                        r"sabrelite, virt-rv32"):
        firmware_target("virt")


def test_a_missing_qemu_names_its_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    qemu = QemuInstance(tmp_path / "fw.elf", "virt-rv32", ByteLog())
    with pytest.raises(QemuError, match="cannot start qemu-system-riscv32: .*install the Debian package qemu-system-misc"):
        qemu.start()


def test_the_shipped_inventory_has_one_enabled_board_per_architecture():
    qemu_boards = {spec.machine: spec for spec in load_boards().values() if spec.kind == "qemu"}
    assert set(qemu_boards) == set(MACHINES)
    for spec in qemu_boards.values():
        assert spec.enabled and spec.network == "tether" and spec.port_kind == "pty" and spec.firmware == "build"
