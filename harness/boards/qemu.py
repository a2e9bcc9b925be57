"""The emulated boards as a resource: a QEMU process running the firmware, its console on a pty.

``MACHINES`` is the one table of the emulated boards the harness knows: for each
``machine`` of ``boards.toml``, the QEMU program, its Debian package, the machine
options and the firmware target (``harness.firmware``) built for it.

The board driver talks to the pty (``PtyLink``); tests and benchmarks that only need the
raw REPL use ``booted_raw_repl``. Either way the whole QEMU process group is killed on
``stop()``, whatever happened.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.boards.links import ByteLog, kill_process_group

_PTY_LINE = re.compile(r"char device redirected to (\S+)")


@dataclass(frozen=True)
class QemuMachine:
    """An emulated board: how QEMU runs it and which firmware it boots."""

    name: str            # the ``machine`` field of boards.toml
    system: str          # the QEMU program
    package: str         # the Debian package that provides it
    qemu_machine: str    # QEMU's ``-machine`` value
    firmware: str        # the harness.firmware target built for it
    cpu: str             # what it emulates, for listings and benchmarks
    options: tuple[str, ...] = ()


MACHINES = {m.name: m for m in (
    QemuMachine("mps2-an385", "qemu-system-arm", "qemu-system-arm", "mps2-an385", "qemu",
                "Cortex-M3 (Thumb-2)"),
    # QEMU's nRF51 has the chip's 16 KiB of RAM unless told otherwise; MicroPython's
    # MICROBIT board (and its linker script) expects 256 KiB RAM and 1 MiB flash.
    QemuMachine("microbit", "qemu-system-arm", "qemu-system-arm", "microbit", "qemu-microbit",
                "Cortex-M0 (Thumb-1)",
                ("-global", "nrf51-soc.flash-size=1048576", "-global", "nrf51-soc.sram-size=262144")),
    QemuMachine("sabrelite", "qemu-system-arm", "qemu-system-arm", "sabrelite", "qemu-sabrelite",
                "Cortex-A9 (ARM, -mno-unaligned-access)", ("-m", "128M")),
    # -bios none: the firmware is the M-mode program (no OpenSBI).
    QemuMachine("virt-rv32", "qemu-system-riscv32", "qemu-system-misc", "virt", "qemu-rv32",
                "RISC-V RV32IMC", ("-bios", "none")),
)}
#: The machine of a qemu board that does not name one.
DEFAULT_MACHINE = "mps2-an385"


def machine(name: str) -> QemuMachine:
    """The emulated board ``name``; QemuError listing the known ones otherwise."""
    try:
        return MACHINES[name]
    except KeyError:
        raise QemuError(f"unknown QEMU machine {name!r}: the harness knows "
                        f"{', '.join(sorted(MACHINES))} (harness/boards/qemu.py)") from None


def firmware_target(machine_name: str) -> str:
    """The harness.firmware target whose image boots on ``machine_name``."""
    return machine(machine_name).firmware


def qemu_argv(firmware: Path | str, machine_name: str = DEFAULT_MACHINE, serial: str = "pty") -> list[str]:
    """The command line that boots ``firmware`` with its console (the first UART) on
    ``serial`` (QEMU's ``-serial`` syntax; ``pty`` makes QEMU print the pty's path).

    ``-semihosting`` is required: the qemu port's start-up code makes a semihosting
    call before anything else on Arm (without it the board faults and stays silent),
    and ``machine.reset()`` ends QEMU through semihosting on every architecture.
    """
    m = machine(machine_name)
    return [m.system, "-machine", m.qemu_machine, *m.options, "-nographic", "-monitor", "none",
            "-semihosting", "-serial", serial, "-kernel", str(firmware)]


class QemuError(Exception):
    """QEMU could not be started or did not offer its console."""


class QemuInstance:
    """QEMU running the firmware (``qemu_argv``), console on a pty."""

    def __init__(self, firmware: Path, machine: str, log: ByteLog):
        self.firmware = Path(firmware)
        self.machine = machine
        self.log = log
        self.process: subprocess.Popen | None = None
        self.pty: str | None = None
        self.messages: list[str] = []

    def start(self, timeout: float = 10.0) -> str:
        argv = qemu_argv(self.firmware, self.machine, serial="pty")
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
        except OSError as exc:
            raise QemuError(f"cannot start {argv[0]}: {exc} (install the Debian package "
                            f"{machine(self.machine).package})") from exc
        self.log.note(f"started qemu pid {self.process.pid}: {' '.join(argv)}")
        found = threading.Event()

        def watch():
            for line in self.process.stdout:
                line = line.rstrip()
                self.messages.append(line)
                self.log.note(f"qemu: {line}")
                match = _PTY_LINE.search(line)
                if match and not found.is_set():
                    self.pty = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=watch, name=f"qemu-{self.process.pid}", daemon=True).start()
        if not found.wait(timeout) or self.pty is None:
            self.stop()
            raise QemuError(f"qemu did not report its pty within {timeout:g} s: {' / '.join(self.messages)}")
        return self.pty

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            kill_process_group(self.process)
            self.log.note(f"stopped qemu pid {self.process.pid}")
            self.process = None


@contextlib.contextmanager
def booted_raw_repl(firmware: Path, machine_name: str = DEFAULT_MACHINE, timeout: float = 20.0):
    """Boot ``firmware`` on ``machine_name`` and yield mpremote's ``SerialTransport`` in the raw REPL."""
    from mpremote.transport_serial import SerialTransport

    qemu = QemuInstance(firmware, machine_name, ByteLog())
    transport = None
    try:
        pty = qemu.start(timeout)
        deadline = time.monotonic() + timeout
        while True:  # the firmware needs a moment after QEMU opens the pty
            try:
                transport = SerialTransport(pty, baudrate=115200)
                transport.enter_raw_repl(soft_reset=False)
                break
            except Exception:
                if transport is not None:
                    transport.close()
                    transport = None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield transport
    finally:
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.close()
        qemu.stop()
