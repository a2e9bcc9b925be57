"""boards.toml parsing: the shipped file is valid, and every mistake names the board and field."""

from __future__ import annotations

import pytest

from harness.boards.inventory import BoardsFileError, load_boards, parse_boards


def test_shipped_inventory_has_the_three_emulated_boards():
    boards = load_boards()
    assert {"host", "unix", "qemu-an385"} <= set(boards)
    assert boards["host"].port_kind == "subprocess" and "wall_clock" in boards["host"].tags and boards["host"].wrapper == "project"
    assert boards["unix"].firmware == "build"
    qemu = boards["qemu-an385"]
    assert (qemu.kind, qemu.network, qemu.reset, qemu.port_kind) == ("qemu", "tether", "qemu-restart", "pty")


def test_commented_real_board_examples_parse_when_uncommented():
    text = (load_boards.__globals__["DEFAULT_BOARDS_FILE"]).read_text()
    real = "\n".join(line[2:] if line.startswith("# ") and ("=" in line or line.startswith("# [")) else line
                     for line in text.splitlines() if not line.startswith("# ---"))
    boards = parse_boards(real)
    assert boards["desk-stm32"].port == "/dev/ttyUSB0" and boards["desk-stm32"].port_kind == "tty"
    assert boards["rack-pico"].port_kind == "rfc2217"
    esp = boards["esp32-wifi"]
    assert (esp.network, esp.agent, esp.reset) == ("wifi", "copy", "dtr+rts")
    assert esp.capture_endpoint("http://127.0.0.1:8123") == "http://192.168.1.20:8123"
    assert boards["wired-nrf"].network == "tether"
    assert (boards["lab-pico"].kind, boards["lab-pico"].place) == ("labgrid", "rack-2-pico")


