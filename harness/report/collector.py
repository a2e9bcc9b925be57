"""pytest plugin used by ``honch-hil run``: records every outcome and shows live progress.

Loaded with ``-p harness.report.collector``. It acts only in the controlling process
(under xdist, workers send their reports there), appends one ``Outcome`` per
outcome to the file named by ``HONCH_HIL_RESULTS`` and prints a progress line per
board as tests finish, so a lab operator sees which clauses fail while the run goes on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.report.results import Outcome, append_record

RESULTS_ENV = "HONCH_HIL_RESULTS"


def _board_of(report) -> str:
    """The board a test ran on (the plugin records it at collection); ``-`` for board-less tests."""
    return str(dict(report.user_properties).get("board") or "-")


def _message(report) -> str:
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:400]


class Collector:
    def __init__(self, path: Path, stream=sys.stdout):
        self.path = path
        self.stream = stream
        self.tallies: dict[str, dict[str, int]] = {}
        self.failed_clauses: dict[str, set[str]] = {}
        self.passed_clauses: dict[str, set[str]] = {}

    def record(self, report) -> None:
        outcome = report.outcome
        if report.when != "call" and outcome == "passed":
            return  # a setup or teardown that went fine says nothing on its own
        props = dict(report.user_properties)
        clauses = props.get("clauses", "").split()
        board = _board_of(report)
        rec = Outcome(nodeid=report.nodeid, board=board, clauses=clauses, outcome=outcome,
                      when=report.when, message=_message(report),
                      duration=round(getattr(report, "duration", 0.0), 4),
                      properties={k: str(v) for k, v in props.items() if k != "clauses"})
        append_record(self.path, rec)
        self._progress(rec)

    def _progress(self, rec: Outcome) -> None:
        t = self.tallies.setdefault(rec.board, {"passed": 0, "failed": 0, "skipped": 0, "rerun": 0})
        t[rec.outcome] = t.get(rec.outcome, 0) + 1
        if rec.outcome == "passed":
            self.passed_clauses.setdefault(rec.board, set()).update(rec.clauses)
        if rec.outcome == "failed":
            self.failed_clauses.setdefault(rec.board, set()).update(rec.clauses)
            where = f" (log: {rec.properties['board_log']})" if rec.properties.get("board_log") else ""
            self.stream.write(f"\nFAIL [{rec.board}] {rec.nodeid} {' '.join(rec.clauses)}: {rec.message}{where}\n")
        parts = []
        for board in sorted(self.tallies):
            c = self.tallies[board]
            bad = self.failed_clauses.get(board, set())
            good = self.passed_clauses.get(board, set()) - bad
            s = (f"{board}: clauses {len(good)} ok, {len(bad)} failing; tests {c['passed']} passed, "
                 f"{c['failed']} failed, {c['skipped']} skipped")
            if c.get("rerun"):
                s += f", {c['rerun']} retried"
            if bad:
                s += f" [failing {','.join(sorted(bad, key=lambda x: int(x[1:])))}]"
            parts.append(s)
        self.stream.write("progress | " + " | ".join(parts) + "\n")
        self.stream.flush()


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        return
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    config.pluginmanager.register(_Hooks(Collector(Path(path))), "honch-hil-collector")


class _Hooks:
    def __init__(self, collector: Collector):
        self.collector = collector

    def pytest_runtest_logreport(self, report):
        self.collector.record(report)

    def pytest_report_teststatus(self, report, config):
        """No per-test dots: the progress lines say more, and dots would break them up."""
        if report.outcome not in ("passed", "failed", "skipped"):
            return None  # e.g. pytest-rerunfailures' "rerun" keeps its own status
        if report.when == "call" or report.outcome != "passed":
            word = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED"}[report.outcome]
            if report.when != "call" and report.outcome == "failed":
                return "error", "", "ERROR"
            return report.outcome, "", word
        return "", "", ""
