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
    captured = capsys.readouterr()
    assert "unknown board(s) nope" in captured.err and captured.out == ""


def test_boards_command_probes_a_disabled_board_named_on_the_command_line(tmp_path, capsys):
    inventory = tmp_path / "boards.toml"
    inventory.write_text('[boards.off]\nkind = "host"\nenabled = false\n')
    assert main(["boards", "--boards-file", str(inventory), "--artifacts", str(tmp_path), "--board", "off"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "[disabled]" not in out


def test_boards_command_prints_every_inventory_error_to_stderr(tmp_path, capsys):
    inventory = tmp_path / "boards.toml"
    inventory.write_text('[boards.a]\nkind = "host"\nreset = "soft"\n[boards.b]\nkind = "serial"\nprot = "/dev/x"\n')
    assert main(["boards", "--boards-file", str(inventory)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert any("board 'a', field 'reset'" in line for line in lines)
    assert any("board 'b', field 'prot': unknown field (did you mean 'port'?)" in line for line in lines)
    assert any("board 'b', field 'port': is required" in line for line in lines)


def test_an_unreachable_exporter_is_one_line_naming_board_url_and_what_to_check(tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inventory = tmp_path / "boards.toml"
    inventory.write_text(f'[boards.rack]\nkind = "serial"\nport = "socket://127.0.0.1:{port}"\n'
                         '[boards.desk]\nkind = "serial"\nport = "/dev/ttyHONCH-none"\n'
                         '[boards.host]\nkind = "host"\n')
    assert main(["boards", "--boards-file", str(inventory), "--artifacts", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    rack = next(line for line in out if "FAIL" in line and f"127.0.0.1:{port}" in line)
    assert "board rack" in rack and "exporter" in rack
    desk = next(line for line in out if "FAIL" in line and "/dev/ttyHONCH-none" in line)
    assert "board desk" in desk and "plugged in" in desk
    assert any(line.strip().startswith("OK") for line in out), "the other boards are still probed"


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
