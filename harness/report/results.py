"""Test outcomes of one run, and the conformance matrix (clauses × boards) built from them.

A run's collector writes one JSON line per finished test phase (``Outcome``);
``build_matrix`` folds them into a verdict per clause and board:

* ``fail``   some test citing the clause failed on that board (any repetition);
* ``flaky``  every test passed in the end, but at least one only after a retry;
* ``pass``   every test citing it passed cleanly;
* ``skip``   every test citing it was skipped there (e.g. a host-only clause);
* absent     no selected test cites it on that board.

Only ``fail`` makes a run unsuccessful; ``flaky`` is reported separately.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.protocol import CLAUSES

VERDICT_ORDER = ("fail", "flaky", "pass", "skip")


@dataclass
class Outcome:
    nodeid: str
    board: str
    clauses: list[str]
    outcome: str  # passed, failed, skipped, rerun (a failed attempt that was retried)
    when: str = "call"
    message: str = ""
    duration: float = 0.0
    properties: dict = field(default_factory=dict)

    @property
    def test_name(self) -> str:
        name = self.nodeid.split("::")[-1]
        return name.split("[", 1)[0]


@dataclass
class Cell:
    verdict: str
    tests: list[str] = field(default_factory=list)
    reason: str = ""
    log: str = ""
    transcript: str = ""
    failed: int = 0
    attempts: int = 0


def read_records(path: Path) -> list[Outcome]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            records.append(Outcome(**json.loads(line)))
    return records


def append_record(path: Path, record: Outcome) -> None:
    with path.open("a") as f:
        f.write(json.dumps(asdict(record), sort_keys=True) + "\n")


def final_outcomes(records: list[Outcome]) -> dict[tuple[str, str], list[Outcome]]:
    """Group the records of each (nodeid, board); a test has one final outcome per repetition."""
    grouped: dict[tuple[str, str], list[Outcome]] = {}
    for r in records:
        grouped.setdefault((r.nodeid, r.board), []).append(r)
    return grouped


def _verdict_of_test(records: list[Outcome]) -> tuple[str, Outcome | None]:
    """pass / flaky / fail / skip for one test on one board, with the record explaining it."""
    failed = [r for r in records if r.outcome == "failed"]
    if failed:
        return "fail", failed[0]
    reruns = [r for r in records if r.outcome == "rerun"]
    if any(r.outcome == "passed" for r in records):
        return ("flaky", reruns[0]) if reruns else ("pass", None)
    skipped = [r for r in records if r.outcome == "skipped"]
    if skipped:
        return "skip", skipped[0]
    return "fail", records[0] if records else None


def build_matrix(records: list[Outcome]) -> dict[str, dict[str, Cell]]:
    """clause -> board -> Cell, only for clauses some selected test cites."""
    matrix: dict[str, dict[str, Cell]] = {}
    for (nodeid, board), recs in final_outcomes(records).items():
        verdict, why = _verdict_of_test(recs)
        for clause in recs[0].clauses:
            cell = matrix.setdefault(clause, {}).get(board)
            if cell is None:
                cell = matrix[clause][board] = Cell(verdict=verdict)
            elif VERDICT_ORDER.index(verdict) < VERDICT_ORDER.index(cell.verdict):
                cell.verdict = verdict
                cell.reason = ""
            test = recs[0].test_name
            if test not in cell.tests:
                cell.tests.append(test)
            cell.attempts += sum(1 for r in recs if r.outcome in ("passed", "failed"))
            cell.failed += sum(1 for r in recs if r.outcome == "failed")
            if why is not None and verdict == cell.verdict and not cell.reason:
                cell.reason = f"{test}: {why.message}" if why.message else test
                cell.log = why.properties.get("board_log", "")
                cell.transcript = why.properties.get("server_transcript", "")
    return dict(sorted(matrix.items(), key=lambda kv: int(kv[0][1:])))


def boards_of(records: list[Outcome]) -> list[str]:
    return sorted({r.board for r in records})


def board_tallies(records: list[Outcome]) -> dict[str, dict[str, int]]:
    tallies: dict[str, dict[str, int]] = {}
    for (nodeid, board), recs in final_outcomes(records).items():
        verdict, _ = _verdict_of_test(recs)
        t = tallies.setdefault(board, {"pass": 0, "fail": 0, "skip": 0, "flaky": 0})
        t[verdict] += 1
    return tallies


def run_passed(matrix: dict[str, dict[str, Cell]], records: list[Outcome]) -> bool:
    """True when no clause failed on any board and at least one test ran to completion."""
    if not records:
        return False
    if any(r.outcome == "failed" and not r.clauses for r in records):
        return False
    return all(cell.verdict != "fail" for cells in matrix.values() for cell in cells.values())


def clause_title(clause: str) -> str:
    area, title = CLAUSES[clause]
    return f"{clause} ({area}): {title}"
