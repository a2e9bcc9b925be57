"""Boards on a shared labgrid rack: acquire the board's place, find its serial port, release.

labgrid's Python package depends on ``pyserial-labgrid``, a fork that installs over
pyserial's ``serial`` module; the harness keeps stock pyserial in its own venv and
drives labgrid only through its ``labgrid-client`` command (by default the one in
``build/labgrid/``, made by ``make labgrid``; ``HONCH_HIL_LABGRID_CLIENT`` names
another). The place's ``NetworkSerialPort`` (host, port, protocol) becomes an
``rfc2217://`` or ``socket://`` URL for an ordinary ``SerialLink``.

A place is released on every exit path: ``release()`` is idempotent and runs from
the driver's ``stop()``, at interpreter exit, and on SIGTERM.
"""

from __future__ import annotations

import ast
import atexit
import getpass
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from harness.boards.inventory import ROOT, BoardSpec
from harness.boards.links import ByteLog

CLIENT_ENV = "HONCH_HIL_LABGRID_CLIENT"
DEFAULT_CLIENT = ROOT / "build" / "labgrid" / "bin" / "labgrid-client"
#: seconds between attempts on a place someone else holds
RETRY_INTERVAL = 1.0
#: seconds for the exporter to start serving the port once the place is ours
PORT_WAIT = 15.0
COMMAND_TIMEOUT = 60.0
_SCHEMES = {"rfc2217": "rfc2217://{host}:{port}?ign_set_control", "raw": "socket://{host}:{port}"}


class PlaceUnavailable(Exception):
    """The place cannot be had: held past the wait, missing, or the coordinator is down.
    The message is one line naming the board, the place and what to check."""


def labgrid_client() -> str:
    given = os.environ.get(CLIENT_ENV)
    if given:
        return given
    if DEFAULT_CLIENT.exists():
        return str(DEFAULT_CLIENT)
    found = shutil.which("labgrid-client")
    if found is None:
        raise PlaceUnavailable(f"labgrid-client not found: run `make labgrid` (labgrid in its own venv "
                               f"under build/labgrid) or set {CLIENT_ENV}")
    return found


#: every place this process holds, released at exit and on SIGTERM
_HELD: "set[LabgridPlace]" = set()
_HELD_LOCK = threading.Lock()


@atexit.register
def release_all() -> None:
    with _HELD_LOCK:
        held = list(_HELD)
    for place in held:
        place.release()


def _on_sigterm(signum, frame) -> None:
    release_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _release_on_sigterm() -> None:
    """Release held places on SIGTERM too, where nobody else handles it (the default
    action would end the process without atexit)."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def port_url(params: dict) -> str:
    """The pyserial URL of a NetworkSerialPort. labgrid's exporter runs ser2net with modem
    lines ignored, which never answers RFC 2217's control negotiation on a pty."""
    protocol = params.get("protocol", "rfc2217")
    if protocol not in _SCHEMES:
        raise ValueError(f"NetworkSerialPort protocol {protocol!r} (known: {', '.join(_SCHEMES)})")
    return _SCHEMES[protocol].format(host=params["host"], port=params["port"])


def serial_ports(show_output: str) -> list[dict]:
    """The acquired NetworkSerialPort resources in ``labgrid-client show`` output."""
    ports = []
    for block in re.split(r"^Acquired resource .*:$", show_output, flags=re.M)[1:]:
        text = "\n".join(line for line in block.splitlines() if line.startswith("  "))
        try:
            resource = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            continue
        if isinstance(resource, dict) and resource.get("cls") == "NetworkSerialPort":
            ports.append(resource)
    return ports


