"""Live progress of a run, per board, from the collector's files (``plan.json``,
``progress.jsonl``, ``results.jsonl``) as pytest writes them.

On a terminal: one line per board, redrawn in place (rich): done/total, failing so
far, the current test and the time left (the board's mean time per test so far
times the tests it has left). Without a terminal: one short line per finished test.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.report.collector import plan_path, progress_path
from harness.report.results import Outcome, short_reason

SHOWN = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "skip": "skip", "not_run": "not run"}


@dataclass
class BoardProgress:
    name: str
    total: int = 0
    done: set = field(default_factory=set)
    failing: set = field(default_factory=set)
    current: str = ""
    first_start: float | None = None
    last_end: float | None = None

    def eta_seconds(self) -> float | None:
        if not self.done or self.first_start is None:
            return None
        per_test = ((self.last_end or time.time()) - self.first_start) / len(self.done)
        return per_test * max(0, self.total - len(self.done))

    def line(self) -> str:
        eta = self.eta_seconds()
        left = "" if eta is None else f"  ~{format_seconds(eta)} left"
        if self.total and len(self.done) >= self.total:
            left = "  done"
        now = f"  now {self.current}" if self.current and len(self.done) < self.total else ""
        failing = f"  {len(self.failing)} failing" if self.failing else ""
        return f"{self.name:<14} {len(self.done):>4}/{self.total:<4}{failing}{now}{left}"


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class _Tail:
    """New complete lines of a growing file."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def lines(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in complete if line.strip()]


class Tracker:
    """Folds the collector's files into per-board progress; ``poll()`` returns the tests
    that finished since the last call as (board, record, state, how many were done then)."""

    def __init__(self, results: Path, boards: list[str]):
        self.results = Path(results)
        self.boards = {b: BoardProgress(b) for b in boards}
        self.board_of: dict[str, str] = {}
        self._results = _Tail(self.results)
        self._starts = _Tail(progress_path(self.results))
        self._planned = False

    def _load_plan(self) -> None:
        if self._planned or not plan_path(self.results).exists():
            return
        try:
            plan = json.loads(plan_path(self.results).read_text())
        except ValueError:
            return  # being written
        self._planned = True
        for entry in plan:
            self.board_of[entry["nodeid"]] = entry["board"]
            self.boards.setdefault(entry["board"], BoardProgress(entry["board"])).total += 1

    def poll(self) -> list[tuple[str, Outcome, str]]:
        self._load_plan()
        for line in self._starts.lines():
            event = json.loads(line)
            board = self.boards.get(self.board_of.get(event["start"], ""))
            if board is not None:
                board.current = event["start"].split("::")[-1]
                board.first_start = board.first_start or event["t"]
        finished = []
        for line in self._results.lines():
            try:
                record = Outcome(**json.loads(line))
            except (ValueError, TypeError):
                continue
            board = self.boards.setdefault(record.board, BoardProgress(record.board))
            state = record.state
            if state in ("fail", "error"):
                board.failing.add(record.nodeid)
            if record.nodeid in board.done or state == "rerun":
                continue
            if record.when == "call" or state != "pass":
                board.done.add(record.nodeid)
                board.last_end = time.time()
                finished.append((board.name, record, state, len(board.done)))
        return finished


class LineProgress:
    """No terminal: one short line per finished test."""

    def __init__(self, out):
        self.out = out

    def start(self) -> None:
        pass

    def update(self, tracker: Tracker, finished) -> None:
        for board_name, record, state, done in finished:
            board = tracker.boards[board_name]
            text = f"[{board_name} {done}/{board.total}] {SHOWN.get(state, state):<7} {record.nodeid.split('::')[-1]}"
            if state not in ("pass",) and record.message:
                text += f": {short_reason(record.message, 100)}"
            elif state == "pass":
                text += f" ({record.duration:.1f} s)"
            self.out.write(text + "\n")
        if finished:
            self.out.flush()

    def note(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def stop(self) -> None:
        pass


class LiveProgress:
    """A terminal: one line per board, redrawn in place."""

    def __init__(self, out):
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=out)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)

    def start(self) -> None:
        self.live.start()

    def update(self, tracker: Tracker, finished) -> None:
        from rich.text import Text

        lines = Text("\n".join(b.line() for b in tracker.boards.values()), no_wrap=True, overflow="ellipsis")
        self.live.update(lines)

    def note(self, text: str) -> None:
        self.live.console.print(text, markup=False, highlight=False)

    def stop(self) -> None:
        self.live.stop()


def progress_for(out):
    return LiveProgress(out) if getattr(out, "isatty", lambda: False)() else LineProgress(out)
