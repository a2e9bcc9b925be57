"""Values that used to fail only when the board started are refused when the file is read."""

from __future__ import annotations

import pytest

from harness.boards.inventory import BoardsFileError, parse_boards
from harness.boards.qemu import MACHINES
from harness.cli import main


def _errors(text: str, where: str = "lab.toml") -> list[str]:
    with pytest.raises(BoardsFileError) as info:
        parse_boards(text, where)
    return info.value.errors


def test_every_known_qemu_machine_is_accepted():
    for name in MACHINES:
        assert parse_boards(f'[boards.q]\nkind = "qemu"\nmachine = "{name}"\n')["q"].machine == name


def test_an_unknown_qemu_machine_is_refused_naming_file_board_field_and_the_known_ones():
    [error] = _errors('[boards.x]\nkind = "qemu"\nmachine = "pdp11"\n')
    assert error.startswith("lab.toml: board 'x', field 'machine': 'pdp11' is not a QEMU machine the harness knows")
    assert all(name in error for name in MACHINES)


def test_a_misspelt_qemu_machine_gets_a_suggestion():
    [error] = _errors('[boards.x]\nkind = "qemu"\nmachine = "mps2-an358"\n')
    assert "did you mean 'mps2-an385'?" in error


@pytest.mark.parametrize("port", [
    "/dev/ttyUSB0", "/dev/no/such/tty",  # local paths: existence is checked at probe time
    "rfc2217://lab-3:4001", "rfc2217://lab-3:4001?ign_set_control", "socket://127.0.0.1:1",
    "socket://[::1]:65535", "loop://",
])
def test_serial_ports_accepted_when_the_file_is_read(port):
    assert parse_boards(f'[boards.s]\nkind = "serial"\nport = "{port}"\n')["s"].port == port


@pytest.mark.parametrize("port", [
    "rfc2217://localhost:notaport", "rfc2217://localhost", "socket://:4000", "socket://lab:0",
    "socket://lab:65536", "socket://lab:-5", "socket://lab:+80", "rfc2217://lab:",
])
def test_network_serial_ports_need_a_host_and_a_port_1_to_65535(port):
    [error] = _errors(f'[boards.s]\nkind = "serial"\nport = "{port}"\n')
    scheme = port.split("://")[0]
    assert error == (f"lab.toml: board 's', field 'port': {port!r} is not {scheme}://HOST:PORT "
                     f"with a port 1-65535 (e.g. {scheme}://lab-3:4001)")


@pytest.mark.parametrize("body", ['kind = "qemu"\nmachine = "pdp11"\n',
                                  'kind = "serial"\nport = "rfc2217://localhost:notaport"\n'])
def test_boards_no_probe_refuses_them(tmp_path, capsys, body):
    inventory = tmp_path / "boards.toml"
    inventory.write_text("[boards.x]\n" + body)
    assert main(["boards", "--no-probe", "--boards-file", str(inventory)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and f"error: {inventory}: board 'x', field " in captured.err
