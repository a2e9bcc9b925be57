"""``honch-hil run``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from harness import REPO_ROOT
from harness.runner import exitcodes


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "run", help="run the conformance suite on the selected boards and write reports",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Builds missing firmware, starts a capture server (or uses --capture-url), runs the "
                    "conformance suite with one pytest-xdist worker per board, shows progress per board "
                    "and writes reports/<timestamp>/ (junit.xml, matrix.md, matrix.html, summary.json, "
                    "pytest.log, artifacts/). SIGINT or SIGTERM stop it (pytest tears down for up to 10 s; a second "
                    "signal stops it at once) and write the reports "
                    "of what ran.",
        epilog=exitcodes.help_text() + "\n(non-conformant: a clause fails or a known deviation passes; "
               "infrastructure error: errors only, no clause failed; regression: a clause fails that did "
               "not fail in --baseline)")
    p.add_argument("--board", action="append", default=[], metavar="NAME",
                   help="board from the inventory (repeatable; default: every enabled board)")
    p.add_argument("--boards-file", metavar="PATH", help="board inventory (default: boards.toml)")
    p.add_argument("--firmware", action="append", default=[], metavar="PATH",
                   help="an ad hoc unix board running this MicroPython binary (no boards.toml edit)")
    p.add_argument("--port", action="append", default=[], metavar="URL",
                   help="an ad hoc serial board at this tty or pyserial URL (agent copied, tether)")
    p.add_argument("--expectations", metavar="PATH",
                   help="known-deviations file of the ad hoc boards (inventory boards name theirs)")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only tests matching this pytest -k expression")
    p.add_argument("--clause", action="append", default=[], metavar="Cn",
                   help="only tests citing this contract clause (repeatable)")
    p.add_argument("--test", action="append", default=[], metavar="ID",
                   help="only this test (an id as the matrix shows it; ID@BOARD for one board; repeatable)")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="run each selected test N times (flaky hunting)")
    p.add_argument("--retries", type=int, default=0, metavar="N",
                   help="retry a failing test up to N times (known-flaky hardware); reported as flaky, not clean")
    p.add_argument("--soak", type=int, default=1, metavar="N", help="scale the soak test (nightly: 20+)")
    p.add_argument("--seed", type=int, metavar="N",
                   help="the run's seed (random fault schedules); default: a new one, printed and in the report")
    p.add_argument("--baseline", type=Path, metavar="DIR",
                   help="a previous report directory: mark each cell new failure / fixed / still failing / unchanged")
    p.add_argument("--rerun-failed", type=Path, metavar="DIR",
                   help="rerun every failing and flaky test of that report (on --board, if given), same seed")
    p.add_argument("--capture-url", metavar="URL", help="use this running capture server (e.g. a lab's shared one)")
    p.add_argument("--capture-token", metavar="TOKEN", help="its control token (or HONCH_HIL_CONTROL_TOKEN)")
    p.add_argument("--reports", type=Path, default=REPO_ROOT / "reports", metavar="DIR",
                   help="parent of the run's report directory (default: reports/)")
    p.add_argument("--workers", type=int, metavar="N", help="xdist workers (default: one per board)")
    p.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="extra pytest arguments after --")
    p.set_defaults(func=_run)


def option_problem(args) -> str | None:
    """What is wrong with the options that no board or file needs to be read to tell."""
    for name, value, least in (("--repeat", args.repeat, 1), ("--retries", args.retries, 0), ("--soak", args.soak, 1),
                               ("--workers", args.workers, 1)):
        if value is not None and value < least:
            return f"{name} must be ≥ {least}, got {value}"
    if args.capture_url is not None:
        url = urlsplit(args.capture_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            return (f"--capture-url {args.capture_url!r}: expected the server's base URL, "
                    "http://HOST:PORT or https://HOST:PORT")
        try:
            url.port
        except ValueError:
            return f"--capture-url {args.capture_url!r}: the port is not a number 1-65535"
    return None


def unique(names: list[str]) -> list[str]:
    """``names`` in order, each once (a board given twice would have two workers driving it)."""
    return list(dict.fromkeys(names))


def _usage(message: str) -> int:
    print(f"honch-hil run: {message}", file=sys.stderr)
    return exitcodes.USAGE_ERROR


def _run(args) -> int:
    from harness.boards.inventory import BoardsFileError
    from harness.firmware.errors import FirmwareError
    from harness.runner.run import RunOptions, run

    problem = option_problem(args)
    if problem:
        return _usage(problem)
    boards = unique(args.board)
    if len(boards) < len(args.board):
        twice = sorted({name for name in args.board if args.board.count(name) > 1})
        print(f"honch-hil run: --board {', '.join(twice)} given more than once; each board runs once",
              file=sys.stderr)
    opts = RunOptions(boards=boards, boards_file=args.boards_file, keyword=args.keyword,
                      clauses=args.clause, tests=args.test, repeat=args.repeat, retries=args.retries,
                      soak=args.soak, seed=args.seed, capture_url=args.capture_url,
                      capture_token=args.capture_token, reports_dir=args.reports, workers=args.workers,
                      firmwares=args.firmware, ports=args.port, expectations=args.expectations,
                      baseline=args.baseline, rerun_failed=args.rerun_failed, pytest_args=args.pytest_args)
    try:
        return run(opts)
    except FirmwareError as exc:
        print(f"honch-hil run: {exc}", file=sys.stderr)
        return exitcodes.INFRASTRUCTURE_ERROR
    except (BoardsFileError, ValueError) as exc:
        return _usage(str(exc))
