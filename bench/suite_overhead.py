"""Conformance suite wall time against the waits its scenarios mandate.

Runs ``pytest conformance`` once per board, then on all boards together under
pytest-xdist (``-n <boards> --dist loadgroup``: one worker per board). Each test
records the waits the contract makes it sit through (backoff delays, Retry-After,
spacing, intervals, transport timeouts — computed from its configured values by
``harness.conformance_support.mandated_wait``) in the ``mandated_wait_ms`` JUnit
property; their sum is the floor no implementation of the suite could beat.

Prints, per board: tests run, wall time, mandated waits, and the overhead
``(wall − waits) / waits``; then the parallel run against the slowest single board.
Targets (issue 6): overhead ≤ 50 % on ``unix``; parallel ≤ 1.3 × the slowest board.

The soak test (marker ``slow``) is left out: its waits are random by design.

Usage: ``build/venv/bin/python bench/suite_overhead.py [--board NAME ...] [--no-parallel]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.conformance_support import MANDATED_WAIT_PROPERTY  # noqa: E402
from harness.report import junit as junit_report  # noqa: E402

DEFAULT_BOARDS = ("host", "unix", "qemu-an385")
UNIX_OVERHEAD_TARGET = 0.50
PARALLEL_TARGET = 1.3


def run(boards: list[str], workdir: Path, label: str, parallel: bool) -> dict:
    junit = workdir / f"{label}.xml"
    cmd = [sys.executable, "-m", "pytest", "conformance", "-m", "not slow", "-p", "no:cacheprovider", "-q",
           "--no-header", f"--junitxml={junit}", f"--artifacts={workdir / ('artifacts-' + label)}"]
    for b in boards:
        cmd += ["--board", b]
    if parallel:
        cmd += ["-n", str(len(boards)), "--dist", "loadgroup"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if not junit.exists():
        sys.exit(f"{label}: pytest wrote no report (exit {proc.returncode})\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    per_board: dict[str, dict] = {}
    for case in junit_report.testcases(junit):
        props = junit_report.properties(case)
        board = props.get("board") or case.get("name", "").rsplit("[", 1)[-1].rstrip("]")
        b = per_board.setdefault(board, {"tests": 0, "failed": 0, "skipped": 0, "waits_ms": 0, "time_s": 0.0})
        b["tests"] += 1
        b["time_s"] += float(case.get("time") or 0)
        result = junit_report.outcome(case)
        b["failed"] += result == "failed"
        b["skipped"] += result == "skipped"
        b["waits_ms"] += int(props.get(MANDATED_WAIT_PROPERTY) or 0)
    return {"wall_s": wall, "boards": per_board, "exit": proc.returncode}


def warm_up(boards: list[str]) -> None:
    """Build stale firmware before timing: a build is not suite overhead."""
    from harness.boards.inventory import load_boards
    from harness.firmware import ensure_firmware

    specs = load_boards(None)
    for name in boards:
        spec = specs[name]
        if spec.kind in ("unix", "qemu") and spec.firmware == "build":
            ensure_firmware("unix" if spec.kind == "unix" else "qemu")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", default=[], help="board to measure (default: host, unix, qemu-an385)")
    parser.add_argument("--no-parallel", action="store_true", help="skip the all-boards xdist run")
    args = parser.parse_args(argv)
    boards = args.board or list(DEFAULT_BOARDS)

    with tempfile.TemporaryDirectory(prefix="honch-suite-bench-") as tmp:
        workdir = Path(tmp)
        warm_up(boards)
        singles = {b: run([b], workdir, b, parallel=False) for b in boards}
        print(f"{'board':<12} {'tests':>5} {'fail':>4} {'skip':>4} {'wall s':>8} {'waits s':>8} {'overhead':>9}")
        for b, r in singles.items():
            s = r["boards"].get(b, {"tests": 0, "failed": 0, "skipped": 0, "waits_ms": 0})
            waits = s["waits_ms"] / 1000
            overhead = (r["wall_s"] - waits) / waits if waits else float("inf")
            print(f"{b:<12} {s['tests']:>5} {s['failed']:>4} {s['skipped']:>4} {r['wall_s']:>8.1f} {waits:>8.1f} "
                  f"{overhead:>8.0%}")
        if "unix" in singles:
            s = singles["unix"]["boards"].get("unix", {})
            waits = s.get("waits_ms", 0) / 1000
            overhead = (singles["unix"]["wall_s"] - waits) / waits if waits else float("inf")
            verdict = "meets" if overhead <= UNIX_OVERHEAD_TARGET else "misses"
            print(f"unix overhead {overhead:.0%} {verdict} the target of <= {UNIX_OVERHEAD_TARGET:.0%}")
        if not args.no_parallel and len(boards) > 1:
            par = run(boards, workdir, "parallel", parallel=True)
            slowest = max(r["wall_s"] for r in singles.values())
            ratio = par["wall_s"] / slowest
            failed = sum(s["failed"] for s in par["boards"].values())
            verdict = "meets" if ratio <= PARALLEL_TARGET else "misses"
            print(f"all {len(boards)} boards, -n {len(boards)} --dist loadgroup: {par['wall_s']:.1f} s wall, "
                  f"{failed} failed; {ratio:.2f} x the slowest single board ({slowest:.1f} s), "
                  f"{verdict} the target of <= {PARALLEL_TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
