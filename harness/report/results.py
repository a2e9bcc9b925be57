"""Test outcomes of one run, and the conformance matrix (clauses × boards) built from them.

A run's collector writes one JSON line per finished test phase (``Outcome``).
Each test gets one state on each board:

* ``pass``     it passed (every repetition);
* ``fail``     the port broke the clause (an assertion, or the device raised);
* ``error``    the harness, the link, the board or the capture server failed
               (setup errors, a lost board, an unreachable server): says nothing about the port;
* ``flaky``    it passed in the end, but only after a retry (``--retries``);
* ``skip``     skipped for a reason of the board (``skip_kind``: ``tag`` or ``capability``);
* ``not_run``  never ran: its board was dropped (lost, or unhealthy) or the run was interrupted.

``build_matrix`` folds the tests citing a clause into one cell per board (the first
state of ``CELL_ORDER`` present wins) and applies the board's known deviations: a
listed clause that fails or wobbles is a ``deviation``, one that passes is
``unexpected_pass``. ``fail`` and ``unexpected_pass`` make a port non-conformant;
``error`` and ``not_run`` make a run incomplete.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.protocol import CLAUSES
from harness.runner.testids import test_id

#: a clause's cell takes the first of these states among its tests
CELL_ORDER = ("fail", "error", "flaky", "not_run", "pass", "skip")
#: every state a cell can have, worst first (the order of the matrix legend)
STATES = ("fail", "unexpected_pass", "error", "flaky", "deviation", "not_run", "pass", "skip")
FAILING = ("fail", "unexpected_pass")
SKIP_KINDS = ("tag", "capability", "board_dropped")


@dataclass
class Outcome:
    nodeid: str
    board: str
    clauses: list[str]
    #: passed, failed, skipped, rerun (a failed attempt that was retried), not_run
    outcome: str
    when: str = "call"
    message: str = ""
    duration: float = 0.0
    properties: dict = field(default_factory=dict)
    #: the full failure text (message, traceback, captured output), for the matrix's details
    details: str = ""

    @property
    def test_name(self) -> str:
        name = self.nodeid.split("::")[-1]
        return name.split("[", 1)[0]

    @property
    def test_id(self) -> str:
        """The test without its board (``fixtures`` records it at collection)."""
        return self.properties.get("test_id") or test_id(self.nodeid, self.board)

    @property
    def state(self) -> str:
        """This record's state (see the module docstring); ``rerun`` for a retried attempt."""
        if self.outcome == "passed":
            return "pass"
        if self.outcome == "failed":
            # fixtures/results.py says which failures are the harness's or the port's
            return self.properties.get("result") or ("fail" if self.when == "call" else "error")
        if self.outcome == "skipped":
            return "not_run" if self.properties.get("skip_kind") == "board_dropped" else "skip"
        return self.outcome  # rerun, not_run


@dataclass
class Cell:
    verdict: str
    tests: list[str] = field(default_factory=list)
    test_ids: list[str] = field(default_factory=list)
    #: the tests that failed, errored or wobbled: what a rerun of the cell runs
    problem_ids: list[str] = field(default_factory=list)
    reason: str = ""
    details: str = ""
    log: str = ""
    transcript: str = ""
    failed: int = 0
    passed: int = 0
    attempts: int = 0
    reruns: int = 0
    skip_kind: str = ""
    expected: str = ""
    diff: str = ""


