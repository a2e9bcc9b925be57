"""Links: one duplex byte stream to a board, every byte logged with a timestamp.

* ``SerialLink`` — pyserial ``serial_for_url`` (a local tty, ``rfc2217://``,
  ``socket://``), opened exclusively; raw-REPL entry and file copy go through
  mpremote's serial transport bound to the same open port.
* ``PtyLink`` — a ``SerialLink`` on a pseudo-terminal (QEMU's ``-serial pty``).
* ``SubprocessLink`` — a process's stdin/stdout (the unix firmware, the host agent).

A link only moves bytes; starting the agent, resets and health are the board
driver's job (``harness.boards.driver``).
"""

from __future__ import annotations

import io
import os
import queue
import select
import signal
import subprocess
import threading
import time
from pathlib import Path


class LinkError(Exception):
    """The link cannot be opened or has gone away."""


class ByteLog:
    """Timestamped log of the traffic on a link, re-pointable to one file per test.

    Lines read ``<seconds since open> <direction> <repr of the bytes>`` with ``>``
    for host-to-board and ``<`` for board-to-host; ``#`` lines are notes. Received
    bytes are logged line by line (a partial line when the host next writes, or
    at a note), so that registered secrets — project keys — can be replaced by
    ``<redacted>`` even when they arrive split across reads.
    """

    def __init__(self, path: Path | None = None):
        self._lock = threading.Lock()
        self._file = None
        self.path: Path | None = None
        self._t0 = time.monotonic()
        self._rx = b""
        self._rx_at = 0.0
        self._secrets: list[bytes] = []
        if path is not None:
            self.open(path)

    def redact(self, secret: str) -> None:
        """Never write ``secret`` to the log (e.g. a project key)."""
        encoded = secret.encode("utf-8")
        if encoded and encoded not in self._secrets:
            self._secrets.append(encoded)

    def open(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._flush_rx()
            if self._file is not None:
                self._file.close()
            self._file = open(path, "a", encoding="utf-8")
            self.path = path
            self._file.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')} log opened (t0 = {self._t0:.6f})\n")
            self._file.flush()

    def _line(self, mark: str, data: bytes, at: float | None = None) -> None:
        if self._file is None:
            return
        for secret in self._secrets:
            data = data.replace(secret, b"<redacted>")
        text = data.decode("utf-8", "replace") if mark == "#" else repr(data)
        when = (at if at is not None else time.monotonic()) - self._t0
        self._file.write(f"{when:12.6f} {mark} {text}\n")
        self._file.flush()

    def _flush_rx(self) -> None:
        if self._rx:
            data, self._rx = self._rx, b""
            self._line("<", data, self._rx_at)

    def tx(self, data: bytes) -> None:
        if data:
            with self._lock:
                self._flush_rx()
                self._line(">", bytes(data))

    def rx(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if not self._rx:
                self._rx_at = time.monotonic()  # a line is stamped with its first byte's arrival
            self._rx += bytes(data)
            while b"\n" in self._rx:
                line, self._rx = self._rx.split(b"\n", 1)
                self._line("<", line + b"\n", self._rx_at)
                self._rx_at = time.monotonic()

    def note(self, text: str) -> None:
        with self._lock:
            self._flush_rx()
            self._line("#", text.encode("utf-8"))

    def close(self) -> None:
        with self._lock:
            self._flush_rx()
            if self._file is not None:
                self._file.close()
                self._file = None


class Link:
    """A duplex byte stream. ``read`` returns what arrived within ``timeout`` seconds
    (``b""`` if nothing); it raises ``LinkError`` once the other end is gone."""

    kind = "abstract"

    def __init__(self, log: ByteLog | None = None):
        self.log = log if log is not None else ByteLog()

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, timeout: float) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind


class _LoggedSerial:
    """The port as mpremote sees it: every byte goes through the link (so it is logged
    and read without reconfiguring the port); ``read(n)`` blocks for ``n`` bytes up
    to a deadline (mpremote reads fixed-size answers such as ``b"OK"``)."""

    def __init__(self, link: "SerialLink", read_deadline: float = 10.0):
        self._link = link
        self.read_deadline = read_deadline

    def write(self, data):
        self._link.write(data)
        return len(data)

    def read(self, n=1):
        return self._link.read_exactly(n, self.read_deadline)

    def inWaiting(self):  # noqa: N802 - pyserial's legacy name, used by mpremote
        return self._link.in_waiting()

    @property
    def in_waiting(self):
        return self._link.in_waiting()

    def isOpen(self):  # noqa: N802
        return self._link.serial.is_open

    def close(self):
        self._link.close()

    def __getattr__(self, name):
        return getattr(self._link.serial, name)


#: the port's read timeout on transports that cannot be waited on with select()
#: (rfc2217://): set once at open, because pyserial's RFC 2217 client renegotiates
#: the whole port (baud, size, parity, stop bits: network round trips) on every
#: change of ``timeout``. It bounds how far a read may overshoot its deadline.
POLL_QUANTUM = 0.05
#: the most one read takes from the port
READ_CHUNK = 65536


def _open_hint(url: str, exc: Exception) -> str:
    """What to check when ``url`` does not open: the one line an operator needs."""
    text = str(exc)
    if "waiting for option" in text and url.startswith("rfc2217://"):
        sep = "&" if "?" in url else "?"
        return (f"{text}: the exporter did not answer the RFC 2217 control (DTR/RTS) "
                f"negotiation, as ser2net does for a pty or a port without modem lines; "
                f"add {sep}ign_set_control to the URL ({url}{sep}ign_set_control)")
    if "refused" in text.lower():
        return f"{text}: nothing listens there; is the exporter (ser2net, labgrid) running and is the port right?"
    if "timed out" in text.lower() or "timeout" in text.lower():
        return f"{text}: the exporter does not answer; check the host, the port and the firewall"
    if "://" not in url and ("No such file" in text or "could not open port" in text):
        return f"{text}: no such serial device; is the board plugged in (ls /dev/serial/by-id)?"
    if "busy" in text.lower() or "exclusive" in text.lower() or "lock" in text.lower():
        return f"{text}: another program holds the port (a terminal, another run)"
    return text


class SerialLink(Link):
    """pyserial ``serial_for_url``: ``/dev/ttyUSB0``, ``rfc2217://host:port``, ``socket://host:port``.

    The port is never reconfigured after opening. Where the port has a file
    descriptor (ttys, ptys, ``socket://``) its timeout is 0 and reads wait in
    ``select()``; elsewhere (``rfc2217://``) the timeout is ``POLL_QUANTUM`` and a
    read waits in ``read(1)``, then takes what is queued."""

    kind = "serial"

    def __init__(self, url: str, baudrate: int = 115200, log: ByteLog | None = None,
                 exclusive: bool = True):
        super().__init__(log)
        import serial

        self.url = url
        self.baudrate = baudrate
        self._pending = b""
        #: why the first read or write of the open port failed (its exporter closed the
        #: connection, the device vanished), or None
        self.failure: str | None = None
        kwargs = {"baudrate": baudrate, "timeout": POLL_QUANTUM, "do_not_open": True}
        if "://" not in url:
            kwargs["exclusive"] = exclusive  # a second opener fails instead of stealing bytes
        try:
            self.serial = serial.serial_for_url(url, **kwargs)
            self.serial.open()
        except (OSError, ValueError, serial.SerialException) as exc:
            raise LinkError(f"cannot open {url}: {_open_hint(url, exc)}") from exc
        self._fd = self._select_fd()
        if self._fd is not None:
            self.serial.timeout = 0  # once, before any read: reads never block, select() waits
        self.log.note(f"opened {self.kind} link {url} at {baudrate} baud")
        self._mp_serial = _LoggedSerial(self)

    def _failed(self, message: str) -> LinkError:
        self.failure = self.failure or message
        return LinkError(message)

    def _select_fd(self) -> int | None:
        try:
            return self.serial.fileno()
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None

    def write(self, data: bytes) -> None:
        self.log.tx(data)
        try:
            self.serial.write(data)
            self.serial.flush()
        except Exception as exc:
            raise self._failed(f"write to {self.url} failed: {exc}") from exc

    def _read_port(self, timeout: float) -> bytes:
        """What the port has within ``timeout`` (b"" if nothing), logged."""
        try:
            if self._fd is not None:
                ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
                data = self.serial.read(READ_CHUNK) if ready else b""  # pyserial raises at EOF
            else:
                data = b""
                end = time.monotonic() + max(0.0, timeout)
                while not data:
                    data = self.serial.read(1)
                    if data or time.monotonic() >= end:
                        break
                waiting = self.serial.in_waiting if data else 0
                if waiting:
                    data += self.serial.read(min(waiting, READ_CHUNK))
        except Exception as exc:
            raise self._failed(f"read from {self.url} failed: {exc}") from exc
        self.log.rx(data)
        return data

    def read(self, timeout: float) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self._read_port(timeout)

    def read_exactly(self, n: int, timeout: float) -> bytes:
        """``n`` bytes, or fewer when ``timeout`` passes first (mpremote's ``read(n)``)."""
        out = self._pending
        end = time.monotonic() + timeout
        while len(out) < n:
            left = end - time.monotonic()
            if left <= 0:
                break
            out += self._read_port(left)
        out, self._pending = out[:n], out[n:]
        return out

    def in_waiting(self) -> int:
        try:
            return len(self._pending) + self.serial.in_waiting
        except Exception as exc:
            raise self._failed(f"read from {self.url} failed: {exc}") from exc

    def mpremote(self):
        """mpremote's ``SerialTransport`` driving this open port (raw REPL, fs copy)."""
        from mpremote.transport_serial import SerialTransport

        transport = SerialTransport.__new__(SerialTransport)
        transport.in_raw_repl = False
        transport.use_raw_paste = True
        transport.device_name = self.url
        transport.mounted = False
        # poll in_waiting rather than block in read(1): works for ttys, ptys and sockets
        transport.is_pty = False
        transport.serial = self._mp_serial
        return transport

    def pulse(self, line: str, seconds: float = 0.1) -> None:
        """Reset through a control line: ``dtr``, ``rts`` or ``dtr+rts`` (ESP32-style)."""
        self.log.note(f"reset pulse on {line}")
        if line == "dtr":
            self.serial.dtr = False
            time.sleep(seconds)
            self.serial.dtr = True
        elif line == "rts":
            self.serial.rts = True
            time.sleep(seconds)
            self.serial.rts = False
        elif line == "dtr+rts":
            self.serial.dtr = False
            self.serial.rts = True
            time.sleep(seconds)
            self.serial.rts = False
        else:
            raise ValueError(f"unknown reset line {line!r} (dtr, rts or dtr+rts)")

    def close(self) -> None:
        try:
            self.serial.close()
        finally:
            self.log.note(f"closed {self.url}")

    def describe(self) -> str:
        return f"{self.kind} {self.url}"


class PtyLink(SerialLink):
    """A pseudo-terminal slave, e.g. the one QEMU creates for ``-serial pty``."""

    kind = "pty"


class SubprocessLink(Link):
    """A child process's stdin/stdout (stderr merged in). The process runs in its own
    process group and is killed with it on ``close()``."""

    kind = "subprocess"

    def __init__(self, argv: list[str], log: ByteLog | None = None, env: dict | None = None,
                 cwd: str | None = None):
        super().__init__(log)
        self.argv = [str(a) for a in argv]
        try:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True, bufsize=0)
        except OSError as exc:
            raise LinkError(f"cannot start {self.argv[0]}: {exc}") from exc
        self.log.note(f"started pid {self.process.pid}: {' '.join(self.argv)}")
        self._chunks: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, name=f"link-{self.process.pid}", daemon=True)
        self._reader.start()
        self._eof = False

    def _pump(self):
        fd = self.process.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            self._chunks.put(data)
            if not data:
                return

    def write(self, data: bytes) -> None:
        self.log.tx(data)
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise LinkError(f"{self.describe()} is gone ({self.exit_status()})") from exc

    def read(self, timeout: float) -> bytes:
        if self._eof:
            raise LinkError(f"{self.describe()} has exited ({self.exit_status()})")
        out = b""
        try:
            out = self._chunks.get(timeout=max(0.0, timeout))
            while out and not self._chunks.empty():
                more = self._chunks.get_nowait()
                if not more:
                    self._chunks.put(more)  # keep the EOF marker for the next read
                    break
                out += more
        except queue.Empty:
            return b""
        if not out:
            self._eof = True
            self.process.wait(timeout=5)
            self.log.note(f"process exited ({self.exit_status()})")
            raise LinkError(f"{self.describe()} has exited ({self.exit_status()})")
        self.log.rx(out)
        return out

    def exit_status(self) -> str:
        code = self.process.poll()
        if code is None:
            return "running"
        if code < 0:
            return f"killed by signal {-code}"
        return f"exit status {code}"

    def close(self) -> None:
        kill_process_group(self.process)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.log.note(f"stopped pid {self.process.pid} ({self.exit_status()})")

    def describe(self) -> str:
        return f"{self.kind} {Path(self.argv[0]).name} (pid {self.process.pid})"


def kill_process_group(process: subprocess.Popen, grace: float = 2.0) -> None:
    """Terminate a process started with ``start_new_session=True`` and its children."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=grace)
