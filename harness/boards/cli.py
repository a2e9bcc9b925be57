"""``honch-hil boards``: list the inventory and probe each board.

SIGINT and SIGTERM stop it like ``honch-hil run`` (``harness.runner.processes.Interruption``):
the board being probed is stopped, any process a probe left is ended, exit status 130.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.boards.driver import BoardDriver, BoardError, BoardMisconfigured
from harness.boards.inventory import ROOT, BoardsFileError, load_boards


def register(subparsers) -> None:
    parser = subparsers.add_parser("boards", help="list the boards of boards.toml and probe them",
                                   description=__doc__)
    parser.add_argument("--boards-file", default=None, metavar="PATH", help="board inventory (default: boards.toml)")
    parser.add_argument("--board", action="append", default=[], metavar="NAME", help="only this board (repeatable)")
    parser.add_argument("--no-probe", action="store_true", help="list only; do not start the boards")
    parser.add_argument("--artifacts", default=None, metavar="DIR", help="where the serial logs go (default: build/artifacts)")
    parser.set_defaults(func=run)


def probe_board(spec, artifacts) -> tuple[bool, str]:
    """(ok, one-line verdict) for one board."""
    driver = BoardDriver(spec, artifacts)
    driver.log_to("probe")
    try:
        info = driver.probe()
    except (BoardError, Exception) as exc:  # a probe reports every failure, it never raises
        first = str(exc).splitlines()[0]
        return False, f"{'misconfigured' if isinstance(exc, BoardMisconfigured) else 'unreachable'}: {first}"
    finally:
        driver.stop()
    # The port's SDK version is information: ports we did not write have their own.
    problems = [] if info.get("honch_core") else ["_honch_core missing"]
    heap = info.get("mem_free")
    heap_text = f"{heap} B free" if heap is not None else "heap n/a"
    text = (f"{info.get('implementation')} {info.get('version')}, honch {info.get('sdk_version') or '?'}, "
            f"_honch_core {'present' if info.get('honch_core') else 'absent'}, "
            f"capabilities {','.join(info.get('capabilities') or []) or '-'}, {heap_text}, "
            f"up in {info.get('start_seconds')} s")
    if problems:
        return False, text + " — " + "; ".join(problems)
    return True, text


def run(args) -> int:
    from harness.runner import exitcodes, processes
    from harness.runner.processes import Interruption

    processes.become_subreaper()  # a board process orphaned mid-start is still ours to end
    keep = set(processes.descendants(os.getpid()))
    interruption = Interruption()
    try:
        with interruption:
            try:
                return _list_and_probe(args)
            finally:
                processes.end_descendants(grace=0.3, keep=keep)
    except KeyboardInterrupt:
        print(f"honch-hil boards: interrupted by {interruption.signal or 'SIGINT'}", file=sys.stderr)
        return exitcodes.INTERRUPTED


def _list_and_probe(args) -> int:
    try:
        boards = load_boards(args.boards_file)
    except BoardsFileError as exc:
        for line in exc.errors:
            print(f"error: {line}", file=sys.stderr)
        return 2
    names = args.board or list(boards)
    unknown = [n for n in names if n not in boards]
    if unknown:
        print(f"error: unknown board(s) {', '.join(unknown)}; the inventory has {', '.join(boards)}",
              file=sys.stderr)
        return 2
    artifacts = Path(args.artifacts) if args.artifacts else None
    failures = 0
    for name in names:
        spec = boards[name]
        head = f"{name:<16} {spec.kind:<7} {spec.where:<22} net={spec.network:<7} tags={','.join(spec.tags) or '-'}"
        if not spec.enabled and name not in args.board:  # named on the command line: probe it anyway
            print(f"{head}  [disabled]")
            continue
        if args.no_probe:
            print(head)
            continue
        ok, verdict = probe_board(spec, artifacts)
        failures += not ok
        print(f"{head}\n{'':16} {'OK  ' if ok else 'FAIL'} {verdict}", flush=True)
    return 1 if failures else 0
