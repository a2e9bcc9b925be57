"""``honch-hil serve --port`` takes a TCP port 0-65535 and says so otherwise."""

from __future__ import annotations

import pytest

from harness.cli import build_parser


@pytest.mark.parametrize("port", ["99999", "65536", "-5", "eighty"])
def test_serve_refuses_a_port_outside_0_to_65535(port, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["serve", "--port", port])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --port: {port!r} is not a TCP port" in err and "Traceback" not in err


@pytest.mark.parametrize("port", ["0", "1", "8080", "65535"])
def test_serve_takes_a_port_0_to_65535(port):
    assert build_parser().parse_args(["serve", "--port", port]).port == int(port)
