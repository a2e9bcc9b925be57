"""SIGTERM to ``honch-hil run``: nothing it started survives, and the reports cover what ran."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

from filelock import FileLock

from harness import REPO_ROOT
from harness.runner import exitcodes, processes
from runs import honch_hil_argv, run_env, summary_of


def _wait_for_results(reports, proc, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        lines = [line for p in reports.glob("*/results.jsonl") for line in p.read_text().splitlines()]
        if sum('"when": "call"' in line for line in lines) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} tests finished within {timeout} s")


def test_sigterm_stops_every_process_and_writes_a_partial_report_marked_interrupted(tmp_path):
    reports = tmp_path / "reports"
    # two boards, so there are two xdist workers, two board processes (host agent, unix firmware)
    argv = honch_hil_argv(reports, "--board", "host", "--board", "unix", "--clause", "C23", "--clause", "C21")
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=run_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _wait_for_results(reports, proc, 2)
        started = processes.descendants(proc.pid)
        names = {open(f"/proc/{p}/comm").read().strip() for p in started if processes.alive(p)}
        assert "micropython" in names, names  # the unix board's process is running now
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        while any(processes.alive(p) for p in started) and time.monotonic() - sent < 30:
            time.sleep(0.02)
        stopped_after = time.monotonic() - sent
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = [p for p in started if processes.alive(p)]
    assert not left, f"still running after SIGTERM: {left}"
    print(f"every process started by the run was gone {stopped_after:.2f} s after SIGTERM")
    assert proc.returncode == exitcodes.INTERRUPTED, out + err
    assert "Traceback" not in out + err
    run_dir = next(reports.iterdir())
    summary = summary_of(run_dir)
    assert summary["interrupted"]["signal"] == "SIGTERM"
    assert summary["result"] == "interrupted"
    ran = sum(t["pass"] + t["fail"] for t in summary["tallies"].values())
    assert ran >= 2 and summary["interrupted"]["not_run"] >= 1
    assert any(c["verdict"] == "not_run" for info in summary["clauses"].values() for c in info["boards"].values())
    ET.parse(run_dir / "junit.xml")  # valid XML
    assert "INTERRUPTED by SIGTERM" in (run_dir / "matrix.html").read_text()
    assert "INTERRUPTED by SIGTERM" in (run_dir / "matrix.md").read_text()
    for lock in (run_dir / "artifacts" / "locks").glob("*.lock"):  # board locks released
        FileLock(str(lock)).acquire(timeout=0)
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert all(r["outcome"] in ("passed", "failed", "skipped") for r in records)
