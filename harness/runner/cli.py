"""``honch-hil run``."""

from __future__ import annotations

import sys
from pathlib import Path

from harness import REPO_ROOT


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run the conformance suite on the selected boards and write reports",
        description="Builds missing firmware, starts a capture server (or uses --capture-url), runs the "
                    "conformance suite with one pytest-xdist worker per board, shows progress per board "
                    "and writes reports/<timestamp>/ (junit.xml, matrix.md, matrix.html, summary.json, "
                    "artifacts/). Exit status 0 only when every selected board passes every applicable clause.")
    p.add_argument("--board", action="append", default=[], metavar="NAME",
                   help="board from the inventory (repeatable; default: every enabled board)")
    p.add_argument("--boards-file", metavar="PATH", help="board inventory (default: boards.toml)")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only tests matching this pytest -k expression")
    p.add_argument("--clause", action="append", default=[], metavar="Cn",
                   help="only tests citing this contract clause (repeatable)")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="run each selected test N times (flaky hunting)")
    p.add_argument("--retries", type=int, default=0, metavar="N",
                   help="retry a failing test up to N times (known-flaky hardware); reported as flaky, not clean")
    p.add_argument("--soak", type=int, default=1, metavar="N", help="scale the soak test (nightly: 20+)")
    p.add_argument("--capture-url", metavar="URL", help="use this running capture server (e.g. a lab's shared one)")
    p.add_argument("--capture-token", metavar="TOKEN", help="its control token (or HONCH_HIL_CONTROL_TOKEN)")
    p.add_argument("--reports", type=Path, default=REPO_ROOT / "reports", metavar="DIR",
                   help="parent of the run's report directory (default: reports/)")
    p.add_argument("--workers", type=int, metavar="N", help="xdist workers (default: one per board)")
    p.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="extra pytest arguments after --")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from harness.boards.inventory import BoardsFileError
    from harness.firmware.errors import FirmwareError
    from harness.runner.run import RunOptions, run

    for name, value in (("--repeat", args.repeat), ("--retries", args.retries), ("--soak", args.soak)):
        if value < (1 if name != "--retries" else 0):
            print(f"honch-hil run: {name} must be {'≥ 1' if name != '--retries' else '≥ 0'}, got {value}",
                  file=sys.stderr)
            return 2
    opts = RunOptions(boards=args.board, boards_file=args.boards_file, keyword=args.keyword,
                      clauses=args.clause, repeat=args.repeat, retries=args.retries, soak=args.soak,
                      capture_url=args.capture_url, capture_token=args.capture_token,
                      reports_dir=args.reports, workers=args.workers, pytest_args=args.pytest_args)
    try:
        return run(opts)
    except (BoardsFileError, FirmwareError, ValueError) as exc:
        print(f"honch-hil run: {exc}", file=sys.stderr)
        return 2