@pytest.mark.parametrize("toml, message", [
    ('[boards.b]\nkind = "fpga"', "board 'b', field 'kind': 'fpga' is not one of host, unix, qemu, serial"),
    ('[boards.b]\nnetwork = "host"', "board 'b', field 'kind': is required"),
    ('[boards.b]\nkind = "serial"', "board 'b', field 'port': is required for a serial board"),
    ('[boards.b]\nkind = "host"\nport = "/dev/ttyUSB0"', "board 'b', field 'port': only serial boards have this field, not a host board"),
    ('[boards.b]\nkind = "serial"\nport = "/dev/x"\nbaudrate = "fast"', "board 'b', field 'baudrate': must be an integer, not str"),
    ('[boards.b]\nkind = "serial"\nport = "/dev/x"\nnetwork = "lte"', "board 'b', field 'network': 'lte' is not one of host, wifi, tether"),
    ('[boards.b]\nkind = "serial"\nport = "/dev/x"\nreset = "restart"', "board 'b', field 'reset': a serial board resets by"),
    ('[boards.b]\nkind = "unix"\nreset = "dtr"', "board 'b', field 'reset': a unix board resets by restart, not 'dtr'"),
    ('[boards.b]\nkind = "host"\nop_timeout = 0', "board 'b', field 'op_timeout': must be positive, got 0"),
    ('[boards.b]\nkind = "host"\ntags = ["ok", ""]', "board 'b', field 'tags': every tag must be a non-empty string"),
    ('[boards.b]\nkind = "host"\ncolour = "red"', "board 'b', field 'colour': unknown field"),
    ('[boards.b]\nkind = "host"\ncapture_url = "ftp://x"', "board 'b', field 'capture_url': 'ftp://x' is not an http(s) URL"),
    ('[boards.b]\nkind = "qemu"\nfirmware = "preinstalled"', "board 'b', field 'firmware': a qemu board needs a firmware image"),
    ('[boards.b]\nkind = "host"\nenabled = "yes"', "board 'b', field 'enabled': must be a boolean, not str"),
    ('[boards.b]\nkind = "serial"\nport = "/dev/x"\nagent = "flash"', "board 'b', field 'agent': 'flash' is not one of frozen, copy"),
    ('[boards]', "no boards"),
    ('[boardz.b]\nkind = "host"', "unknown top-level key(s) ['boardz']"),
    ('[defaults]\nkind = "host"\n[boards.b]\nkind = "host"', "[defaults], field 'kind'"),
    ('[boards.b\nkind = "host"', "not valid TOML"),
])
def test_mistakes_name_board_and_field(toml, message):
    with pytest.raises(BoardsFileError) as info:
        parse_boards(toml, "test.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("test.toml")


def test_defaults_apply_and_board_values_win():
    boards = parse_boards('[defaults]\nop_timeout = 3\n[boards.a]\nkind = "host"\n'
                          '[boards.b]\nkind = "host"\nop_timeout = 7\n')
    assert boards["a"].op_timeout == 3 and boards["b"].op_timeout == 7


def test_capture_endpoint_as_the_board_sees_it():
    boards = parse_boards('[boards.a]\nkind = "host"\n[boards.b]\nkind = "host"\ncapture_url = "http://10.0.0.5:9000/x"\n'
                          '[boards.c]\nkind = "host"\ncapture_host = "lab-pc:7000"\n')
    assert boards["a"].capture_endpoint("http://127.0.0.1:5000/p") == "http://127.0.0.1:5000/p"
    assert boards["b"].capture_endpoint("http://127.0.0.1:5000") == "http://10.0.0.5:9000/x"
    assert boards["c"].capture_endpoint("http://127.0.0.1:5000/p") == "http://lab-pc:7000/p"


def test_missing_file_is_named():
    with pytest.raises(BoardsFileError, match="cannot read the board inventory /nonexistent/boards.toml"):
        load_boards("/nonexistent/boards.toml")


def test_every_error_of_the_file_at_once_each_with_board_and_field():
    text = ('[boards.a]\nkind = "serial"\nport = "/dev/x"\nbaudrate = 0\nnetwrok = "tether"\n'
            '[boards.b]\nkind = "qemu"\nreset = "machine"\n'
            '[boards.c]\nkind = "labgrid"\nplace = "rack-1"\ncoordinator = "lab-coord"\n')
    with pytest.raises(BoardsFileError) as info:
        parse_boards(text, "lab.toml")
    errors = info.value.errors
    assert errors == str(info.value).splitlines()
    assert errors == [
        "lab.toml: board 'a', field 'baudrate': must be positive, got 0",
        "lab.toml: board 'a', field 'netwrok': unknown field (did you mean 'network'?)",
        "lab.toml: board 'b', field 'reset': a qemu board resets by qemu-restart or soft, not 'machine'",
        "lab.toml: board 'c', field 'coordinator': 'lab-coord' is not HOST:PORT (e.g. 127.0.0.1:20408)",
    ]


@pytest.mark.parametrize("kind, extra, reset, ok", [
    ("serial", 'port = "/dev/x"', "dtr+rts", True),
    ("serial", 'port = "socket://127.0.0.1:4000"\ntags = ["emulated"]', "machine", False),
    ("serial", 'port = "socket://127.0.0.1:4000"\ntags = ["emulated"]', "soft", True),
    ("labgrid", 'place = "p"', "machine", True),
    ("labgrid", 'place = "p"', "dtr", False),
    ("labgrid", 'place = "p"\ntags = ["emulated"]', "machine", False),
    ("host", "", "soft", False),
    ("qemu", "", "soft", True),
])
def test_reset_is_checked_against_the_kind(kind, extra, reset, ok):
    text = f'[boards.b]\nkind = "{kind}"\n{extra}\nreset = "{reset}"\n'
    if ok:
        assert parse_boards(text)["b"].reset == reset
    else:
        with pytest.raises(BoardsFileError, match="board 'b', field 'reset'"):
            parse_boards(text)


def test_labgrid_board_by_place_or_by_tags():
    boards = parse_boards('[defaults]\ncoordinator = "lab-coord:20408"\nacquire_timeout = 60\n'
                          '[boards.a]\nkind = "labgrid"\nplace = "rack-1"\n'
                          '[boards.b]\nkind = "labgrid"\nplace_tags = { board = "pico", rack = "2" }\n'
                          '[boards.h]\nkind = "host"\n')
    assert (boards["a"].place, boards["a"].coordinator, boards["a"].acquire_timeout) == ("rack-1", "lab-coord:20408", 60.0)
    assert boards["b"].place_tags == {"board": "pico", "rack": "2"} and boards["b"].reset == "soft"
    assert boards["a"].port_kind == "labgrid" and "rack-1" in boards["a"].where
    with pytest.raises(BoardsFileError, match="field 'place': a labgrid board names a place or place_tags"):
        parse_boards('[boards.a]\nkind = "labgrid"\n')
    with pytest.raises(BoardsFileError, match="field 'place_tags': 'rack' must map to a string"):
        parse_boards('[boards.a]\nkind = "labgrid"\nplace_tags = { rack = 2 }\n')
