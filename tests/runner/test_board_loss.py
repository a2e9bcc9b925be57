"""A board lost mid-run (its QEMU killed): one board-lost error, "not run" for the rest of its
tests, the other board unaffected, and an exit status that says infrastructure, not port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from harness import REPO_ROOT
from harness.runner import exitcodes, processes
from runs import honch_hil_argv, run_env, summary_of

QEMU = "qemu-system-arm"


def _comm(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return ""


def _qemus_under(pid: int) -> set[int]:
    return {p for p in processes.descendants(pid) if _comm(p) == QEMU}


def _records(reports) -> list[dict]:
    return [json.loads(line) for p in reports.glob("*/results.jsonl") for line in p.read_text().splitlines()]


def test_killing_an_emulated_boards_qemu_reports_one_board_lost_error_and_not_run_for_the_rest(tmp_path):
    reports = tmp_path / "reports"
    earlier_qemus = _qemus_under(os.getpid())  # e.g. a session fixture of another test module
    # clauses whose tests wait seconds (backoff, interval): on an idle machine the short
    # wire tests alone would all finish before the kill lands
    argv = honch_hil_argv(reports, "--board", "host", "--board", "qemu-an385", "--clause", "C2", "--clause", "C3",
                          "--clause", "C1", "--clause", "C23", "--clause", "C18")
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not any(r["board"] == "qemu-an385" and r["when"] == "call" for r in _records(reports)):
            assert proc.poll() is None and time.monotonic() < deadline, "no test finished on qemu-an385"
            time.sleep(0.05)
        qemu = _qemus_under(proc.pid)
        assert len(qemu) == 1, qemu
        os.kill(qemu.pop(), signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == exitcodes.INFRASTRUCTURE_ERROR, out[-3000:] + err
    assert "Traceback" not in out + err
    run_dir = next(reports.iterdir())
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    qemu_records = [r for r in records if r["board"] == "qemu-an385"]
    lost = [r for r in qemu_records if r["properties"].get("board_lost")]
    assert len(lost) == 1, [r["message"] for r in qemu_records]
    assert lost[0]["properties"]["result"] == "error"
    assert lost[0]["message"].startswith("[board qemu-an385, log ")
    assert "board lost at test" in lost[0]["message"] and "killed by signal 9" in lost[0]["message"]
    after = qemu_records[qemu_records.index(lost[0]) + 1:]
    assert after and all(r["properties"].get("skip_kind") == "board_dropped" for r in after)
    assert not any(r["outcome"] == "failed" for r in qemu_records if r is not lost[0])
    summary = summary_of(run_dir)
    assert set(summary["boards_lost"]) == {"qemu-an385"}
    assert summary["tallies"]["qemu-an385"]["error"] == 1 and summary["tallies"]["qemu-an385"]["not_run"] == len(after)
    host = summary["tallies"]["host"]
    assert host["pass"] > 0 and host["fail"] == host["error"] == host["not_run"] == 0
    assert "qemu-an385: board lost at test" in out
    assert "board qemu-an385: board lost at test" in (run_dir / "matrix.html").read_text()
    assert not _qemus_under(os.getpid()) - earlier_qemus  # no QEMU of the run left behind
