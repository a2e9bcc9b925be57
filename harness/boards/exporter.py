"""A serial device exported on the network by Debian's ``ser2net`` (4.x), as a lab host does.

``Ser2net(device, exports)`` runs one ser2net process exporting ``device`` (a tty or a
pty) on loopback TCP ports, each as RFC 2217 (``rfc2217://``) or raw TCP
(``socket://``). ``ExportedQemu`` boots the emulated board and exports its console
pty that way: the harness then drives it exactly like a board in a rack. Both are
context managers; the process group is killed on exit, whatever happened.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.boards.links import ByteLog, kill_process_group

SER2NET_PACKAGE = "ser2net"
#: URL scheme of each export protocol; RFC 2217 on a pty needs ``ign_set_control``
#: (ser2net cannot set modem lines on a pty and never answers that negotiation)
URL_SCHEMES = {"rfc2217": "rfc2217://{host}:{port}?ign_set_control", "raw": "socket://{host}:{port}"}
_ACCEPTERS = {"rfc2217": "telnet(rfc2217),tcp", "raw": "tcp"}


class ExporterError(Exception):
    """ser2net is missing or did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Export:
    protocol: str  # "rfc2217" or "raw"
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return URL_SCHEMES[self.protocol].format(host=self.host, port=self.port)


def ser2net_config(device: str, exports: list[Export], baudrate: int = 115200) -> str:
    """ser2net 4 YAML: one connection per export, modem lines ignored (``local``),
    no uucp lock (the harness locks boards itself), a new client replaces an old one."""
    blocks = []
    for export in exports:
        blocks.append(
            f"connection: &{export.protocol}{export.port}\n"
            f"  accepter: {_ACCEPTERS[export.protocol]},{export.host},{export.port}\n"
            f"  connector: serialdev(nouucplock=true),{device},{baudrate}n81,local\n"
            f"  options:\n"
            f"    kickolduser: true\n")
    return "\n".join(blocks)


class Ser2net:
    """One ser2net process exporting ``device``; ``exports`` default to one RFC 2217 and
    one raw TCP port on free loopback ports."""

    def __init__(self, device: str, exports: list[Export] | None = None, baudrate: int = 115200,
                 log: ByteLog | None = None):
        self.device = device
        self.exports = exports if exports is not None else [Export("rfc2217", free_port()),
                                                            Export("raw", free_port())]
        self.baudrate = baudrate
        self.log = log if log is not None else ByteLog()
        self.process: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None

    def url(self, protocol: str) -> str:
        return next(e.url for e in self.exports if e.protocol == protocol)

    def start(self, timeout: float = 10.0) -> "Ser2net":
        binary = shutil.which("ser2net") or ("/usr/sbin/ser2net" if Path("/usr/sbin/ser2net").exists() else None)
        if binary is None:
            raise ExporterError(f"ser2net is not installed (Debian package {SER2NET_PACKAGE})")
        self._dir = tempfile.TemporaryDirectory(prefix="honch-ser2net-")
        config = Path(self._dir.name) / "ser2net.yaml"
        config.write_text(ser2net_config(self.device, self.exports, self.baudrate))
        # -n: stay in the foreground, -d: no syslog (messages to stdout), -u: no uucp locks,
        # -P: our own pid file, so that several exports never share /run/ser2net.pid
        argv = [binary, "-n", "-d", "-u", "-P", str(config.with_suffix(".pid")), "-c", str(config)]
        self.process = subprocess.Popen(argv,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.log.note(f"started ser2net pid {self.process.pid} exporting {self.device}: "
                      + ", ".join(e.url for e in self.exports))
        try:
            self._wait_listening(timeout)
        except ExporterError:
            self.stop()
            raise
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for export in self.exports:
            while True:
                if self.process.poll() is not None:
                    output = self.process.stdout.read().decode("utf-8", "replace").strip()
                    raise ExporterError(f"ser2net exited ({self.process.returncode}): {output}")
                # a listening socket is enough; connecting would open the device
                if listening(export.host, export.port):
                    break
                if time.monotonic() > deadline:
                    raise ExporterError(f"ser2net did not listen on {export.host}:{export.port} "
                                        f"within {timeout:g} s")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            kill_process_group(self.process)
            self.process.stdout.close()
            self.log.note(f"stopped ser2net pid {self.process.pid}")
            self.process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> "Ser2net":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def listening(host: str, port: int) -> bool:
    """Whether a TCP socket listens on IPv4 ``host:port``, also as an IPv4-mapped IPv6
    socket (gRPC's), read from /proc without connecting."""
    v4 = socket.inet_aton(socket.gethostbyname(host))[::-1].hex().upper()
    wanted = {f"{v4}:{port:04X}", f"0000000000000000FFFF0000{v4}:{port:04X}"}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1] in wanted and fields[3] == "0A":  # 0A: LISTEN
                    return True
    return False


class ExportedQemu:
    """The emulated board (``QemuInstance``) with its console pty exported by ser2net."""

    def __init__(self, firmware: Path, machine: str, log: ByteLog | None = None,
                 exports: list[Export] | None = None):
        from harness.boards.qemu import QemuInstance

        self.log = log if log is not None else ByteLog()
        self.qemu = QemuInstance(firmware, machine, self.log)
        self._exports = exports
        self.ser2net: Ser2net | None = None

    def start(self) -> "ExportedQemu":
        pty = self.qemu.start()
        try:
            self.ser2net = Ser2net(pty, self._exports, log=self.log).start()
        except BaseException:
            self.qemu.stop()
            raise
        return self

    def url(self, protocol: str) -> str:
        return self.ser2net.url(protocol)

    def stop(self) -> None:
        if self.ser2net is not None:
            self.ser2net.stop()
            self.ser2net = None
        self.qemu.stop()

    def __enter__(self) -> "ExportedQemu":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
