"""pytest plugin used by ``honch-hil run``: records what the run plans, starts and finishes.

Loaded with ``-p harness.report.collector``; it acts only when ``HONCH_HIL_RESULTS``
names the results file. Beside it, it writes:

* ``plan.json``      every selected test (node id, board, clauses, test id), written by
                     whichever process collected (under xdist every worker collects the same);
* ``results.jsonl``  one ``Outcome`` per finished test phase (controller only);
* ``progress.jsonl`` one line per test start (controller only), for the live progress.

``honch-hil run`` reads these while pytest runs (progress) and after it (reports).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from harness.report.results import Outcome, append_record

RESULTS_ENV = "HONCH_HIL_RESULTS"
DETAILS_LIMIT = 6000


def plan_path(results: Path) -> Path:
    return Path(results).with_name("plan.json")


def progress_path(results: Path) -> Path:
    return Path(results).with_name("progress.jsonl")


def read_plan(results: Path) -> list[dict]:
    try:
        return json.loads(plan_path(results).read_text())
    except (OSError, ValueError):
        return []


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
    return first[:1000]  # the board and log prefix alone can take 200 characters


def _details(report) -> str:
    if report.passed or report.skipped:
        return ""
    text = str(report.longreprtext or "")
    for name, content in report.sections:
        if content.strip() and not name.startswith("Captured log"):
            text += f"\n--- {name} ---\n{content}"
    return text[-DETAILS_LIMIT:]


def outcome_of(report) -> Outcome | None:
    """The record of one test phase, or None for a setup/teardown that went fine."""
    if report.when != "call" and report.outcome == "passed":
        return None
    props = dict(report.user_properties)
    return Outcome(nodeid=report.nodeid, board=_board_of(report), clauses=props.get("clauses", "").split(),
                   outcome=report.outcome, when=report.when, message=_message(report),
                   duration=round(getattr(report, "duration", 0.0), 4),
                   properties={k: str(v) for k, v in props.items() if k != "clauses"},
                   details=_details(report))


def pytest_configure(config):
    path = os.environ.get(RESULTS_ENV)
    if path:
        config.pluginmanager.register(_Hooks(Path(path), controller=not hasattr(config, "workerinput")),
                                      "honch-hil-collector")


class _Hooks:
    def __init__(self, results: Path, controller: bool):
        self.results = results
        self.controller = controller

    def pytest_collection_finish(self, session):
        if not session.items:
            return  # the xdist controller does not collect
        plan = []
        for item in session.items:
            props = dict(item.user_properties)
            plan.append({"nodeid": item.nodeid, "board": str(props.get("board") or "-"),
                         "clauses": props.get("clauses", "").split(), "test_id": props.get("test_id", item.nodeid)})
        target = plan_path(self.results)
        tmp = target.with_name(f".plan-{os.getpid()}.json")
        tmp.write_text(json.dumps(plan))
        os.replace(tmp, target)  # every worker writes the same plan; the last one stays

    def pytest_runtest_logstart(self, nodeid, location):
        if self.controller:
            with progress_path(self.results).open("a") as f:
                f.write(json.dumps({"start": nodeid, "t": time.time()}) + "\n")

    def pytest_runtest_logreport(self, report):
        if self.controller:
            record = outcome_of(report)
            if record is not None:
                append_record(self.results, record)

    def pytest_report_teststatus(self, report, config):
        """No per-test dots: ``honch-hil run`` shows progress per board."""
        if report.outcome not in ("passed", "failed", "skipped"):
            return None  # e.g. pytest-rerunfailures' "rerun" keeps its own status
        if report.when == "call" or report.outcome != "passed":
            word = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED"}[report.outcome]
            if report.when != "call" and report.outcome == "failed":
                return "error", "", "ERROR"
            return report.outcome, "", word
        return "", "", ""
