"""Helpers of the firmware evidence tests: the unix firmware as a subprocess and
the emulated boards under QEMU (the fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.boards.qemu import QemuError, booted_raw_repl
from harness.firmware import FirmwareError, ensure_firmware

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
def booted_qemu(firmware: Path, machine_name: str):
    """Boot the firmware on ``machine_name`` in QEMU and yield a QemuRepl; QEMU is killed
    (its whole process group) on the way out, whatever happened."""
    try:
        with booted_raw_repl(firmware, machine_name) as transport:
            yield QemuRepl(transport)
    except QemuError as exc:
        pytest.fail(str(exc), pytrace=False)
