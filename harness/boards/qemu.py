"""The emulated board as a resource: a QEMU process running the firmware, its console on a pty.

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
from pathlib import Path

from harness.boards.links import ByteLog, kill_process_group

_PTY_LINE = re.compile(r"char device redirected to (\S+)")


class QemuError(Exception):
    """QEMU could not be started or did not offer its console."""


class QemuInstance:
    """QEMU running the firmware (``harness.firmware.qemu.qemu_argv``), console on a pty."""

    def __init__(self, firmware: Path, machine: str, log: ByteLog):
        self.firmware = Path(firmware)
        self.machine = machine
        self.log = log
        self.process: subprocess.Popen | None = None
        self.pty: str | None = None
        self.messages: list[str] = []

    def start(self, timeout: float = 10.0) -> str:
        from harness.firmware.qemu import QEMU_PACKAGE, qemu_argv

        argv = qemu_argv(self.firmware, self.machine, serial="pty")
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
        except OSError as exc:
            raise QemuError(f"cannot start {argv[0]}: {exc} (Debian package {QEMU_PACKAGE})") from exc
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
def booted_raw_repl(firmware: Path, machine: str | None = None, timeout: float = 20.0):
    """Boot ``firmware`` in QEMU and yield mpremote's ``SerialTransport`` in the raw REPL."""
    from mpremote.transport_serial import SerialTransport

    from harness.firmware.qemu import QEMU_MACHINE

    qemu = QemuInstance(firmware, machine or QEMU_MACHINE, ByteLog())
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
