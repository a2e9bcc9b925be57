"""Links through real exporters: Debian's ser2net on loopback exporting a pty pair the
test owns, as RFC 2217 (``rfc2217://``) and raw TCP (``socket://``)."""

from __future__ import annotations

import os
import pty
import threading
import tty

import pytest
import serial.rfc2217

from harness.boards.exporter import Export, Ser2net, free_port
from harness.boards.links import LinkError, SerialLink

STREAM = bytes(range(256)) * 256  # 64 KiB, every byte value


@pytest.fixture
def pty_pair():
    """(board end fd, host-side device path): the test plays the board on the master."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


@pytest.fixture
def exported(pty_pair):
    master, device = pty_pair
    with Ser2net(device) as exporter:
        yield master, exporter


def _read_fd(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        out += os.read(fd, n - len(out))
    return out


@pytest.mark.parametrize("protocol", ["rfc2217", "raw"])
def test_64_kib_each_way_through_the_exporter_without_reconfiguring_the_port(exported, protocol, monkeypatch):
    master, exporter = exported
    link = SerialLink(exporter.url(protocol))
    reconfigured = []
    original = type(link.serial)._reconfigure_port
    monkeypatch.setattr(type(link.serial), "_reconfigure_port",
                        lambda self, *a, **k: (reconfigured.append(1), original(self, *a, **k))[1])
    try:
        received = {}
        reader = threading.Thread(target=lambda: received.setdefault("board", _read_fd(master, len(STREAM))))
        reader.start()
        link.write(STREAM)
        reader.join(60)
        assert received.get("board") == STREAM, "host -> board: every byte, in order"

        writer = threading.Thread(target=os.write, args=(master, STREAM))
        writer.start()
        got = link.read_exactly(len(STREAM), timeout=60)
        writer.join(10)
        assert got == STREAM, "board -> host: every byte, in order"
        assert link.read(0.1) == b""
    finally:
        link.close()
    assert reconfigured == [], "reads must never renegotiate the port"


def test_rfc2217_on_a_pty_without_ign_set_control_says_to_add_it(exported):
    _, exporter = exported
    url = exporter.url("rfc2217").split("?")[0]
    with pytest.raises(LinkError) as caught:
        SerialLink(url)
    message = str(caught.value)
    assert url in message and f"{url}?ign_set_control" in message
    assert "\n" not in message


@pytest.mark.parametrize("scheme", ["rfc2217", "socket"])
def test_an_exporter_that_refuses_gives_one_line_with_the_url_and_what_to_check(scheme):
    url = f"{scheme}://127.0.0.1:{free_port()}"
    with pytest.raises(LinkError) as caught:
        SerialLink(url)
    message = str(caught.value)
    assert url in message and "exporter" in message and "\n" not in message


def test_a_port_that_does_not_exist_says_so():
    with pytest.raises(LinkError) as caught:
        SerialLink("/dev/ttyHONCH-missing")
    assert "/dev/ttyHONCH-missing" in str(caught.value) and "plugged in" in str(caught.value)


def test_ser2net_binds_loopback_only(pty_pair):
    _, device = pty_pair
    with Ser2net(device, [Export("raw", free_port())]) as exporter:
        port = exporter.exports[0].port
        listening = [line.split()[1] for line in open("/proc/net/tcp").read().splitlines()[1:]
                     if line.split()[3] == "0A"]
        assert f"0100007F:{port:04X}" in listening
        assert f"00000000:{port:04X}" not in listening
