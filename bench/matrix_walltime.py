"""Whole-matrix wall time: ``honch-hil run`` on all default boards against the slowest board alone.

Runs ``honch-hil run --board B`` for each enabled board of boards.toml, one after
the other, then ``honch-hil run`` on all of them at once (one xdist worker per
board), each with its reports in a temporary directory, and prints every wall
time and the ratio matrix / slowest single board. Target (issue 14): <= 1.3x on
this 2-core machine. Firmware is built first, so no run pays for a build.

    build/venv/bin/python bench/matrix_walltime.py [--board NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.boards.inventory import load_boards  # noqa: E402
from harness.runner.run import prepare_firmware  # noqa: E402

TARGET_RATIO = 1.3


def timed_run(boards: list[str], reports: Path) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "harness.cli", "run", "--reports", str(reports)]
    for board in boards:
        cmd += ["--board", board]
    began = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - began, proc.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", action="append", default=[], help="board name (default: every enabled board)")
    args = parser.parse_args(argv)
    specs = load_boards()
    names = args.board or [name for name, spec in specs.items() if spec.enabled]
    prepare_firmware([specs[n] for n in names], lambda message: print(message, file=sys.stderr))
    singles = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            singles[name], status = timed_run([name], Path(tmp) / name)
            print(f"{name:<16} alone        {singles[name]:7.1f} s{'' if status == 0 else f'  (exit {status})'}",
                  flush=True)
        matrix, status = timed_run(names, Path(tmp) / "matrix")
    slowest = max(singles, key=singles.get)
    ratio = matrix / singles[slowest]
    print(f"{'all ' + str(len(names)) + ' boards':<16} together     {matrix:7.1f} s"
          f"{'' if status == 0 else f'  (exit {status})'}")
    print(f"matrix / slowest single board ({slowest}): {ratio:.2f}x "
          f"(target <= {TARGET_RATIO:g}: {'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
