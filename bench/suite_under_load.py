"""False failures of the conformance suite on a loaded machine.

Runs the whole suite (``honch-hil run``: every default board, one xdist worker per
board, the soak included) N times while ``stress-ng --cpu <cores>`` keeps every core
busy, the way a nightly rack shares its machine. The SDK under test is unbroken, so
every failure is a false failure of the suite: a timing tolerance or a judge that
does not hold under load. Prints each run's failures and the total.

Target (issue 12): 0 false failures in 10 runs.

Usage: ``build/venv/bin/python bench/suite_under_load.py [--runs N] [--board NAME ...] [--stress-cpus N]``
(``stress-ng`` is a Debian package: ``apt-get install stress-ng``, part of ``make bench``'s packages).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.report import junit as junit_report  # noqa: E402

TARGET_FALSE_FAILURES = 0


@contextmanager
def stress(cpus: int):
    """``stress-ng --cpu cpus`` for the duration of the block, stopped with its process group."""
    exe = shutil.which("stress-ng")
    if exe is None:
        raise SystemExit("suite_under_load: stress-ng is not installed (apt-get install stress-ng)")
    proc = subprocess.Popen([exe, "--cpu", str(cpus), "--timeout", "0", "--quiet"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)  # let the workers spin up
        if proc.poll() is not None:
            raise SystemExit(f"suite_under_load: stress-ng exited at once (status {proc.returncode})")
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def failures(junit: Path) -> tuple[int, list[str]]:
    """(tests run, names of the failed or errored tests) from a JUnit report."""
    cases = junit_report.testcases(junit)
    bad = []
    for c in cases:
        if junit_report.outcome(c) == "failed":
            problem = c.find("failure") if c.find("failure") is not None else c.find("error")
            why = (problem.get("message") or "").strip().splitlines()
            bad.append(f"{c.get('classname')}::{c.get('name')}: {why[0][:160] if why else '?'}")
    return len(cases), bad


def one_run(boards: list[str], reports: Path) -> tuple[int, list[str], float]:
    cmd = [sys.executable, "-m", "harness.cli", "run", "--reports", str(reports)]
    for b in boards:
        cmd += ["--board", b]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    junits = sorted(reports.glob("*/junit.xml"))
    if not junits:
        raise SystemExit(f"suite_under_load: the run wrote no report (exit {proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    ran, bad = failures(junits[-1])
    return ran, bad, wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="suite runs (default 10)")
    ap.add_argument("--board", action="append", default=[], help="board (repeatable; default: every enabled board)")
    ap.add_argument("--stress-cpus", type=int, default=os.cpu_count() or 2,
                    help="stress-ng CPU workers (default: one per core)")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.stress_cpus < 1:
        ap.error("--runs and --stress-cpus must be ≥ 1")
    total_bad, total_ran = [], 0
    with tempfile.TemporaryDirectory(prefix="honch-under-load-") as tmp, stress(args.stress_cpus):
        for i in range(1, args.runs + 1):
            ran, bad, wall = one_run(args.board, Path(tmp) / f"run{i}")
            total_ran += ran
            total_bad += bad
            print(f"run {i}/{args.runs}: {ran} tests, {len(bad)} failed, {wall:.0f} s"
                  + "".join(f"\n  false failure: {name}" for name in bad), flush=True)
    boards = ", ".join(args.board) or "every enabled board"
    met = len(total_bad) <= TARGET_FALSE_FAILURES
    print(f"under stress-ng --cpu {args.stress_cpus}: {len(total_bad)} false failures in {args.runs} runs "
          f"({total_ran} test results, {boards}); target {TARGET_FALSE_FAILURES}: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
