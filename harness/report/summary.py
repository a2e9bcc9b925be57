"""A run's summary (``summary.json``): the matrix with every cell's state, per-board
totals, the run's settings, lost boards, the diff against a baseline, the command
that reruns each failing cell, and the run's result and exit status."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path

from harness import protocol
from harness.protocol import CLAUSES
from harness.report.results import (FAILING, Outcome, board_tallies, boards_of, build_matrix,
                                    clause_tallies, diff_against, unclaused_problems)
from harness.runner import exitcodes


def extension_capability(clause: str) -> str | None:
    """The capability an extension clause needs (None for clauses every port must meet)."""
    return getattr(protocol, "CLAUSE_CAPABILITY", {}).get(clause)


def rerun_command(meta: dict, board: str, test_ids: list[str]) -> str:
    """``honch-hil run`` of exactly these tests on this board, with the run's seed and soak."""
    args = ["honch-hil", "run", *meta.get("board_args", {}).get(board, ["--board", board])]
    for tid in test_ids:
        args += ["--test", tid]
    if meta.get("seed") is not None:
        args += ["--seed", str(meta["seed"])]
    soak = (meta.get("selection") or {}).get("soak", 1)
    if soak != 1:
        args += ["--soak", str(soak)]
    return shlex.join(args)


def _board_versions(records: list[Outcome]) -> dict[str, str]:
    versions = {}
    for r in records:
        if r.properties.get("firmware_version") and r.board not in versions:
            versions[r.board] = r.properties["firmware_version"]
    return versions


def _lost_boards(records: list[Outcome]) -> dict[str, dict]:
    lost = {}
    for r in records:
        if r.properties.get("board_lost") and r.board not in lost:
            lost[r.board] = {"reason": r.properties["board_lost"], "test": r.nodeid,
                             "log": r.properties.get("board_log", "")}
    return lost


def summarize(records: list[Outcome], meta: dict, baseline: dict | None = None) -> dict:
    """``meta``: started, duration_s, boards, board_kinds, board_args, selection, seed,
    interrupted, deviations (board -> clause -> reason), pytest_exit_status."""
    matrix = build_matrix(records, meta.get("deviations"))
    boards = meta.get("boards") or boards_of(records)
    clauses = {}
    for clause, cells in matrix.items():
        entry = clauses[clause] = {"area": CLAUSES[clause][0], "title": CLAUSES[clause][1],
                                   "extension": extension_capability(clause), "boards": {}}
        for board, cell in cells.items():
            raw = asdict(cell)
            if baseline is not None:
                raw["diff"] = diff_against(baseline.get("clauses", {}).get(clause, {}).get("boards", {}).get(board),
                                           raw)
            if cell.verdict in ("fail", "flaky", "unexpected_pass", "error"):
                raw["rerun"] = rerun_command(meta, board, cell.problem_ids or cell.test_ids)
            entry["boards"][board] = raw
    summary = {
        **{k: v for k, v in meta.items() if k != "deviations"},
        "deviations": meta.get("deviations") or {},
        "boards": boards,
        "board_versions": _board_versions(records),
        "boards_lost": _lost_boards(records),
        "tallies": board_tallies(records),
        "clause_tallies": clause_tallies(matrix, boards),
        "clauses": clauses,
        "unclaused_problems": unclaused_problems(records),
    }
    if baseline is not None:
        summary["baseline"] = baseline_changes(summary, meta.get("baseline_dir", ""))
    summary["exit_status"] = status_of(summary)
    summary["result"] = exitcodes.RESULT_WORD[summary["exit_status"]]
    summary["passed"] = summary["exit_status"] == exitcodes.CONFORMANT
    return summary


def baseline_changes(summary: dict, where: str) -> dict:
    changes = {"dir": str(where), "new failure": [], "fixed": [], "still failing": []}
    for clause, info in summary["clauses"].items():
        for board, cell in info["boards"].items():
            if cell.get("diff") in changes:
                changes[cell["diff"]].append(f"{clause} on {board}")
    return changes


def status_of(summary: dict) -> int:
    """The run's exit status (``harness.runner.exitcodes``) from its summary."""
    if summary.get("interrupted"):
        return exitcodes.INTERRUPTED
    if summary.get("pytest_exit_status") in (4, 5):  # pytest's usage error, no tests collected
        return exitcodes.USAGE_ERROR
    if (summary.get("baseline") or {}).get("new failure"):
        return exitcodes.REGRESSION
    cells = [c for info in summary["clauses"].values() for c in info["boards"].values()]
    problems = summary["unclaused_problems"]
    if any(c["verdict"] in FAILING for c in cells) or any(p["state"] == "fail" for p in problems):
        return exitcodes.NON_CONFORMANT
    ran = any(sum(t.values()) for t in summary["tallies"].values())
    if (any(c["verdict"] in ("error", "not_run") for c in cells) or problems or not ran
            or summary.get("pytest_exit_status") not in (0, 1, None)):
        return exitcodes.INFRASTRUCTURE_ERROR
    return exitcodes.CONFORMANT


def read_summary(report_dir: Path) -> dict:
    """A previous report's summary, for ``--baseline`` and ``--rerun-failed``."""
    path = Path(report_dir) / "summary.json"
    try:
        return json.loads(path.read_text())
    except OSError:
        raise ValueError(f"{report_dir}: not a honch-hil report directory (no summary.json)") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
