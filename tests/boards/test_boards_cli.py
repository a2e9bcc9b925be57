"""``honch-hil boards`` and the socket:// link."""

from __future__ import annotations

import socket
import threading

from harness.boards.links import ByteLog, SerialLink
from harness.cli import main

from harness import SDK_VERSION as VERSION


def test_boards_command_probes_and_reports(tmp_path, capsys):
    inventory = tmp_path / "boards.toml"
    inventory.write_text('[boards.host]\nkind = "host"\ntags = ["excepthook"]\n'
                         '[boards.broken]\nkind = "unix"\nfirmware = "no/such/micropython"\n'
                         '[boards.off]\nkind = "host"\nenabled = false\n')
    status = main(["boards", "--boards-file", str(inventory), "--artifacts", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1, "a failing probe makes the command fail"
    host, broken = out.split("broken", 1)
    assert "OK" in host and f"honch {VERSION}" in host and "cpython 3." in host
    assert "FAIL unreachable" in broken and "no/such/micropython does not exist" in broken
    assert "off" in out and "[disabled]" in out


def test_boards_command_lists_without_probing(tmp_path, capsys):
    assert main(["boards", "--no-probe"]) == 0
    out = capsys.readouterr().out
    for name in ("host", "unix", "qemu-an385"):
        assert name in out
    assert "OK" not in out and "FAIL" not in out


def test_boards_command_names_unknown_board(capsys):
    assert main(["boards", "--board", "nope"]) == 2
    assert "unknown board(s) nope" in capsys.readouterr().out


def test_socket_url_link_moves_and_logs_bytes(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo_once():
        conn, _ = server.accept()
        with conn:
            data = conn.recv(100)
            conn.sendall(data.upper())

    threading.Thread(target=echo_once, daemon=True).start()
    log = ByteLog(tmp_path / "socket.log")
    link = SerialLink(f"socket://127.0.0.1:{port}", log=log)
    try:
        link.write(b"hello\n")
        got = b""
        for _ in range(20):
            got += link.read(0.1)
            if got.endswith(b"\n"):
                break
    finally:
        link.close()
        server.close()
    log.close()
    assert got == b"HELLO\n"
    text = (tmp_path / "socket.log").read_text()
    assert "> b'hello\\n'" in text and "< b'HELLO\\n'" in text
