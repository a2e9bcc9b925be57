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
from harness.agent.codec import LEGACY_PREFIX, PREFIX
from harness.agent.client import AgentClient, AgentFailure, AgentTimeout, BoardGone, BoardRebooted
from harness.boards.inventory import RAW_REPL_KINDS, ROOT, BoardSpec
from harness.boards.qemu import QemuError, QemuInstance, firmware_target
from harness.boards.starvation import StarvationMeter
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


class BoardUnreachable(BoardError):
    """The board's link cannot be opened at all (no such port, an exporter that refuses, a
    labgrid place that cannot be had): one line naming the board, the URL or place and
    what to check. Retrying within the run is pointless; the run goes on without it."""


class BoardMisconfigured(BoardUnreachable):
    """The board started but its description cannot work (its agent finds no ``honch`` to
    import): the same every time, so it is handled like an unreachable board."""


#: the agent's own ``exit`` op, under an id no AgentClient uses; the emulated firmware
#: ignores Ctrl-C while code runs, so this is the one reliable way to end the agent.
#: The request keeps the dict form every agent version understands.
EXIT_REQUEST = b'{"id": "hil-exit", "op": "exit"}\r\n'  # \r: a friendly REPL answers with a prompt
#: its reply from this agent (protocol 2) and from an agent before it (protocol 1)
EXIT_REPLIES = (PREFIX + b'["hil-exit"]', LEGACY_PREFIX + b'{"id": "hil-exit"')
#: after the agent's main() returns, the raw REPL ends the output (EOT, EOT) and prompts
RAW_PROMPT = b"\x04>"
FRIENDLY_PROMPT = b">>> "
#: how long a board that may be running an agent from an earlier session gets to answer
TAKEOVER_WAIT = 1.5


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
        self.place = None  # a held labgrid place (harness.boards.labgrid.LabgridPlace)
        self.agent: AgentClient | None = None
        self.info: dict | None = None
        self.tether = None
        self.resets = 0
        #: hangs, reboots and lost links seen during ops (the plugin skips a board after two)
        self.health_failures = 0
        #: why the board is gone for good (its QEMU or link ended under us), or None
        self.lost: str | None = None
        #: run-queue wait of the board's processes and the harness (timing upper bounds)
        self.starvation = StarvationMeter(self.process_ids)
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
        if self.spec.firmware_is_ours:
            from harness.firmware import ensure_firmware
            from harness.firmware.errors import FirmwareError

            if ":" in firmware:
                name = firmware.split(":", 1)[1]
            else:
                try:
                    name = "unix" if self.spec.kind == "unix" else firmware_target(self.spec.machine)
                except QemuError as exc:
                    raise self._error(str(exc)) from exc
            try:
                return Path(ensure_firmware(name))
            except FirmwareError as exc:
                raise self._error(f"firmware {firmware}: {exc}") from exc
        path = self.spec.resolve(firmware)
        if not path.exists():
            raise self._error(f"firmware {path} does not exist")
        return path

    # --- lifecycle ------------------------------------------------------------------

    def process_ids(self) -> list[int]:
        """The host processes that run the board itself (none for hardware behind a link)."""
        pids = []
        if self.qemu is not None and self.qemu.process is not None:
            pids.append(self.qemu.process.pid)
        process = getattr(self.link, "process", None)
        if process is not None:
            pids.append(process.pid)
        return pids

    def start(self) -> "BoardDriver":
        if self.agent is not None:
            return self
        self.stop()  # a half-open link from a failed start or reset
        self.starvation.start()
        try:
            self._open()
            self.agent.wait_ready(self.spec.start_timeout)
            if self.spec.network == "tether":
                self._enable_tether()
            self.info = self.agent.call("info")
            self._check_wrapper(self.info)
        except (AgentFailure, LinkError) as exc:
            self._lost_if_link_failed()
            self.stop()
            raise self._error(f"could not start the agent: {exc}") from exc
        except BoardError:
            self._lost_if_link_failed()
            self.stop()
            raise
        self.log.note(f"agent ready: {self.info}")
        return self

    def _check_wrapper(self, info: dict) -> None:
        """No test can run on a board whose agent cannot import ``honch``: one error for the
        board (its tests are not run), not a failure of every clause charged to the port."""
        problem = info.get("wrapper_error")
        if problem is None:
            return
        where = ("the firmware has no honch of its own (frozen or on its filesystem)"
                 if self.spec.wrapper == "frozen" else f"wrapper = {self.spec.wrapper!r} gave none")
        field = ("describe the board in a boards file (--boards-file) with a 'wrapper' field"
                 if self.spec.description.startswith("ad hoc") else "set the board's 'wrapper' field")
        raise BoardMisconfigured(
            f"board {self.name}: the agent cannot import honch ({problem}): {where}; {field}: "
            f"\"project\", \"honch-micropython==X.Y.Z\" or a directory holding honch/ "
            f"(docs/porting.md) (log: {self.log.path})")

    def _lost_if_link_failed(self) -> None:
        """A port that opened and then failed while the agent started (an exporter that
        dropped the connection, a device unplugged) is lost like one that fails during a
        test: a reset cannot bring it back, so its remaining tests are not run."""
        failure = getattr(self.link, "failure", None)
        if self.spec.kind in ("serial", "labgrid") and failure:
            self.lost = f"its link failed while the agent started: {failure}"
            self.log.note(f"board lost: {self.lost}")

    def _open(self) -> None:
        kind = self.spec.kind
        if kind == "host":
            env = dict(os.environ)
            wrapper = self._wrapper_dir()
            if wrapper is not None:  # before the venv's own honch
                env["PYTHONPATH"] = os.pathsep.join([str(wrapper)] + [p for p in [env.get("PYTHONPATH")] if p])
            self.link = SubprocessLink([sys.executable, "-u", str(AGENT_SOURCE), *self.spec.args],
                                       log=self.log, env=env, cwd=str(self._workdir()))
        elif kind == "unix":
            env = dict(os.environ, MICROPYPATH=":".join(self._micropython_path()))
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
        elif kind in ("serial", "labgrid"):
            url, baudrate = self.spec.port, self.spec.baudrate
            if kind == "labgrid":
                url, baudrate = self._acquire_place()
            try:
                self.link = SerialLink(url, baudrate=baudrate, log=self.log)
            except LinkError as exc:
                raise BoardUnreachable(f"board {self.name}: {exc} (log: {self.log.path})") from None
            if self._exit_agent(TAKEOVER_WAIT) == "exited":
                self.log.note("took over an agent left running by an earlier session")
            self._start_in_raw_repl(soft_reset=True)
        else:  # the inventory validated this
            raise self._error(f"unknown kind {kind!r}")
        if self.agent is None:
            self.agent = AgentClient(self.link, self.name, self.spec.op_timeout, self.tether)

    def _wrapper_dir(self) -> Path | None:
        from harness.sdk.wrappers import WrapperError, wrapper_dir

        try:
            return wrapper_dir(self.spec.wrapper, self.spec.base)
        except WrapperError as exc:
            raise self._error(f"wrapper: {exc}") from exc

    def _micropython_path(self) -> list[str]:
        """MICROPYPATH of a unix board: the chosen wrapper first, then what the firmware
        froze; a firmware the harness did not build gets the agent and the harness's
        socket transport from the checkout, after its own frozen modules."""
        path = []
        wrapper = self._wrapper_dir()
        if wrapper is not None:
            path.append(str(wrapper))
        path.append(".frozen")  # never the checkout's honch unless the board asks for it
        if not self.spec.firmware_is_ours:
            path += [str(AGENT_SOURCE.parent), str(ROOT / "usermod" / "honch")]
        return path

    def _acquire_place(self) -> tuple[str, int]:
        """Take the board's labgrid place (waiting up to acquire_timeout): its serial URL."""
        from harness.boards.labgrid import LabgridPlace, PlaceUnavailable

        self.place = LabgridPlace(self.spec, self.log)
        try:
            return self.place.acquire(), self.place.baudrate
        except PlaceUnavailable as exc:
            self.place = None
            raise BoardUnreachable(f"{exc} (log: {self.log.path})") from None

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
        """Stock firmware with ``_honch_core``: put the agent on the board's filesystem,
        and the board's wrapper (unless it is frozen) and the socket transport when the
        firmware cannot import its own."""
        from mpremote.transport import TransportError

        files = [(AGENT_SOURCE, "honch_agent.py")]
        wrapper = self._wrapper_dir()
        if wrapper is not None:
            files += [(p, f"honch/{p.name}") for p in sorted((wrapper / "honch").glob("*.py"))]
        transport_py = ROOT / "usermod" / "honch" / "honch_transport.py"
        if not self._board_imports(transport, "honch_transport"):
            files.append((transport_py, "honch_transport.py"))
        dest = "honch"
        try:
            if wrapper is not None and not transport.fs_exists("honch"):
                transport.fs_mkdir("honch")
            for source, dest in files:
                transport.fs_writefile(dest, source.read_bytes())
                self.log.note(f"copied {source} -> :{dest}")
        except (OSError, TransportError) as exc:
            raise self._error(f'agent = "copy": cannot write :{dest} on the board ({exc}); a board '
                              f'without a filesystem needs our firmware with the agent frozen '
                              f'(agent = "frozen", docs/firmware.md)') from exc

    @staticmethod
    def _board_imports(transport, module: str) -> bool:
        from mpremote.transport import TransportError

        try:
            transport.exec(f"import {module}")
            return True
        except TransportError:
            return False

    def _enable_tether(self) -> None:
        from harness.agent.tether import Tether

        self.tether = Tether(self.log)
        self.agent.tether = self.tether
        self.agent.call("tether", True, reply=self.spec.tether_reply)

    def _exit_agent(self, wait: float) -> str:
        """Send the agent its ``exit`` op and wait up to ``wait`` s for the REPL prompt.

        ``"exited"``: an agent answered and the prompt is back; ``"repl"``: no agent, a
        REPL prompt answered instead; ``"silent"``: neither (a raw REPL buffers the line
        silently and the next Ctrl-C discards it; a hung agent)."""
        seen = b""
        try:
            self.link.write(EXIT_REQUEST)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                seen += self.link.read(min(0.2, deadline - time.monotonic()))
                replied = [seen[at:] for at in map(seen.find, EXIT_REPLIES) if at >= 0]
                if replied:
                    if RAW_PROMPT in replied[0] or FRIENDLY_PROMPT in replied[0]:
                        return "exited"
                elif FRIENDLY_PROMPT in seen:
                    return "repl"
        except LinkError:
            return "silent"
        return "silent"

    def _end_agent(self) -> None:
        """End a running agent with its ``exit`` op (the REPL must be back), falling back
        to Ctrl-C for a hung one."""
        if self.agent is None or self.link is None:
            return
        self.agent = None
        outcome = self._exit_agent(self.spec.op_timeout)
        self.log.note(f"agent exit: {outcome}")
        if outcome != "exited":
            self._interrupt_and_collect()

    def stop(self) -> None:
        try:
            self._stop_link()
        finally:
            # its thread samples /proc 50 times a second: a stopped board must not keep it
            self.starvation.stop()
            if self.place is not None:
                self.place.release()
                self.place = None

    def _stop_link(self) -> None:
        if self.spec.kind in ("serial", "labgrid") and self.agent is not None:
            self._end_agent()  # the next session, ours or a person's, finds the REPL
            try:
                self.link.write(b"\r\x02")  # leave the raw REPL as mpremote does
            except LinkError:
                pass
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
            # the link can close just before the process's exit can be reaped; a pty whose
            # QEMU was killed may just fall silent (a timeout, not a closed link)
            if not isinstance(exc, BoardRebooted) and (self.lost or self.resource_gone(wait=0.5)):
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
        if self.spec.kind not in RAW_REPL_KINDS or self.link is None:
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
            self._end_agent()
            if method == "machine":
                self.link.write(b"\r\x02import machine\r\nmachine.reset()\r\n")
            elif method in ("dtr", "rts", "dtr+rts"):
                self.link.pulse(method)
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


__all__ = ["BoardDriver", "BoardError", "BoardMisconfigured", "BoardUnreachable", "QemuInstance", "AgentTimeout", "BoardGone"]