def read_records(path: Path) -> list[Outcome]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                records.append(Outcome(**json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by an interruption
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


def test_state(records: list[Outcome]) -> tuple[str, Outcome | None]:
    """The state of one test on one board, with the record explaining it."""
    states = [r.state for r in records]
    for state in ("fail", "error"):
        if state in states:
            return state, records[states.index(state)]
    if "pass" in states:
        return ("flaky", records[states.index("rerun")]) if "rerun" in states else ("pass", None)
    for state in ("not_run", "skip"):
        if state in states:
            return state, records[states.index(state)]
    return "not_run", records[0] if records else None


#: "[board X, log PATH] " that starts every error message; a cell links the log instead
_BOARD_PREFIX = re.compile(r"^\[board [^,\]]+, log [^\]]*\] ")


def short_reason(text: str, limit: int = 90) -> str:
    """One line of at most ``limit`` characters: what a matrix cell can show."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = _BOARD_PREFIX.sub("", line)
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def build_matrix(records: list[Outcome], deviations: dict[str, dict[str, str]] | None = None
                 ) -> dict[str, dict[str, Cell]]:
    """clause -> board -> Cell, only for clauses some selected test cites.
    ``deviations``: board -> clause -> reason (the boards' expectations files)."""
    matrix: dict[str, dict[str, Cell]] = {}
    for (nodeid, board), recs in final_outcomes(records).items():
        state, why = test_state(recs)
        for clause in recs[0].clauses:
            cell = matrix.setdefault(clause, {}).get(board)
            if cell is None:
                cell = matrix[clause][board] = Cell(verdict=state)
            elif CELL_ORDER.index(state) < CELL_ORDER.index(cell.verdict):
                cell.verdict = state
                cell.reason = cell.details = cell.log = cell.transcript = cell.skip_kind = ""
            _add_test(cell, recs, state, why)
    for board, listed in (deviations or {}).items():
        for clause, reason in listed.items():
            cell = matrix.get(clause, {}).get(board)
            if cell is None:
                continue
            cell.expected = reason
            if cell.verdict in ("fail", "flaky"):
                cell.verdict = "deviation"
            elif cell.verdict == "pass":
                cell.verdict = "unexpected_pass"
                cell.reason = f"listed as a known deviation ({short_reason(reason, 60)}) but passes"
    return dict(sorted(matrix.items(), key=lambda kv: int(kv[0][1:])))


def _add_test(cell: Cell, recs: list[Outcome], state: str, why: Outcome | None) -> None:
    first = recs[0]
    if first.test_name not in cell.tests:
        cell.tests.append(first.test_name)
    if first.test_id not in cell.test_ids:
        cell.test_ids.append(first.test_id)
    if state in ("fail", "error", "flaky") and first.test_id not in cell.problem_ids:
        cell.problem_ids.append(first.test_id)
    cell.attempts += sum(1 for r in recs if r.state in ("pass", "fail"))
    cell.passed += sum(1 for r in recs if r.state == "pass")
    cell.failed += sum(1 for r in recs if r.state == "fail")
    cell.reruns += sum(1 for r in recs if r.state == "rerun")
    if why is not None and state == cell.verdict and not cell.reason:
        cell.reason = f"{first.test_name}: {short_reason(why.message)}" if why.message else first.test_name
        cell.details = why.details or why.message
        cell.log = why.properties.get("board_log", "")
        cell.transcript = why.properties.get("server_transcript", "")
        cell.skip_kind = why.properties.get("skip_kind", "")


def boards_of(records: list[Outcome]) -> list[str]:
    return sorted({r.board for r in records})


def board_tallies(records: list[Outcome]) -> dict[str, dict[str, int]]:
    """board -> test state -> number of tests (each repetition counts)."""
    tallies: dict[str, dict[str, int]] = {}
    for (nodeid, board), recs in final_outcomes(records).items():
        state, _ = test_state(recs)
        t = tallies.setdefault(board, {s: 0 for s in CELL_ORDER})
        t[state] += 1
    return tallies


def clause_tallies(matrix: dict[str, dict[str, Cell]], boards: list[str]) -> dict[str, dict[str, int]]:
    """board -> cell state -> number of clauses."""
    tallies = {b: {s: 0 for s in STATES} for b in boards}
    for cells in matrix.values():
        for board, cell in cells.items():
            tallies.setdefault(board, {s: 0 for s in STATES})[cell.verdict] += 1
    return tallies


def unclaused_problems(records: list[Outcome]) -> list[dict]:
    """Tests citing no clause that failed or errored (they still count)."""
    out = []
    for (nodeid, board), recs in final_outcomes(records).items():
        state, why = test_state(recs)
        if not recs[0].clauses and state in ("fail", "error"):
            out.append({"nodeid": nodeid, "board": board, "state": state,
                        "message": why.message if why else "", "test_id": recs[0].test_id})
    return out


@dataclass(frozen=True)
class Problem:
    """One test on one board that did not end as the board's expectations say."""
    board: str
    test_id: str
    state: str
    message: str

    def __str__(self) -> str:
        return f"{self.board} {self.test_id}: {self.state}: {short_reason(self.message, 160) or '?'}"


def problems(records: list[Outcome], deviations: dict[str, dict[str, str]] | None = None,
             expected: set[tuple[str, str]] | None = None) -> tuple[list[Problem], set[tuple[str, str]]]:
    """The tests of a run that ended badly, beyond what is expected of them.

    A test that fails (or passes only on a retry) on a board where every clause it cites
    is a listed known deviation is *deviating*, not a problem, provided ``expected`` (a
    set of (board, test_id), e.g. the deviating tests of a reference run) is None or
    holds it: then a known-deviation clause hides no other test's failure. Errors
    and tests that never ran are always problems. Returns (problems, deviating)."""
    found, deviating = [], set()
    for (nodeid, board), recs in final_outcomes(records).items():
        state, why = test_state(recs)
        if state not in ("fail", "error", "flaky", "not_run"):
            continue
        ident = (board, recs[0].test_id)
        listed = (deviations or {}).get(board, {})
        if state in ("fail", "flaky") and recs[0].clauses and all(c in listed for c in recs[0].clauses) \
                and (expected is None or ident in expected):
            deviating.add(ident)
            continue
        found.append(Problem(board, recs[0].test_id, state, why.message if why else ""))
    return sorted(found, key=lambda p: (p.board, p.test_id)), deviating


def diff_against(baseline: dict, current: dict) -> str:
    """How one cell changed since the baseline (cells as summary.json stores them, or None)."""
    before = (baseline or {}).get("verdict")
    now = (current or {}).get("verdict")
    if now in FAILING:
        return "still failing" if before in FAILING else "new failure"
    if before in FAILING and now in ("pass", "flaky", "deviation"):
        return "fixed"
    return "unchanged"


def clause_title(clause: str) -> str:
    area, title = CLAUSES[clause]
    return f"{clause} ({area}): {title}"
