"""How to run the emulated board's firmware (``build/firmware/qemu/firmware.elf``)."""

from __future__ import annotations

from pathlib import Path

QEMU_SYSTEM = "qemu-system-arm"
#: The Debian package that provides QEMU_SYSTEM.
QEMU_PACKAGE = "qemu-system-arm"
#: The board the qemu firmware is built for (BOARD=MPS2_AN385, a Cortex-M3).
QEMU_MACHINE = "mps2-an385"


def qemu_argv(firmware: Path | str, machine: str = QEMU_MACHINE, serial: str = "pty") -> list[str]:
    """The command line that boots ``firmware`` with its console (the first UART) on
    ``serial`` (QEMU's ``-serial`` syntax; ``pty`` makes QEMU print the pty's path).

    ``-semihosting`` is required: the qemu port's start-up code makes a semihosting
    call before anything else (without it the board faults and stays silent), and
    ``machine.reset()`` ends QEMU through semihosting.
    """
    return [QEMU_SYSTEM, "-machine", machine, "-nographic", "-monitor", "none", "-semihosting",
            "-serial", serial, "-kernel", str(firmware)]
