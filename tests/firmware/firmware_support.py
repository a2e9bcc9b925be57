"""Helpers of the firmware evidence tests: the unix firmware as a subprocess and
the emulated Cortex-M3 under QEMU (the fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness.firmware import FirmwareError, ensure_firmware, qemu_argv
from harness.firmware.qemu import QEMU_PACKAGE, QEMU_SYSTEM

#: The line a MicroPython snippet prints its result on (see MicroPythonRunner).
RESULT_MARKER = "@@RESULT@@ "


def firmware(target: str) -> Path:
    """The artifact of ``target``, built by ``ensure_firmware`` if needed; a test failure if it cannot be."""
    try:
        return ensure_firmware(target, log=lambda message: None)
    except FirmwareError as exc:
        pytest.fail(f"cannot build the {target} firmware: {exc}", pytrace=False)


class SnippetError(AssertionError):
    """A MicroPython snippet failed; the message holds its output."""


class MicroPythonRunner:
    """Runs snippets on the unix firmware, in an empty directory so that only frozen
    modules (not the checkout's honch/) can be imported.

    A snippet sets ``result``; the runner prints it as JSON and returns it decoded.
    Values reach the snippet through ``env`` (``os.getenv``), so that nothing secret
    ends up in the snippet's text.
    """

    def __init__(self, firmware: Path, workdir: Path):
        self.firmware = firmware
        self.workdir = workdir

    def run(self, snippet: str, env: dict | None = None, timeout: float = 60.0):
        code = "import json, os\nresult = None\n" + snippet + \
            "\nprint(%r + json.dumps(result))\n" % RESULT_MARKER
        environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MICROPYPATH": ".frozen"}
        environ.update(env or {})
        proc = subprocess.run([str(self.firmware), "-c", code], cwd=self.workdir, env=environ,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        for line in proc.stdout.splitlines():
            if line.startswith(RESULT_MARKER):
                return json.loads(line[len(RESULT_MARKER):])
        raise SnippetError(f"the snippet printed no result (exit {proc.returncode})\n"
                           f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}")


# --- QEMU ------------------------------------------------------------------------------

_PTY = re.compile(r"char device redirected to (/dev/pts/\d+)")


class QemuBoard:
    """One qemu-system-arm process running the firmware, its console on a pty."""

    def __init__(self, firmware: Path):
        self.firmware = firmware
        self.process: subprocess.Popen | None = None
        self.pty: str | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 20.0) -> str:
        try:
            self.process = subprocess.Popen(qemu_argv(self.firmware), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                            start_new_session=True)
        except FileNotFoundError:
            pytest.fail(f"{QEMU_SYSTEM} not found: install the Debian package {QEMU_PACKAGE}", pytrace=False)
        found = threading.Event()

        def read_output():
            for line in self.process.stdout:
                self.output.append(line.rstrip())
                match = _PTY.search(line)
                if match:
                    self.pty = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read_output, daemon=True).start()
        found.wait(timeout)
        if self.pty is None:
            raise AssertionError(f"QEMU reported no pty within {timeout} s: {self.output}")
        return self.pty

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.process = None


class QemuRepl:
    """The raw REPL of a booted board through mpremote's serial transport."""

    def __init__(self, transport):
        self.transport = transport

    def run(self, snippet: str):
        """Execute ``snippet`` on the board; it sets ``result`` (JSON-able), which is returned."""
        from mpremote.transport import TransportExecError

        code = "import json\nresult = None\n" + snippet + "\nprint(%r + json.dumps(result))\n" % RESULT_MARKER
        try:
            output = self.transport.exec(code).decode()
        except TransportExecError as exc:
            raise SnippetError(f"the snippet raised on the board:\n{exc.error_output}") from None
        for line in output.splitlines():
            if line.startswith(RESULT_MARKER):
                return json.loads(line[len(RESULT_MARKER):])
        raise SnippetError(f"the snippet printed no result:\n{output}")


@contextlib.contextmanager
def booted_qemu(firmware: Path):
    """Boot the firmware in QEMU and yield a QemuRepl; QEMU is killed (its whole
    process group) on the way out, whatever happened."""
    from mpremote.transport_serial import SerialTransport

    board = QemuBoard(firmware)
    transport = None
    try:
        pty = board.start()
        deadline = time.monotonic() + 20
        while True:
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
        yield QemuRepl(transport)
    finally:
        if transport is not None:
            try:
                transport.close()
            except Exception:
                pass
        board.stop()
