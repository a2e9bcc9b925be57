"""An ad hoc ``--port`` is checked like a boards.toml ``port``: the same rules, one place."""

from __future__ import annotations

import pytest

from harness.runner.adhoc import AdhocBoardError, port_board


@pytest.mark.parametrize("url", ["rfc2217://lab-3:4001", "socket://127.0.0.1:5000", "/dev/ttyUSB0", "loop://"])
def test_usable_ports_make_a_serial_board(url):
    board = port_board(url)
    assert board.kind == "serial" and board.port == url


@pytest.mark.parametrize("url, says", [
    ("rfc2217://localhost:notaport", "is not rfc2217://HOST:PORT with a port 1-65535"),
    ("socket://:4001", "is not socket://HOST:PORT"),
    ("socket://lab:70000", "with a port 1-65535"),
    ("ftp://lab:21", "unknown scheme 'ftp'"),
    ("ttyUSB0", "not a tty path"),
])
def test_unusable_ports_are_named_with_what_is_wrong(url, says):
    with pytest.raises(AdhocBoardError, match="--port " + url.replace("?", "\\?")) as info:
        port_board(url)
    assert says in str(info.value)
