"""Options `honch-hil run` can judge before it reads a board: a clear usage error, no run."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.runner.cli import unique


@pytest.mark.parametrize("argv, expected", [
    (["--workers", "0"], "--workers must be ≥ 1, got 0"),
    (["--workers", "-3"], "--workers must be ≥ 1, got -3"),
    (["--capture-url", "notaurl"], "--capture-url 'notaurl': expected the server's base URL"),
    (["--capture-url", "ftp://lab:8080"], "--capture-url 'ftp://lab:8080': expected"),
    (["--capture-url", "http://"], "--capture-url 'http://': expected"),
    (["--capture-url", "http://lab:port"], "--capture-url 'http://lab:port': the port is not a number"),
])
def test_a_bad_option_is_a_usage_error_before_anything_runs(tmp_path, capsys, argv, expected):
    reports = tmp_path / "reports"
    assert main(["run", "--board", "host", "--reports", str(reports), *argv]) == 2
    assert expected in capsys.readouterr().err
    assert not reports.exists()


def test_a_board_given_twice_runs_once_in_the_order_given():
    assert unique(["host", "unix", "host", "qemu-an385", "unix"]) == ["host", "unix", "qemu-an385"]


def test_when_nothing_ran_the_terminal_says_why(tmp_path):
    from harness.runner.run import PYTEST_NO_TESTS, RunOptions, why_nothing_ran
    log = tmp_path / "pytest.log"
    log.write_text("collected 0 items / 194 deselected\n"
                   "! _pytest.outcomes.Exit: --capture-url http://lab:1: the capture server's control API is "
                   "not usable (token tok-secret-123 refused) !\n")
    opts = RunOptions(keyword="zzz", tests=["conformance/test_api.py::test_x"], capture_token="tok-secret-123")
    lines = why_nothing_ran(opts, PYTEST_NO_TESTS, log)
    assert lines[0] == "  no test matched the selection (-k 'zzz', --test conformance/test_api.py::test_x)"
    assert lines[1].startswith("  pytest: _pytest.outcomes.Exit: --capture-url http://lab:1: the capture server")
    assert "tok-secret-123" not in "\n".join(lines) and "<redacted>" in lines[1]
    assert why_nothing_ran(RunOptions(), 0, tmp_path / "missing.log") == []
