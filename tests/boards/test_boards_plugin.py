"""The pytest plugin, exercised by running pytest in a subprocess on small test files:
board selection, xdist grouping and cross-process locks, requires_tags, health
skipping, JUnit properties and failure messages. The boards are ``host`` boards
(CPython agents), which need no firmware."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from harness.boards.inventory import load_boards
from harness.boards.pool import BoardPool

BOARDS = """
[boards.host-a]
kind = "host"
tags = ["battery"]
op_timeout = 5

[boards.host-b]
kind = "host"
op_timeout = 5
"""


def run_pytest(tmp_path, test_source: str, *args: str, env: dict | None = None):
    (tmp_path / "boards.toml").write_text(BOARDS)
    (tmp_path / "test_generated.py").write_text(textwrap.dedent(test_source))
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--boards-file",
            str(tmp_path / "boards.toml"), "--artifacts", str(tmp_path / "artifacts"),
            "-o", "markers=requires_tags(*tags): needs board tags", str(tmp_path / "test_generated.py"),
            *args]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, **(env or {})))


USAGE_RECORDER = """
    import json, os, time
    import pytest

    @pytest.mark.parametrize("n", range(6))
    def test_use(board, n):
        began = time.time()
        assert board.call("ping") is None
        time.sleep(0.05)
        with open(os.environ["USAGE_LOG"], "a") as log:
            log.write(json.dumps({"board": board.name, "worker": os.environ.get("PYTEST_XDIST_WORKER"),
                                  "pid": os.getpid(), "began": began, "ended": time.time()}) + "\\n")
"""


def test_two_xdist_workers_never_share_a_board(tmp_path):
    usage = tmp_path / "usage.jsonl"
    result = run_pytest(tmp_path, USAGE_RECORDER, "-n", "2", env={"USAGE_LOG": str(usage)})
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(line) for line in usage.read_text().splitlines()]
    assert len(records) == 12
    workers_by_board = {}
    for record in records:
        workers_by_board.setdefault(record["board"], set()).add(record["worker"])
    assert set(workers_by_board) == {"host-a", "host-b"}
    for board, workers in workers_by_board.items():
        assert len(workers) == 1, f"{board} was driven by workers {workers}"
    assert workers_by_board["host-a"] != workers_by_board["host-b"], "two boards run in parallel"


def test_a_board_held_by_another_process_is_not_shared(tmp_path):
    spec = load_boards_from(tmp_path)["host-a"]
    holder = BoardPool(tmp_path / "artifacts", lock_dir=tmp_path / "artifacts" / "locks", worker="holder")
    holder.lock(spec)
    try:
        result = run_pytest(tmp_path, """
            def test_use(board):
                board.call("ping")
        """, "--board", "host-a", "-rs", env={"HONCH_HIL_LOCK_TIMEOUT": "1"})
    finally:
        holder.close()
    assert "1 skipped" in result.stdout, result.stdout
    assert "board host-a is held by another process" in result.stdout
    assert '"worker": "holder"' in result.stdout


def load_boards_from(tmp_path):
    (tmp_path / "boards.toml").write_text(BOARDS)
    return load_boards(tmp_path / "boards.toml")


def test_board_option_selects_and_requires_tags_skips(tmp_path):
    result = run_pytest(tmp_path, """
        import pytest

        def test_any(board):
            assert board.call("ping") is None

        @pytest.mark.requires_tags("battery")
        def test_hook(board):
            assert board.name == "host-a"
    """, "-v", "-rs")
    assert result.returncode == 0, result.stdout
    assert "test_any[host-a] PASSED" in result.stdout and "test_any[host-b] PASSED" in result.stdout
    assert "test_hook[host-a] PASSED" in result.stdout
    assert "board host-b lacks tag(s) battery" in result.stdout

    only_b = run_pytest(tmp_path, "def test_any(board):\n    pass\n", "--board", "host-b", "-v")
    assert "test_any[host-b] PASSED" in only_b.stdout and "host-a" not in only_b.stdout

    unknown = run_pytest(tmp_path, "def test_any(board):\n    pass\n", "--board", "nope")
    assert unknown.returncode == 4
    assert "--board nope: not in the inventory" in unknown.stderr


def test_hung_board_fails_twice_then_is_skipped_with_reason(tmp_path):
    result = run_pytest(tmp_path, """
        def test_1_hangs(board):
            board.call("sleep", 60000, timeout=0.5)

        def test_2_hangs(board):
            board.call("sleep", 60000, timeout=0.5)

        def test_3_after(board):
            board.call("ping")
    """, "--board", "host-a", "-rfs", "--junitxml", str(tmp_path / "junit.xml"))
    out = result.stdout
    assert "2 failed, 1 skipped" in out, out
    assert "no reply to sleep() within 0.5 s" in out
    assert "board host-a failed its health checks 2 times and is skipped for the rest of the run" in out

    suite = ET.parse(tmp_path / "junit.xml").getroot()
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases["test_1_hangs[host-a]"].find("failure")
    assert failure.get("message").startswith("[board host-a, log ")
    log_path = failure.get("message").split(", log ", 1)[1].split("]", 1)[0]
    assert os.path.isfile(log_path) and "test_1_hangs" in log_path
    props = {p.get("name"): p.get("value") for p in cases["test_1_hangs[host-a]"].iter("property")}
    assert props["board"] == "host-a" and props["port_kind"] == "subprocess"
    assert props["firmware_version"].startswith("cpython 3.")


def test_no_board_process_outlives_the_run(tmp_path):
    pids = tmp_path / "pids"
    result = run_pytest(tmp_path, """
        import os
        def test_pid(board):
            with open(os.environ["PIDS"], "a") as f:
                f.write(str(board.link.process.pid) + "\\n")
    """, env={"PIDS": str(pids)})
    assert result.returncode == 0, result.stdout
    for pid in map(int, pids.read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
