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


# --- the grace pytest gets, unit level: a stand-in for pytest, no board --------------------

#: stands in for pytest: on SIGTERM its "teardown" takes 2 s (more than the old 1.4 s grace),
#: then it exits 2 as an interrupted pytest does; with IGNORE it never stops by itself
FAKE_PYTEST = """
import signal, sys, time
def stop(*_):
    time.sleep(2)
    sys.exit(2)
signal.signal(signal.SIGTERM, signal.SIG_IGN if sys.argv[1] == "ignore" else stop)
print("ready", flush=True)
time.sleep(60)
"""


class _NoTracker:
    def poll(self):
        return []


class _Notes:
    def __init__(self):
        self.notes = []

    def start(self):
        pass

    def update(self, tracker, finished):
        pass

    def note(self, text):
        self.notes.append(text)

    def stop(self):
        pass


def _interrupted_fake_pytest(mode: str, signals: int):
    import os
    import sys

    from harness.runner.run import Interruption, _wait_with_progress

    keep = set(processes.descendants(os.getpid()))
    proc = subprocess.Popen([sys.executable, "-c", FAKE_PYTEST, mode], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        interruption = Interruption()
        interruption.proc = proc
        for _ in range(signals):
            interruption._handle(signal.SIGTERM, None)
        view = _Notes()
        started = time.monotonic()
        _wait_with_progress(proc, _NoTracker(), view, interruption, keep)
        return proc.returncode, time.monotonic() - started, view.notes
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_pytest_gets_the_time_its_teardown_takes_and_its_own_exit_status_is_kept():
    status, took, notes = _interrupted_fake_pytest("teardown", signals=1)
    assert status == 2, f"pytest was not let finish its teardown (status {status} after {took:.1f} s)"
    assert 1.9 < took < 5
    assert any("stopping" in n and "at once" in n for n in notes), notes


def test_a_second_signal_kills_at_once_and_the_status_says_killed_not_zero():
    status, took, _ = _interrupted_fake_pytest("ignore", signals=2)
    assert took < 3
    assert status == -signal.SIGKILL, status  # not 0: the reaper must not collect pytest's status
