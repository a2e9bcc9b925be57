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


def test_fields_a_board_would_ignore_are_refused():
    errors = _errors('[boards.h]\nkind = "host"\nwrapper = "project"\nfirmware = "/x"\ntether_reply = "status"\n')
    assert any(e.startswith("lab.toml: board 'h', field 'firmware': only ") and "not a host board" in e
               for e in errors), errors
    assert any(e.startswith("lab.toml: board 'h', field 'tether_reply': ") and "'host'" in e for e in errors), errors
    assert parse_boards('[boards.t]\nkind = "host"\nwrapper = "project"\nnetwork = "tether"\n'
                        'tether_reply = "status"\n')["t"].tether_reply == "status"


def _board_file(directory, body: str):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "my-boards.toml"
    path.write_text(body)
    return path


def test_relative_firmware_and_wrapper_paths_start_at_the_boards_file(tmp_path):
    from harness.boards.driver import BoardDriver
    from harness.boards.inventory import load_boards, path_problems

    lab = tmp_path / "lab"
    firmware = lab / "fw" / "micropython"
    firmware.parent.mkdir(parents=True)
    firmware.write_text("#!/bin/sh\n")
    firmware.chmod(0o755)
    (lab / "mine" / "honch").mkdir(parents=True)
    (lab / "mine" / "honch" / "__init__.py").write_text("")
    path = _board_file(lab, '[boards.u]\nkind = "unix"\nfirmware = "fw/micropython"\nwrapper = "mine"\n')
    spec = load_boards(path)["u"]
    assert path_problems(spec, str(path)) == []
    driver = BoardDriver(spec, tmp_path / "artifacts")
    assert driver.firmware_path() == firmware
    assert driver._wrapper_dir() == lab / "mine"


def test_missing_paths_of_a_selected_board_are_usage_errors_naming_file_board_and_field(tmp_path, capsys):
    path = _board_file(tmp_path, '[boards.u]\nkind = "unix"\nfirmware = "fw/micropython"\nwrapper = "mine"\n\n'
                                 '[boards.elsewhere]\nkind = "unix"\nfirmware = "/on/another/host/micropython"\n')
    code = main(["run", "--boards-file", str(path), "--board", "u", "--reports", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}: board 'u', field 'firmware': {tmp_path / 'fw' / 'micropython'} is not a file" in err, err
    assert f"{path}: board 'u', field 'wrapper': {tmp_path / 'mine'} holds no honch/__init__.py" in err, err
    assert "elsewhere" not in err  # a board the run does not select is not checked
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


@pytest.mark.parametrize("kind, extra", [("unix", ""), ("qemu", ""), ("serial", 'port = "/dev/ttyUSB0"\n'),
                                         ("labgrid", 'place = "p"\n')])
def test_a_micropython_board_has_the_micropython_tag_without_declaring_it(kind, extra):
    """Else the MicroPython-only tests (the 10 s transport clamp, C44) would be skipped
    silently on a port whose author left the tag out."""
    spec = parse_boards(f'[boards.b]\nkind = "{kind}"\n{extra}tags = ["real"]\n')["b"]
    assert "micropython" in spec.tags and "real" in spec.tags


def test_a_host_board_tagged_micropython_is_refused():
    [error] = _errors('[boards.h]\nkind = "host"\nwrapper = "project"\ntags = ["micropython"]\n')
    assert error.startswith("lab.toml: board 'h', field 'tags': a host board runs CPython"), error