class LabgridPlace:
    """The labgrid place of one board (``kind = "labgrid"``), by name or by a reservation
    matching ``place_tags``."""

    def __init__(self, spec: BoardSpec, log: ByteLog | None = None):
        self.spec = spec
        self.log = log if log is not None else ByteLog()
        self.token: str | None = None
        self.held = False
        self.baudrate = spec.baudrate
        identity = os.environ.get("LG_USERNAME") or f"{getpass.getuser()}-honch-hil-{os.getpid()}"
        self._env = dict(os.environ, LG_USERNAME=identity)

    @property
    def target(self) -> str:
        return f"+{self.token}" if self.token else self.spec.place

    def describe(self) -> str:
        what = f"place {self.spec.place}" if self.spec.place else \
            "a place tagged " + ",".join(f"{k}={v}" for k, v in self.spec.place_tags.items())
        return f"labgrid {what} on coordinator {self.spec.coordinator}"

    def _unavailable(self, problem: str, check: str) -> PlaceUnavailable:
        return PlaceUnavailable(f"board {self.spec.name}: {self.describe()}: {problem}; {check}")

    def _client(self, *args: str, timeout: float = COMMAND_TIMEOUT, place: bool = True):
        argv = [labgrid_client(), "-x", self.spec.coordinator]
        if place:
            argv += ["-p", self.target]
        argv += list(args)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self._env,
                                  stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise self._unavailable(f"cannot run {argv[0]} ({exc})", f"run `make labgrid` or set {CLIENT_ENV}") from None
        self.log.note(f"labgrid-client {' '.join(args)}: exit {done.returncode} {done.stderr.strip()[-300:]}")
        return done

    def _diagnose(self, done) -> PlaceUnavailable | None:
        """The error for a failed command, or None when the place is merely held."""
        text = (done.stderr + done.stdout).strip()
        last = text.splitlines()[-1] if text else f"exit status {done.returncode}"
        if "already acquired" in text:
            return None
        if "coordinator" in text.lower() and ("unavailable" in text or "connect" in text.lower()):
            return self._unavailable("the coordinator does not answer",
                                     f"is labgrid-coordinator running at {self.spec.coordinator}?")
        if "matches nothing" in text or "not found" in text:
            return self._unavailable("no such place",
                                     f"check `labgrid-client -x {self.spec.coordinator} places`")
        return self._unavailable(f"labgrid-client failed: {last}", "see the board log")

    def acquire(self) -> str:
        """Wait up to ``acquire_timeout`` for the place, take it, and return its serial URL."""
        _release_on_sigterm()
        deadline = time.monotonic() + self.spec.acquire_timeout
        if self.spec.place_tags:
            self._reserve(deadline)
        holder = None
        while True:
            done = self._client("acquire")
            if done.returncode == 0:
                break
            problem = self._diagnose(done)
            if problem is not None:
                self._cancel_reservation()
                raise problem
            holder = _holder(done.stderr) or holder
            if time.monotonic() + RETRY_INTERVAL > deadline:
                self._cancel_reservation()
                raise self._unavailable(f"held by {holder or 'someone else'} for more than "
                                        f"{self.spec.acquire_timeout:g} s",
                                        "raise acquire_timeout or ask the holder to release it")
            time.sleep(RETRY_INTERVAL)
        self.held = True
        with _HELD_LOCK:
            _HELD.add(self)
        self.log.note(f"acquired {self.describe()}" + (f" after waiting for {holder}" if holder else ""))
        try:
            return self._serial_url()
        except BaseException:
            self.release()
            raise

    def _reserve(self, deadline: float) -> None:
        filters = [f"{k}={v}" for k, v in self.spec.place_tags.items()]
        done = self._client("reserve", "--shell", *filters, place=False)
        match = re.search(r"LG_TOKEN=(\S+)", done.stdout)
        if done.returncode != 0 or match is None:
            raise self._diagnose(done) or self._unavailable("the reservation failed", "see the board log")
        self.token = match.group(1)
        try:
            waited = self._client("wait", self.token, place=False,
                                  timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._cancel_reservation()
            raise self._unavailable(f"no matching place free within {self.spec.acquire_timeout:g} s",
                                    "raise acquire_timeout or check the places' tags") from None
        if waited.returncode != 0:
            self._cancel_reservation()
            raise self._diagnose(waited) or self._unavailable("the reservation failed", "see the board log")

    def _cancel_reservation(self) -> None:
        if self.token is not None:
            self._client("cancel-reservation", self.token, place=False)
            self.token = None

    def _serial_url(self) -> str:
        """The place's NetworkSerialPort, once its exporter serves it."""
        deadline = time.monotonic() + PORT_WAIT
        while True:
            done = self._client("show")
            ports = [p for p in serial_ports(done.stdout)
                     if p.get("avail") and p.get("params", {}).get("port")]
            if ports:
                params = ports[0]["params"]
                self.baudrate = params.get("speed", self.baudrate)
                url = port_url(params)
                self.log.note(f"{self.describe()}: serial port {url}")
                return url
            if time.monotonic() > deadline:
                raise self._unavailable("the place has no available NetworkSerialPort",
                                        "check the exporter and the place's matches "
                                        f"(`labgrid-client -p {self.target} show`)")
            time.sleep(0.5)

    def release(self) -> None:
        """Give the place back (idempotent; safe from atexit and signal handlers)."""
        with _HELD_LOCK:
            if not self.held:
                return
            self.held = False
            _HELD.discard(self)
        try:
            self._client("release", timeout=30)
        except subprocess.TimeoutExpired:
            self.log.note(f"releasing {self.describe()} timed out")
        self._cancel_reservation()


def _holder(stderr: str) -> str | None:
    match = re.search(r"already acquired by (\S+?)\.?\s", stderr + " ")
    return match.group(1) if match else None


__all__ = ["LabgridPlace", "PlaceUnavailable", "labgrid_client", "port_url", "serial_ports"]
