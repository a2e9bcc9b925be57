"""Board drivers: bring a board from the inventory up to a running agent, reset it,
probe it, and tear it down.

Resources (a QEMU process and its pty, a child process) are started and owned
here; links (``harness.boards.links``) move the bytes; the ``AgentClient``
(``harness.agent.client``) speaks the protocol. The pytest layer
(``fixtures/boards.py``) only asks a ``BoardDriver`` for these things.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import weakref
from pathlib import Path

from harness.artifacts import artifact_name
from harness.agent.client import AgentClient, AgentFailure, AgentTimeout, BoardGone, BoardRebooted
from harness.boards.inventory import ROOT, BoardSpec
from harness.boards.qemu import QemuError, QemuInstance
from harness.boards.links import ByteLog, LinkError, PtyLink, SerialLink, SubprocessLink

AGENT_SOURCE = ROOT / "harness" / "agent" / "honch_agent.py"
DEFAULT_ARTIFACTS = ROOT / "build" / "artifacts"
START_AGENT = "import honch_agent\nhonch_agent.main()\n"

#: every live resource, so that nothing outlives the interpreter even when a test
#: run is interrupted between setup and teardown
_LIVE: "weakref.WeakSet[BoardDriver]" = weakref.WeakSet()


@atexit.register
def _stop_all():
    for driver in list(_LIVE):
        driver.stop()


class BoardError(Exception):
    """The board could not be started or reset; the message names the board and its log."""


class BoardDriver:
    """One board of the inventory: its resources, link and agent.

    ``start()`` leaves a running agent; ``agent`` is its ``AgentClient``;
    ``reset()`` applies the board's reset method and restarts the agent;
    ``stop()`` releases everything (idempotent)."""

    def __init__(self, spec: BoardSpec, artifacts: Path | None = None):
        self.spec = spec
        self.name = spec.name
        self.artifacts = Path(artifacts) if artifacts is not None else DEFAULT_ARTIFACTS
        self.log = ByteLog(self.artifacts / "boards" / spec.name / "session.log")
        self.link = None
        self.qemu: QemuInstance | None = None
        self.agent: AgentClient | None = None
        self.info: dict | None = None
        self.tether = None
        self.resets = 0
        #: hangs, reboots and lost links seen during ops (the plugin skips a board after two)
        self.health_failures = 0
        #: why the board is gone for good (its QEMU or link ended under us), or None
        self.lost: str | None = None
        _LIVE.add(self)

    # --- logs ---------------------------------------------------------------------

    def log_to(self, label: str) -> Path:
        """Send the byte log to ``<artifacts>/boards/<board>/<label>.log`` (one per test)."""
        path = self.artifacts / "boards" / self.name / f"{artifact_name(label)}.log"
        self.log.open(path)
        return path

    @property
    def log_path(self) -> Path | None:
        return self.log.path

    def _error(self, message: str) -> BoardError:
        return BoardError(f"board {self.name}: {message} (log: {self.log.path})")

    # --- firmware -------------------------------------------------------------------

    def firmware_path(self) -> Path | None:
        firmware = self.spec.firmware
        if self.spec.kind == "host" or firmware == "preinstalled":
            return None
        if firmware == "build":
            from harness.firmware import ensure_firmware

            return Path(ensure_firmware("unix" if self.spec.kind == "unix" else "qemu"))
        path = Path(firmware)
        if not path.is_absolute():
            path = ROOT / path
        if not path.exists():
            raise self._error(f"firmware {path} does not exist")
        return path

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> "BoardDriver":
        if self.agent is not None:
            return self
        self.stop()  # a half-open link from a failed start or reset
        try:
            self._open()
            self.agent.wait_ready(self.spec.start_timeout)
            if self.spec.network == "tether":
                self._enable_tether()
            self.info = self.agent.call("info")
        except (AgentFailure, LinkError) as exc:
            self.stop()
            raise self._error(f"could not start the agent: {exc}") from exc
        except BoardError:
            self.stop()
            raise
        self.log.note(f"agent ready: {self.info}")
        return self

    def _open(self) -> None:
        kind = self.spec.kind
        if kind == "host":
            self.link = SubprocessLink([sys.executable, "-u", str(AGENT_SOURCE), *self.spec.args],
                                       log=self.log, cwd=str(self._workdir()))
        elif kind == "unix":
            env = dict(os.environ, MICROPYPATH=".frozen")  # only the frozen honch, never the checkout's
            self.link = SubprocessLink([str(self.firmware_path()), *self.spec.args, "-m", "honch_agent"],
                                       log=self.log, env=env, cwd=str(self._workdir()))
        elif kind == "qemu":
            self.qemu = QemuInstance(self.firmware_path(), self.spec.machine, self.log)
            try:
                pty = self.qemu.start()
            except QemuError as exc:
                raise self._error(str(exc)) from exc
            self.link = PtyLink(pty, baudrate=self.spec.baudrate, log=self.log)
            self._start_in_raw_repl(soft_reset=False)
        elif kind == "serial":
            self.link = SerialLink(self.spec.port, baudrate=self.spec.baudrate, log=self.log)
            self._start_in_raw_repl(soft_reset=True)
        else:  # the inventory validated this
            raise self._error(f"unknown kind {kind!r}")
        if self.agent is None:
            self.agent = AgentClient(self.link, self.name, self.spec.op_timeout, self.tether)

    def _workdir(self) -> Path:
        path = self.artifacts / "boards" / self.name / "cwd"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _start_in_raw_repl(self, soft_reset: bool) -> None:
        """Enter the raw REPL with mpremote, copy the agent if asked, and run it."""
        from mpremote.transport import TransportError

        transport = self.link.mpremote()
        try:
            transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=self.spec.start_timeout)
            if self.spec.agent == "copy":
                self._copy_agent(transport)
            code = (self.spec.setup + "\n" if self.spec.setup else "") + START_AGENT
            transport.exec_raw_no_follow(code)
        except TransportError as exc:
            raise self._error(f"raw REPL: {exc}") from exc
        self.agent = AgentClient(self.link, self.name, self.spec.op_timeout, self.tether)

    def _copy_agent(self, transport) -> None:
        """Stock firmware with ``_honch_core``: put the agent, ``honch`` and the socket
        transport on the board's filesystem."""
        files = [(AGENT_SOURCE, "honch_agent.py")]
        files += [(p, f"honch/{p.name}") for p in sorted((ROOT / "honch").glob("*.py"))]
        transport_py = ROOT / "usermod" / "honch" / "honch_transport.py"
        if transport_py.exists():
            files.append((transport_py, "honch_transport.py"))
        if not transport.fs_exists("honch"):
            transport.fs_mkdir("honch")
        for source, dest in files:
            transport.fs_writefile(dest, source.read_bytes())
            self.log.note(f"copied {source.relative_to(ROOT)} -> :{dest}")

    def _enable_tether(self) -> None:
        from harness.agent.tether import Tether

        self.tether = Tether(self.log)
        self.agent.tether = self.tether
        self.agent.call("tether", True)

    def stop(self) -> None:
        if self.link is not None:
            try:
                self.link.close()
            except Exception:
                pass
            self.link = None
        if self.qemu is not None:
            self.qemu.stop()
            self.qemu = None
        self.agent = None

    # --- ops ------------------------------------------------------------------------

    def call(self, op: str, *args, timeout: float | None = None, **kwargs):
        """``agent.call`` with health handling: a hung board (no reply in time), a
        reboot (banner seen) or a lost link counts as a health failure, the board
        is reset so the next test finds a running agent, and the error is re-raised
        with the last console lines and the log path in its message."""
        if self.agent is None:
            self.start()
        try:
            return self.agent.call(op, *args, timeout=timeout, **kwargs)
        except (AgentTimeout, BoardRebooted, BoardGone) as exc:
            if isinstance(exc, BoardGone) and self.spec.kind == "serial":
                self.lost = str(exc).splitlines()[0]  # the port or its exporter vanished
            # the link can close just before the process's exit can be reaped
            if isinstance(exc, BoardGone) and (self.lost or self.resource_gone(wait=0.5)):
                self.lost = self.lost or self.resource_gone()
                self.log.note(f"board lost during {op}(): {self.lost}")
                self.stop()
                raise
            self.health_failures += 1
            self.log.note(f"health failure #{self.health_failures}: {type(exc).__name__} during {op}()")
            if isinstance(exc, AgentTimeout):
                printed = self._interrupt_and_collect()
                if printed:
                    exc.add_note(f"board {self.name} printed after Ctrl-C (where it hung):\n"
                                 + "\n".join("  | " + line for line in printed[-15:]))
            try:
                self.reset()
                exc.add_note(f"board {self.name} was reset ({self.spec.reset}) and its agent restarted")
            except BoardError as reset_error:
                exc.add_note(f"resetting board {self.name} failed as well: {reset_error}")
            raise

    def _interrupt_and_collect(self, seconds: float = 0.5) -> list[str]:
        """Ctrl-C a hung MicroPython program and return what it printed (its traceback)."""
        if self.spec.kind not in ("serial", "qemu") or self.link is None:
            return []
        data = b""
        try:
            self.link.write(b"\x03")
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                data += self.link.read(end - time.monotonic())
        except LinkError:
            pass
        text = data.decode("utf-8", "replace").replace("\x04", "\n")
        return [line.rstrip() for line in text.splitlines() if line.strip()]

    # --- health ---------------------------------------------------------------------

    def resource_gone(self, wait: float = 0.0) -> str | None:
        """Why the process behind the link was ended from outside (QEMU killed, the
        board process killed or terminated), or None. A port's own crash (a signal
        such as SIGSEGV, an exit status) is not a lost board: it is reset."""
        process = self.qemu.process if self.qemu is not None else getattr(self.link, "process", None)
        if process is None:
            return None
        try:
            code = process.wait(timeout=wait) if wait else process.poll()
        except Exception:
            return None
        if code is None:
            return None
        external = code < 0 and (self.qemu is not None or -code in (1, 2, 9, 15))
        if not external:
            return None
        what = "QEMU" if self.qemu is not None else "the board process"
        return f"{what} (pid {process.pid}) was killed by signal {-code}"

    def healthy(self, timeout: float | None = None) -> bool:
        """The agent answers a no-op within ``timeout`` (default: the op timeout)."""
        if self.agent is None:
            return False
        try:
            self.agent.call("ping", timeout=timeout)
            return True
        except AgentFailure:
            return False

    def reset(self) -> None:
        """Apply the board's reset method and start the agent again."""
        self.resets += 1
        method = self.spec.reset
        self.log.note(f"reset #{self.resets} by {method}")
        if method in ("restart", "qemu-restart") or self.link is None:
            self.stop()
            self.start()
            return
        tether = self.tether
        try:
            if method == "machine":
                self.link.write(b"\r\x03\x03")
                self.link.write(b"\r\x02import machine\r\nmachine.reset()\r\n")
            elif method in ("dtr", "rts", "dtr+rts"):
                self.link.pulse(method)
            self.agent = None
            self.link.read(0.2)
            self._start_in_raw_repl(soft_reset=True)
            self.agent.wait_ready(self.spec.start_timeout)
            self.agent.tether = tether
            if self.spec.network == "tether":
                self._enable_tether()
            self.info = self.agent.call("info")
        except (AgentFailure, LinkError, BoardError) as exc:
            self.stop()  # the next start() opens everything afresh
            raise self._error(f"reset by {method} failed: {exc}") from exc

    # --- probe ----------------------------------------------------------------------

    def probe(self) -> dict:
        """What ``honch-hil boards`` prints: reachable, versions, free heap."""
        started = time.monotonic()
        self.start()
        info = dict(self.info or {})
        info["mem_free"] = self.agent.call("gc")
        info["start_seconds"] = round(time.monotonic() - started, 2)
        return info


__all__ = ["BoardDriver", "BoardError", "QemuInstance", "AgentTimeout", "BoardGone"]
